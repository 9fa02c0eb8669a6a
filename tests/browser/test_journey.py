"""The panel in a real browser (issue 16): gunicorn on a free port over an SQLite database with a
club (tests/service/builders.py ``build_club``), driven by headless chromium like a person would.

A club admin signs in (Persian) → the rules builder: a points rule built with the form, dry-run,
backtested, published → a purchase arrives through the JSON API with an integration key → the
member's page shows the new balance and the Persian explanation → the admin switches to
English (the header's link): the page is English, left to right → signs out → a merchant's staff
member signs in and sees their own merchant only → the member signs in to the portal with a one-time
code (read from the notifier's file) and sees the same balance.

Every step with a page is photographed in both languages (``KIMIA_SCREENSHOTS`` or
``.kimia/screenshots/journey/``; the folder and files are listed at the end of the run), and every
request the browser made must have stayed on 127.0.0.1.
"""

from __future__ import annotations

import json
import re
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
from kimia.web.panel import fmt
from kimia.world.people import mobile

from web.live import LiveWorld, Server, call, prepare, purchase_body
from .conftest import Browser, clear_folder, screenshot_dir

pytestmark = pytest.mark.browser

PASSWORD = "journey password 1405"
PERSIAN_DIGITS = set("۰۱۲۳۴۵۶۷۸۹")
JOURNEY_RULE_FA = "امتیاز سفر آزمایشی"


@dataclass
class Journey:
    world: LiveWorld
    server: Server
    admin: str
    merchant_staff: str
    merchant_fa: str
    other_merchant_fa: str
    messages: Path

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
    messages = tmp_path / "messages.jsonl"  # the portal's one-time codes (as scripts/run.sh serves the demo)
    server = Server(url, tmp_path / "gunicorn.log", env={"KIMIA_WEB_SECURE_COOKIES": "0", "KIMIA_NOTIFY": f"file:{messages}"})
    with server:
        # Purchases of the last days (the backtest replays them), through the JSON API.
        for i, amount in enumerate((1_200_000, 3_400_000, 800_000, 5_600_000)):
            status, answer = call(server.port, "POST", "/api/v1/purchases", key=world.key, idem=f"journey-history-{i}",
                                  body=purchase_body(world, world.members[1 + i % 2], amount))
            assert status in (200, 201), answer
        yield Journey(world, server, admin.login, cashier.login, names[world.merchant_id], others[0], messages)


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


def press(b: Browser, css: str, *, confirm: bool = False) -> None:
    """Press a form's button (scrolled into view) and wait for the next page."""
    button = b.driver.find_element(By.CSS_SELECTOR, css)
    b.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", button)
    old = b.driver.find_element(By.TAG_NAME, "html")
    button.click()
    if confirm:  # kimia.js asks "are you sure?" for a form with data-confirm
        WebDriverWait(b.driver, 10).until(EC.alert_is_present()).accept()
    WebDriverWait(b.driver, 30).until(EC.staleness_of(old))


def fill(b: Browser, name: str, value: str) -> None:
    field = b.driver.find_element(By.NAME, name)
    b.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", field)
    field.clear()
    field.send_keys(value)


def choose(b: Browser, name: str, value: str) -> None:
    from selenium.webdriver.support.ui import Select

    Select(b.driver.find_element(By.NAME, name)).select_by_value(value)


def dry_run_and_backtest(b: Browser, lang: str) -> None:
    """The builder's dry run of a 2,500,000-rial purchase and its backtest, photographed."""
    fill(b, "dry_amount", "2500000")
    press(b, "#rules-dry-run")
    wait_for(b, "#dry-result")
    result = b.driver.find_element(By.ID, "dry-result").text
    explanation = b.driver.find_element(By.ID, "dry-explanation").text
    # 3 points for each 5,000 rials of 2,500,000: 1,500 points
    assert "journey-points" in result, result
    assert ("۱٬۵۰۰ امتیاز" if lang == "fa" else "1,500 points") in explanation, explanation
    page_is(b, lang)
    b.shot(f"04-rules-dry-run-{lang}", "#dry")
    press(b, "#rules-backtest")
    wait_for(b, "#backtest-result")
    assert b.driver.find_elements(By.CSS_SELECTOR, "#backtest-chart svg")
    table = b.driver.find_element(By.CSS_SELECTOR, "#backtest-result table").text
    assert ("۴" if lang == "fa" else "4") in table, table  # the four purchases of the last days
    page_is(b, lang)
    b.shot(f"05-rules-backtest-{lang}", "#backtest")


