"""Issue #18 item 4 in a browser: a learner submits a wrong fp8 encoder through the lab page, a real worker
grades it through Redis, and the page shows a progress bar while it is graded (never going back), then the
summary of the error classes (the one covering the most inputs first) and the case table with the failed
rows marked. Screenshots at 1280 and 390 px in tests/artifacts/."""

import time
from pathlib import Path

import pytest

from content.labs import labs_root
from content.load import labs_sync
from tests.e2e.browser import chromium_page, log_in, shot
from tests.factories import user_make

ROOT = Path(__file__).resolve().parents[2]
WRONG = ROOT / "fixtures/labs/fp8-e4m3/solutions/wrong/course_notes_encoder.py"


@pytest.mark.django_db(transaction=True)
@pytest.mark.browser
@pytest.mark.redis
@pytest.mark.slow
def test_a_wrong_submission_shows_the_bar_then_the_classes_and_the_marked_rows(celery_worker_process, web_server):
    labs_sync(root=labs_root())
    user_make("wren")
    with chromium_page() as (page, errors):
        page.set_viewport_size({"width": 1280, "height": 900})
        log_in(page, web_server, "wren")
        page.goto(web_server + "/labs/fp8-e4m3/")
        page.wait_for_selector(".cm-editor")
        page.evaluate("code => codeEditor.dispatch({changes: {from: 0, to: codeEditor.state.doc.length, insert: code}})",
                      WRONG.read_text())
        page.click("#submit-form button[type=submit]")
        page.wait_for_url("**/labs/submissions/*/")

        # while it is graded: a bar, its value never less than before, the stage in words
        seen, stages, shots, deadline = [], [], [], time.monotonic() + 180
        while page.locator('[data-status="done"]').count() == 0:
            assert time.monotonic() < deadline, f"no verdict; bar values seen {seen}"
            bar = page.locator("progress#grading-progress")
            if bar.count():
                try:
                    seen.append(int(bar.get_attribute("value", timeout=500)))
                    stages.append(page.inner_text("#grading-stage", timeout=500))
                except Exception:  # noqa: BLE001 - htmx swapped the card between the two reads
                    pass
                if len(seen) == 1:
                    shot(page, "feedback-queued-1280")
                if seen and seen[-1] >= 10 and not shots:  # in the sandbox: the timings or the tests
                    shot(page, "feedback-grading-1280")
                    shots.append(seen[-1])
            time.sleep(0.2)
        assert seen, "the progress bar never showed"
        assert seen == sorted(seen), seen
        assert not any(": preparing" in s for s in stages), stages

        assert page.get_attribute("[data-verdict]", "data-verdict") == "wrong_answer"
        page.wait_for_selector("#error-summary")
        classes = page.locator("details.error-class").evaluate_all("els => els.map(e => e.dataset.class)")
        assert classes[0] == "top binades (240 ≤ |x| ≤ 448)" and "NaN" in classes, classes
        first = page.locator("details.error-class").first
        assert "Example" in first.inner_text() and "Rule" in first.inner_text()
        failed = page.locator("tr.case.failed")
        assert failed.count() >= 5 and page.locator("tr.case.passed").count() >= 1
        for i in range(failed.count()):
            assert "✗" in failed.nth(i).inner_text() and "failed" in failed.nth(i).inner_text()
        assert "Speedup" not in page.inner_text("#submission-status")
        shot(page, "feedback-wrong-1280")

        page.set_viewport_size({"width": 390, "height": 844})
        page.wait_for_timeout(200)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390  # the table scrolls in its own box
        shot(page, "feedback-wrong-390")
        assert errors == []
