"""Debian's Chromium driven by playwright (never a downloaded browser); screenshots go to tests/artifacts/."""

from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import sync_playwright

from tests.factories import PASSWORD

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic"]


@contextmanager
def chromium_page():
    assert Path(CHROMIUM).exists(), "Debian's chromium is not installed (apt-get install -y chromium)"
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
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
            browser.close()


def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def log_in(page, base: str, username: str) -> None:
    page.goto(base + "/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(base + "/")
