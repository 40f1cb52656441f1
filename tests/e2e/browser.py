"""Debian's Chromium driven by playwright (never a downloaded browser); screenshots go to tests/artifacts/."""

import asyncio
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import sync_playwright

from tests.factories import PASSWORD

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic"]


_running: dict = {}  # this pytest process's playwright, its Chromium and its event loop, once a test has asked


def _browser():
    """One Chromium per pytest process, launched on first use: a launch costs about 2 CPU seconds, a new
    context 0.5, and a context shares nothing with another (cookies, storage, cache). A browser that died
    (a test may crash it) is launched again."""
    browser = _running.get("browser")
    if browser is None or not browser.is_connected():
        assert Path(CHROMIUM).exists(), "Debian's chromium is not installed (apt-get install -y chromium)"
        if "playwright" not in _running:
            _running["playwright"] = sync_playwright().start()
            _running["loop"] = asyncio.get_running_loop()
        browser = _running["browser"] = _running["playwright"].chromium.launch(executable_path=CHROMIUM, args=FLAGS)
    return browser


@contextmanager
def _playwright_loop():
    """Playwright's sync API marks its event loop as running in this thread between its calls, and Django
    then refuses every database call ("async context"). With one playwright for the whole process, the mark
    is set back for a test's browser calls and taken off after them, as ``with sync_playwright()`` did."""
    if "loop" in _running:
        asyncio._set_running_loop(_running["loop"])
    try:
        yield
    finally:
        asyncio._set_running_loop(None)


def close_browser() -> None:
    """At the end of the pytest session (tests/conftest.py)."""
    if "playwright" not in _running:
        return
    with _playwright_loop():
        browser = _running.pop("browser", None)
        if browser is not None and browser.is_connected():
            browser.close()
        _running.pop("playwright").stop()
    _running.clear()


@contextmanager
def chromium_page():
    """A page in a context of its own; every error the page shows is collected in ``errors``."""
    ARTIFACTS.mkdir(exist_ok=True)
    with _playwright_loop():
        context = _browser().new_context(viewport={"width": 1200, "height": 900})
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        # a script or style the Content-Security-Policy blocked, and any dialog (alert() is what an injected
        # script does first): both are failures of every browser test
        page.on("console", lambda m: "Content Security Policy" in m.text and errors.append(m.text))
        page.on("dialog", lambda d: (errors.append(f"dialog: {d.message}"), d.dismiss()))
        page.on("response", lambda r: r.status >= 400 and not r.url.endswith("favicon.ico")
                and errors.append(f"{r.status} {r.url}"))
        try:
            yield page, errors
        finally:
            context.close()


def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def log_in(page, base: str, username: str) -> None:
    page.goto(base + "/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(base + "/")
