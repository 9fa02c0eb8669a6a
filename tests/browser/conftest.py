"""A real browser against a real server: Debian's headless chromium driven by Selenium 4 through
Debian's chromedriver (``KIMIA_CHROMIUM``, ``KIMIA_CHROMEDRIVER``; scripts/test.sh installs both
with scripts/browser.sh and exports them), so Selenium Manager never downloads anything.

In CI (``CI`` set) a missing browser fails the tests with a message saying how to install it;
elsewhere they are skipped with the reason.

:class:`Browser` wraps the driver: every request the page makes is recorded from Chrome's
performance log (``Network.requestWillBeSent``) and :meth:`Browser.outside` lists those that left
127.0.0.1; :meth:`Browser.shot` writes a screenshot to the journey's folder (``KIMIA_SCREENSHOTS``
or ``.kimia/screenshots/journey/``), listed at the end of the run.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: Addresses a page may load from: the server under test, and nothing that travels.
LOCAL_HOSTS = frozenset({"127.0.0.1"})
LOCAL_SCHEMES = frozenset({"data", "about", "blob", "chrome-error"})
#: A page taller than this is photographed down to here (the rules builder is very tall).
MAX_SHOT_HEIGHT = 5000
#: The window's width (--window-size).
WIDTH = 1280
#: Screenshots written this run (listed in the terminal summary).
WRITTEN: list[Path] = []


def browser_paths() -> tuple[str, str]:
    """The chromium and chromedriver to drive, or skip (fail in CI) saying why not."""
    chromium = os.environ.get("KIMIA_CHROMIUM", "/usr/bin/chromium")
    driver = os.environ.get("KIMIA_CHROMEDRIVER", "/usr/bin/chromedriver")
    missing = [p for p in (chromium, driver) if not (os.path.isfile(p) and os.access(p, os.X_OK))]
    if missing:
        why = (f"no browser to drive: {', '.join(missing)} missing; run scripts/browser.sh (installs Debian's chromium"
               " and chromium-driver) or set KIMIA_CHROMIUM / KIMIA_CHROMEDRIVER")
        if os.environ.get("CI"):
            pytest.fail(why, pytrace=False)
        pytest.skip(why)
    return chromium, driver


def screenshot_dir() -> Path:
    folder = Path(os.environ.get("KIMIA_SCREENSHOTS") or ROOT / ".kimia" / "screenshots" / "journey")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@dataclass
class Browser:
    driver: Any
    folder: Path
    base: str
    requests: list[str] = field(default_factory=list)
    #: Pages wider than the window (a horizontal scroll bar: something overflows).
    wide: list[str] = field(default_factory=list)

    def go(self, path: str) -> None:
        self.driver.get(self.base + path)

    def record(self) -> list[str]:
        """Read the requests the browser made since the last call into ``requests``."""
        fresh = []
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            if message.get("method") == "Network.requestWillBeSent":
                fresh.append(message["params"]["request"]["url"])
        self.requests.extend(fresh)
        return fresh

    def outside(self) -> list[str]:
        """Every recorded request that left this machine's server."""
        self.record()
        return [u for u in self.requests if urlsplit(u).scheme not in LOCAL_SCHEMES and urlsplit(u).hostname not in LOCAL_HOSTS]

    def shot(self, name: str, css: str | None = None) -> Path:
        """A screenshot: the whole page (up to MAX_SHOT_HEIGHT px tall), or only the element ``css`` names."""
        path = self.folder / f"{name}.png"
        # the page drawn as a person sees it: loaded, its fonts in, two frames painted
        self.driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "document.fonts.ready.then(() => requestAnimationFrame(() => requestAnimationFrame(() => done(true))));")
        window = int(self.driver.execute_script("return document.documentElement.clientWidth"))
        size = self.driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
        if size["width"] > window + 1:
            self.wide.append(f"{name}: {int(size['width'])} px wide in a {window} px window")
        # the window made as tall as the page for the picture (a section below the fold is whole)
        height = int(min(max(size["height"], 1), MAX_SHOT_HEIGHT))
        self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                                    {"width": WIDTH, "height": height, "deviceScaleFactor": 1, "mobile": False})
        try:
            if css is not None:
                from selenium.webdriver.common.by import By

                self.driver.find_element(By.CSS_SELECTOR, css).screenshot(str(path))
            else:
                shot = self.driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png"})
                path.write_bytes(base64.b64decode(shot["data"]))
        finally:
            self.driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
        WRITTEN.append(path)
        return path


def open_browser(base: str) -> Browser:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, chromedriver = browser_paths()
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,900", "--lang=fa",
                "--disable-dev-shm-usage", "--no-first-run", "--disable-background-networking", "--disable-component-update",
                "--disable-default-apps", "--disable-sync", "--disable-extensions", "--disable-features=Translate,MediaRouter",
                "--force-device-scale-factor=1"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    service = Service(executable_path=chromedriver, log_output=os.devnull)
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(30)
    folder = screenshot_dir()
    return Browser(driver, folder, base)


@pytest.fixture
def browser_factory() -> Iterator[Any]:
    """``open(base_url)`` → a :class:`Browser`; each is quit at the end of the test. Asks for the
    browser first (skip, or fail in CI, before any server is started)."""
    browser_paths()
    opened: list[Browser] = []

    def make(base: str) -> Browser:
        b = open_browser(base)
        opened.append(b)
        return b

    yield make
    for b in opened:
        b.driver.quit()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if WRITTEN:
        folder = WRITTEN[0].parent
        terminalreporter.write_line(f"browser journey screenshots ({len(WRITTEN)}) in {folder}:")
        for path in WRITTEN:
            terminalreporter.write_line(f"  {path.name}")


def clear_folder(folder: Path) -> None:
    """Last run's screenshots out of the way (only the PNGs this suite writes there)."""
    for old in folder.glob("*.png"):
        old.unlink()
