"""Problem reports in a real browser (the acceptance of issue #19, item 4): a learner reports a problem from a
question page; an instructor opens the queue from the header, answers, then marks it fixed with a commit; the
learner reads the answer and the fix on My reports and on the question page. No CSP violation, no error
response. Screenshots at 1280 and 390 px go to tests/artifacts/reports-*.png."""

import re

import pytest

from reports.models import ProblemReport
from tests.e2e.browser import ARTIFACTS, chromium_page, log_in
from tests.factories import instructor_make, question_make, user_make

WIDTHS = {"wide": 1280, "narrow": 390}


def shots(page, name: str) -> None:
    """The page at both widths, then back to the wide one."""
    for label, width in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(ARTIFACTS / f"reports-{name}-{label}.png"), full_page=True)
        if label == "narrow":  # nothing wider than the screen at 390 px
            assert page.evaluate("document.documentElement.scrollWidth") <= width + 1, name
    page.set_viewport_size({"width": WIDTHS["wide"], "height": 900})


def log_out(page) -> None:
    page.click("header button:has-text('Log out')")
    page.wait_for_url(re.compile(r".*/login/$"))


@pytest.mark.django_db(transaction=True)
@pytest.mark.browser
@pytest.mark.slow
def test_a_learner_reports_an_instructor_answers_and_fixes_the_learner_reads_it(web_server, monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "1")
    question = question_make()
    user_make("lena")
    instructor_make("tess")
    text = "Part a: the hint's formula gives bytes, but the answer asks for KB <b>without</b> saying 1000 or 1024."

    with chromium_page() as (page, errors):
        page.set_viewport_size({"width": WIDTHS["wide"], "height": 900})
        # --- the learner reports from the question page
        log_in(page, web_server, "lena")
        assert page.locator("header a:has-text('Reports')").count() == 0  # the queue is not for learners
        page.goto(web_server + f"/questions/{question.slug}/")
        page.click("#report-problem")
        page.wait_for_url(re.compile(rf".*/reports/new/question/{question.slug}/$"))
        page.select_option("#id_part", label="Part 1")  # part a, the first
        page.fill("#id_text", text)
        shots(page, "form")
        page.click("#report-form button[type=submit]")
        page.wait_for_url(re.compile(r".*/reports/\d+/$"))
        assert "your report was sent" in page.inner_text("main p.message")
        report = ProblemReport.objects.get()
        assert page.inner_text(f"#report-{report.id} .report-status") == "open"
        assert text in page.inner_text(f"#report-{report.id} .report-text")  # as typed: the <b> is text
        log_out(page)

        # --- the instructor answers from the queue, then marks it fixed with a commit
        log_in(page, web_server, "tess")
        page.click("header a:has-text('Reports')")
        page.wait_for_url(re.compile(r".*/reports/queue/$"))
        item = page.locator(f"#report-{report.id}")
        assert "lena" in item.inner_text() and text in item.inner_text()
        assert "the part reported" in item.inner_text()  # part a, highlighted
        page.wait_for_selector(f"#report-{report.id} .katex")  # the question as its page renders it
        shots(page, "queue")
        page.fill(f"#answer-{report.id}", "Right: KB here means 1000 bytes. The prompt will say so.")
        item.locator("button[value=answer]").click()
        page.wait_for_url(re.compile(rf".*/reports/queue/#report-{report.id}$"))
        assert f"Report #{report.id}" in page.inner_text("main p.message")
        assert page.inner_text(f"#report-{report.id} .report-status") == "answered"
        page.fill(f"#fixed-in-{report.id}", "abc1234")
        page.locator(f"#report-{report.id} button[value=fixed]").click()
        page.wait_for_url(re.compile(rf".*/reports/queue/#report-{report.id}$"))
        assert page.inner_text(f"#report-{report.id} .report-status") == "fixed"
        assert "Fixed in commit abc1234" in page.inner_text(f"#report-{report.id} .fixed-in")
        shots(page, "queue-fixed")
        log_out(page)

        # --- the learner reads it on My reports and on the question page
        log_in(page, web_server, "lena")
        page.click("#my-reports-link")
        page.wait_for_url(re.compile(r".*/reports/$"))
        mine = page.locator(f"#my-reports #report-{report.id}")
        assert "KB here means 1000 bytes" in mine.inner_text()
        assert "Fixed in commit abc1234" in mine.inner_text()
        assert mine.locator(".report-status").inner_text() == "fixed"
        shots(page, "mine")
        page.goto(web_server + f"/questions/{question.slug}/")
        here = page.locator(f"#problem-reports #report-{report.id}")
        assert "KB here means 1000 bytes" in here.inner_text() and "abc1234" in here.inner_text()
        assert errors == []

    report.refresh_from_db()
    assert (report.status, report.fixed_in, report.answered_by.username) == ("fixed", "abc1234", "tess")