def build_and_publish_a_rule(b: Browser) -> None:
    """The rules builder: a points rule added with the form, dry-run, backtested, published."""
    b.go("/panel/rules/edit")
    wait_for(b, "#add-rule")
    count = len(b.driver.find_elements(By.CSS_SELECTOR, "input[name$='.id'][name^='rules.']"))
    press(b, "#add-rule")
    rule = f"rules.{count}"
    fill(b, f"{rule}.id", "journey-points")
    fill(b, f"{rule}.name.fa", JOURNEY_RULE_FA)
    fill(b, f"{rule}.name.en", "Journey points")
    fill(b, f"{rule}.priority", "5")
    if not b.driver.find_elements(By.NAME, f"{rule}.effects.0.type"):
        choose(b, f"new.{rule}.effects", "points")
        press(b, f"button[value='add:{rule}.effects']")
    choose(b, f"{rule}.effects.0.type", "points")
    fill(b, f"{rule}.effects.0.per_rial", "5000")
    fill(b, f"{rule}.effects.0.points", "3")
    press(b, "#rules-validate")
    assert b.driver.find_elements(By.ID, "rules-valid"), b.driver.find_element(By.TAG_NAME, "main").text[:3000]
    draft = json.loads(b.driver.find_element(By.ID, "rules-json").get_attribute("value"))
    ours = [r for r in draft["rules"] if r.get("id") == "journey-points"]
    assert ours and ours[0]["effects"][0] == {"type": "points", "per_rial": 5000, "points": 3} | ours[0]["effects"][0], draft
    # The draft lives in the form until it is published: the language switch (a GET) would drop
    # it, so the builder's steps are photographed in Persian here and in English once published.
    page_is(b, "fa")
    b.shot("03-rules-builder-fa")
    dry_run_and_backtest(b, "fa")

    fill(b, "pub_reason", "سفر آزمایشی مرورگر")
    press(b, "#rules-publish", confirm=True)
    assert "/panel/rules" in b.driver.current_url and "notice=rules.published" in b.driver.current_url, b.driver.current_url
    assert "journey-points" in page_is(b, "fa")
    both_languages(b, "06-rules-published")

    b.go("/panel/rules/edit?lang=en")  # the published rule set, in English
    wait_for(b, "#rules-dry-run")
    page_is(b, "en")
    b.shot("03-rules-builder-en")
    dry_run_and_backtest(b, "en")
    b.go("/panel/?lang=fa")


def member_page_shows_the_purchase(b: Browser, journey: Journey, member: int) -> None:
    """The member's page: the balance the API reports, and the purchase explained in Persian."""
    status, balances = call(journey.server.port, "GET", f"/api/v1/members/{member}/balances", key=journey.world.key)
    assert status == 200, balances
    b.go(f"/panel/members/{member}")
    wait_for(b, "main h1")
    text = page_is(b, "fa")
    assert fmt.number(int(balances["points"]), "fa") in text, (balances, text[:2000])
    assert JOURNEY_RULE_FA in text, text[:3000]  # the purchase's Persian explanation names the new rule
    fa, en = both_languages(b, "07-member")
    assert "Journey points" in en


