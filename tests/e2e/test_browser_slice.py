"""The thin slice in a real browser: a student answers a question (LaTeX rendered by local KaTeX) and
submits a lab whose verdict appears on the page; the instructor finds the accepted lab on the cohort's
page."""

import pytest

from cohorts.models import Enrolment
from cohorts.services import cohort_create
from content.labs import labs_root
from content.load import labs_sync
from tests.e2e.browser import chromium_page, log_in, shot
from tests.e2e.test_submission_flow import CORRECT
from tests.factories import instructor_make, question_make, user_make


@pytest.mark.django_db(transaction=True)
@pytest.mark.browser
@pytest.mark.redis
@pytest.mark.slow
def test_student_answers_and_submits_and_the_instructor_sees_it(celery_worker_process, web_server):
    labs_sync(root=labs_root())
    question_make()
    student = user_make("stella")
    cohort = cohort_create(name="Evening cohort", instructor=instructor_make("ivan"))
    Enrolment.objects.create(cohort=cohort, student=student)

    with chromium_page() as (page, errors):
        log_in(page, web_server, "stella")
        page.goto(web_server + "/questions/kv-cache-7b/")
        page.wait_for_selector(".card .katex")  # KaTeX, served from /static/vendor, rendered the LaTeX
        page.fill("#answer-a", "524.288 KB")
        page.press("#answer-a", "Enter")
        page.wait_for_selector("#verdict-a .verdict.correct")
        page.wait_for_selector("#verdict-a .katex")  # "we read your answer as", rendered
        shot(page, "slice-question")

        page.goto(web_server + "/labs/fp8-e4m3/")
        page.wait_for_selector(".cm-editor")  # CodeMirror took over the textarea
        page.evaluate("code => codeEditor.dispatch({changes: {from: 0, to: codeEditor.state.doc.length, insert: code}})",
                      CORRECT.read_text())
        assert page.input_value("#code") == CORRECT.read_text()  # the form posts what the editor shows
        page.click("#submit-form button[type=submit]")
        page.wait_for_url("**/labs/submissions/*/")
        page.wait_for_selector('[data-status="done"]', timeout=180_000)
        assert page.get_attribute("[data-verdict]", "data-verdict") == "accepted"
        shot(page, "slice-submission")

        page.click("button:has-text('Log out')")
        log_in(page, web_server, "ivan")
        page.goto(web_server + "/cohorts/")  # the cohorts ivan teaches, then the cohort's matrix
        page.click("#cohorts a:has-text('Evening cohort')")
        page.wait_for_url(f"{web_server}/cohorts/{cohort.id}/")
        headers = [h.strip() for h in page.locator("#matrix thead th").all_inner_texts()]
        cells = page.locator("#matrix tr[data-student=stella] > *").all_inner_texts()
        row = dict(zip(headers, (c.strip() for c in cells), strict=True))
        assert row["Labs accepted / tried"] == "1 / 1"  # the lab, accepted
        assert row["Last activity"] != "never"  # the answer and the submission count as activity
        shot(page, "slice-dashboard")
        assert errors == []
