"""Issue #18 in Chromium: a learner makes an API token on their account page, the installed ``quantprep``
command uses it against the live server, the learner revokes it and the command is refused; and a missing
page is the site's 404. Screenshots of the account page and the 404 page at 1280 and 390 px go to
tests/artifacts/account-*.png and not-found-*.png."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from labs.models import Lab
from tests.conftest import ROOT
from tests.e2e.browser import ARTIFACTS, chromium_page, log_in
from tests.factories import user_make

QUANTPREP = Path(sys.executable).parent / "quantprep"
WIDTHS = {"1280": 1280, "390": 390}


def shots(page, name: str) -> None:
    for label, width in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(ARTIFACTS / f"{name}-{label}.png"), full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth") <= width + 1, f"{name} is wider than {width} px"
    page.set_viewport_size({"width": 1280, "height": 900})


def quantprep(base: str, token: str, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUANTPREP_")}
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")  # no token file but the one on the command line
    return subprocess.run([str(QUANTPREP), "labs", "--url", base, "--token", token], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.django_db(transaction=True)
@pytest.mark.browser
@pytest.mark.slow
def test_a_learner_makes_a_token_uses_it_with_the_cli_and_revokes_it(web_server, monkeypatch, tmp_path):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "1")
    assert QUANTPREP.exists(), "pip install -e . puts the quantprep script next to the interpreter"
    user_make("lea")
    Lab.objects.create(slug="fp8-e4m3", title="FP8 E4M3 encoder and decoder", summary="Bit-exact.", statement="s",
                       starter="x")
    with chromium_page() as (page, errors):
        page.set_viewport_size({"width": 1280, "height": 900})
        log_in(page, web_server, "lea")
        page.click("header a.account-link")  # the user name in the top bar
        page.wait_for_url(web_server + "/account/")
        assert page.locator("#token-list").inner_text().count("no API tokens yet") == 1

        page.fill("#id_days", "7")
        page.click("#token-form button[type=submit]")
        page.wait_for_selector("#token-created")
        token = page.input_value("#token-value")
        assert token.startswith("qp_") and len(token) == 46
        assert f"export QUANTPREP_TOKEN={token}" in page.inner_text("#token-env")
        assert "~/.config/quantprep/token" in page.inner_text("#token-file")
        row = page.locator(f"tr[data-prefix='{token[:11]}']")
        assert row.locator("td.state").inner_text() == "live"
        shots(page, "account")

        used = quantprep(web_server, token, tmp_path)
        assert used.returncode == 0, used.stderr
        assert "fp8-e4m3" in used.stdout and "FP8 E4M3 encoder and decoder" in used.stdout

        page.goto(web_server + "/account/")  # shown once: gone on the next visit, listed by its prefix only
        assert page.locator("#token-value").count() == 0 and token not in page.content()
        row = page.locator(f"tr[data-prefix='{token[:11]}']")
        assert row.locator("td.state").inner_text() == "live"
        assert "never" not in row.inner_text()  # the CLI's use is recorded
        row.locator("button", has_text="Revoke").click()
        page.wait_for_selector("p.message")
        assert f"Revoked the token {token[:11]}" in page.inner_text("p.message")
        assert page.locator(f"tr[data-prefix='{token[:11]}'] td.state").inner_text().startswith("revoked")

        refused = quantprep(web_server, token, tmp_path)
        assert refused.returncode == 1 and "refused the token" in refused.stderr
        assert "account page" in refused.stderr and "Traceback" not in refused.stderr

        assert page.request.get(web_server + "/static/favicon.svg").status == 200
        assert page.locator("link[rel=icon]").get_attribute("href") == "/static/favicon.svg"

        missing = page.goto(web_server + "/no-such-page/")
        assert missing.status == 404
        assert page.inner_text("h1") == "Page not found"
        assert page.locator("main a", has_text="Go to the home page").count() == 1
        shots(page, "not-found")
        expected = f"404 {web_server}/no-such-page/"
        assert errors.count(expected) == 1
        errors.remove(expected)
        assert errors == []  # no policy violation, no page error, no other failed request
