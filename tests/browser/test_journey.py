"""The panel in a real browser (issue 16): gunicorn on a free port over an SQLite database with a
club (tests/service/builders.py ``build_club``), driven by headless chromium like a person would.

A club admin signs in (Persian) → [the rules builder: a rule built with the form, dry-run,
backtested, published] → a purchase arrives through the JSON API with an integration key →
[the member's page shows the new balance and the Persian explanation] → the admin switches to
English (the header's link): the page is English, left to right → signs out → a merchant's staff
member signs in and sees their own merchant only.

Every step with a page is photographed in both languages (``KIMIA_SCREENSHOTS`` or
``.kimia/screenshots/journey/``; the folder and files are listed at the end of the run), and every
request the browser made must have stayed on 127.0.0.1.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from kimia.app import assemble
from kimia.service import staff
from kimia.settings import Settings

from web.live import LiveWorld, Server, call, prepare, purchase_body
from .conftest import Browser, clear_folder, screenshot_dir

pytestmark = pytest.mark.browser

PASSWORD = "journey password 1405"
PERSIAN_DIGITS = set("۰۱۲۳۴۵۶۷۸۹")


@dataclass
class Journey:
    world: LiveWorld
    server: Server
    admin: str
    merchant_staff: str
    merchant_fa: str
    other_merchant_fa: str

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"


@pytest.fixture
def journey(tmp_path: Path) -> Iterator[Journey]:
    url = f"sqlite:///{tmp_path}/journey.db"
    world = prepare(url, members=3)
    with assemble(Settings.from_env(database_url=url)) as svc:
        admin = staff.create_user(svc, login="journey-admin", name="مدیر سفر", role="admin", password=PASSWORD,
                                  actor="test", club_id=world.club_id)
        cashier = staff.create_user(svc, login="journey-cafe", name="صندوق‌دار کافه", role="merchant", password=PASSWORD,
                                    actor="test", club_id=world.club_id, merchant_id=world.merchant_id)
        with svc.reading() as tx:
            names = dict(tx.all("SELECT id, name_fa FROM merchants WHERE club_id = ?", (world.club_id,)))
    others = [name for mid, name in names.items() if mid != world.merchant_id]
    server = Server(url, tmp_path / "gunicorn.log", env={"KIMIA_WEB_SECURE_COOKIES": "0"})
    with server:
        yield Journey(world, server, admin.login, cashier.login, names[world.merchant_id], others[0])


def wait_for(b: Browser, css: str, timeout_s: float = 15.0) -> None:
    WebDriverWait(b.driver, timeout_s).until(EC.presence_of_element_located((By.CSS_SELECTOR, css)))


def sign_in(b: Browser, login: str) -> None:
    b.go("/panel/login")
    wait_for(b, "input[name=login]")
    b.driver.find_element(By.NAME, "login").send_keys(login)
    b.driver.find_element(By.NAME, "password").send_keys(PASSWORD)
    b.driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    WebDriverWait(b.driver, 15).until(lambda d: "/panel/login" not in d.current_url)


def sign_out(b: Browser) -> None:
    b.driver.find_element(By.CSS_SELECTOR, "header form button[type=submit]").click()
    WebDriverWait(b.driver, 15).until(lambda d: "/panel/login" in d.current_url)


def switch_language(b: Browser, to: str) -> None:
    b.driver.find_element(By.CSS_SELECTOR, "a[data-switch=lang]").click()
    WebDriverWait(b.driver, 15).until(lambda d: d.find_element(By.TAG_NAME, "html").get_attribute("lang") == to)


def page_is(b: Browser, lang: str) -> str:
    """Check the page's language and direction; return its visible text."""
    html = b.driver.find_element(By.TAG_NAME, "html")
    assert html.get_attribute("lang") == lang
    assert html.get_attribute("dir") == ("rtl" if lang == "fa" else "ltr")
    direction = b.driver.execute_script("return getComputedStyle(document.body).direction")
    assert direction == ("rtl" if lang == "fa" else "ltr")
    text: str = b.driver.find_element(By.TAG_NAME, "body").text
    return text


def both_languages(b: Browser, name: str) -> tuple[str, str]:
    """Photograph this page in Persian and in English (with the header's switch), back to Persian."""
    fa = page_is(b, "fa")
    b.shot(f"{name}-fa")
    switch_language(b, "en")
    en = page_is(b, "en")
    b.shot(f"{name}-en")
    switch_language(b, "fa")
    return fa, en


def test_the_panel_journey_in_a_real_browser(journey: Journey, browser_factory: object) -> None:
    folder = screenshot_dir()
    clear_folder(folder)
    b: Browser = browser_factory(journey.base)  # type: ignore[operator]
    started = time.monotonic()

    # 1. The sign-in page, Persian by default; the admin signs in.
    b.go("/panel/login")
    wait_for(b, "input[name=login]")
    both_languages(b, "01-signin")
    sign_in(b, journey.admin)
    # Plain HTTP on loopback (KIMIA_WEB_SECURE_COOKIES=0, as scripts/run.sh serves the demo): the
    # session cookie is not Secure-only, HttpOnly and SameSite as ever.
    cookie = b.driver.get_cookie("kimia_panel")
    assert cookie and not cookie["secure"] and cookie["httpOnly"] and cookie["sameSite"] == "Lax", cookie
    fa, en = both_languages(b, "02-admin-home")
    assert "مدیر سفر" in fa

    # 2. A purchase arrives through the JSON API (an integration key).
    member = journey.world.members[0]
    status, receipt = call(journey.server.port, "POST", "/api/v1/purchases", key=journey.world.key,
                           body=purchase_body(journey.world, member, 2_500_000), idem="journey-purchase-1")
    assert status in (200, 201), receipt

    # 3. English for good: the switch is remembered from page to page.
    switch_language(b, "en")
    b.go("/panel/")
    page_is(b, "en")
    b.shot("03-admin-english-kept")
    switch_language(b, "fa")

    # 4. Sign out: back to the sign-in page with the notice.
    sign_out(b)
    assert "از پنل خارج شدید" in page_is(b, "fa")
    b.shot("04-signed-out-fa")

    # 5. The merchant's staff member sees their own merchant, not another.
    sign_in(b, journey.merchant_staff)
    fa, en = both_languages(b, "05-merchant-home")
    assert journey.other_merchant_fa not in fa

    outside = b.outside()
    assert not outside, f"the browser made requests off 127.0.0.1: {outside}"
    assert any("/static/kimia.css" in u for u in b.requests), b.requests  # the recording works
    assert time.monotonic() - started < 120