def member_signs_in_to_the_portal(b: Browser, journey: Journey, member: int) -> None:
    """The member portal: the mobile, the code from the notifier's file, the member's home."""
    b.go(f"/portal/login?club={journey.world.club_id}&lang=fa")
    wait_for(b, "input[name=mobile]")
    b.driver.find_element(By.NAME, "mobile").send_keys(mobile(3_000_000))  # the first member's (tests/web/live.py)
    press(b, "form button[type=submit]")
    wait_for(b, "input[name=code]")
    deadline = time.monotonic() + 10
    while not journey.messages.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    last = json.loads(journey.messages.read_text(encoding="utf-8").splitlines()[-1])
    code = re.search(r"\b(\d{6})\b", last["text_en"])
    assert code, last
    b.driver.find_element(By.NAME, "code").send_keys(code.group(1))
    press(b, "form button[type=submit]")
    assert "/portal/login" not in b.driver.current_url, page_is(b, "fa")[:1000]
    status, balances = call(journey.server.port, "GET", f"/api/v1/members/{member}/balances", key=journey.world.key)
    assert status == 200, balances
    fa, en = both_languages(b, "12-portal-home")
    assert fmt.number(int(balances["points"]), "fa") in fa, fa[:2000]
    assert f"{int(balances['points']):,}" in en, en[:2000]


def record_an_expense(b: Browser) -> None:
    from selenium.webdriver.support.ui import Select

    b.go("/panel/cash")
    wait_for(b, "form#record")
    fill(b, "amount_rial", "۲٬۵۰۰٬۰۰۰")
    category = Select(b.driver.find_element(By.NAME, "category_expense"))
    category.select_by_index(1)
    fill(b, "note", "اجارهٔ آذر")
    press(b, "form#record button[type=submit]")
    fa = page_is(b, "fa")
    assert "اجارهٔ آذر" in fa and "۲٬۵۰۰٬۰۰۰" in fa, fa[:2000]
    both_languages(b, "11-merchant-cash-book")


def test_the_panel_journey_in_a_real_browser(browser_factory: object, journey: Journey) -> None:
    folder = screenshot_dir()
    clear_folder(folder)
    b: Browser = browser_factory(journey.base)  # type: ignore[operator]

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

    # 2. The rules builder: a points rule built with the form, dry-run, backtested, published.
    build_and_publish_a_rule(b)

    # 3. A purchase arrives through the JSON API (an integration key).
    member = journey.world.members[0]
    status, receipt = call(journey.server.port, "POST", "/api/v1/purchases", key=journey.world.key,
                           body=purchase_body(journey.world, member, 2_500_000), idem="journey-purchase-1")
    assert status in (200, 201), receipt
    assert "journey-points" in receipt["applied_rules"], receipt

    # 4. The member's page: the new balance and the Persian explanation.
    member_page_shows_the_purchase(b, journey, member)

    # 5. English for good: the header's switch is remembered from page to page.
    b.go("/panel/")
    switch_language(b, "en")
    b.go("/panel/")
    page_is(b, "en")
    b.shot("08-admin-english-kept")
    switch_language(b, "fa")

    # 6. Sign out: back to the sign-in page with the notice.
    sign_out(b)
    assert "از پنل خارج شدید" in page_is(b, "fa")
    b.shot("09-signed-out-fa")

    # 7. The merchant's staff member sees their own merchant, not another.
    sign_in(b, journey.merchant_staff)
    fa, en = both_languages(b, "10-merchant-home")
    assert journey.other_merchant_fa not in fa
    assert journey.merchant_fa in fa, fa[:2000]
    # 7b. An extra, a plugin's page: the cashier records the day's expense in the cash book, in Persian
    # digits as a shopkeeper would type them, and sees it in the day's totals.
    record_an_expense(b)
    # 8. The member signs in to the portal with a one-time code and sees the same balance.
    member_signs_in_to_the_portal(b, journey, member)


    assert not b.wide, f"pages wider than the window (something overflows): {b.wide}"
    outside = b.outside()
    assert not outside, f"the browser made requests off 127.0.0.1: {outside}"
    assert any("/static/kimia.css" in u for u in b.requests), b.requests  # the recording works
