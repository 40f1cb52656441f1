"""The instructor's workspace in a real browser, end to end: an instructor creates a cohort and a timed quiz
for it, a student registers with the invite code and takes the quiz, the instructor reads the matrix, the
gradebook and the attempt (read-only, with the keys), grants a second attempt and a 1.5x time multiplier
(the student's second attempt gets 1.5 x the limit), and downloads both CSV exports. Screenshots at 1280 px
wide go to tests/artifacts/instructor-*.png (docs/instructors.md uses copies of them)."""

import csv
import datetime as dt
import re
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from cohorts.models import AuditEntry, Cohort, Enrolment
from quizzes.models import Attempt, Part, Quiz
from tests.e2e.browser import ARTIFACTS, chromium_page, log_in
from tests.factories import PASSWORD, instructor_make

ROOT = Path(__file__).resolve().parents[2]
QUESTIONS = ["fp8-e4m3-vs-e5m2", "kv-cache-memory"]  # 4 parts each, 1 point a part: 8 points
LIMIT_MIN = 10
RESPONSE_HEADER = ["student", "quiz", "attempt", "attempt_number", "practice", "question", "part", "points",
                   "answer", "score", "misconception", "submitted_at"]


def shot(page, name: str, *, full_page: bool = True) -> None:
    """A 1280 px wide screenshot (the viewport is 1280 x 800); full_page=False for a long page."""
    page.screenshot(path=str(ARTIFACTS / f"instructor-{name}.png"), full_page=full_page)


def log_out(page) -> None:
    page.click("header button:has-text('Log out')")
    page.wait_for_url(re.compile(r".*/login/$"))


def part_id(question: str, key: str) -> int:
    return Part.objects.get(question__slug=question, key=key).id


def all_saved(page) -> None:
    page.wait_for_function("() => document.getElementById('save-status').textContent === 'All answers saved'")


def message(page) -> str:
    return page.inner_text("main p.message")


def download(page, link: str) -> list[list[str]]:
    with page.expect_download() as info:
        page.click(f"nav.subnav a:has-text('{link}')")
    path = info.value.path()
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


@pytest.mark.django_db(transaction=True)
@pytest.mark.browser
@pytest.mark.redis
@pytest.mark.slow
def test_instructor_workspace_from_a_new_cohort_to_the_csv_exports(web_server, monkeypatch):
    # playwright's sync API runs an event loop in this thread; the test's own ORM reads between page steps
    # are plain synchronous queries all the same
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "1")
    call_command("load_content", "--path", str(ROOT / "fixtures"), stdout=StringIO())
    instructor_make("iris")
    choice, e5m2, round_300 = (part_id("fp8-e4m3-vs-e5m2", k) for k in ("assignment", "e5m2-max", "round-300"))

    with chromium_page() as (page, errors):
        page.set_viewport_size({"width": 1280, "height": 800})
        log_in(page, web_server, "iris")

        # --- the instructor creates a cohort and reads its invite code on the roster
        page.click("header a:has-text('Cohorts')")
        page.wait_for_url(web_server + "/cohorts/")
        assert "You teach no cohort yet" in page.inner_text("#cohorts")
        page.click("a.button:has-text('New cohort')")
        page.wait_for_url(web_server + "/cohorts/new/")
        page.fill("#id_name", "Spring 2026 quantization")
        shot(page, "cohort-new")
        page.click("main button:has-text('Create the cohort')")
        page.wait_for_url(re.compile(r".*/cohorts/\d+/roster/$"))
        cohort = Cohort.objects.get(name="Spring 2026 quantization")
        code = page.inner_text("#invite-code")
        assert code == cohort.invite_code and code in message(page)

        # --- a timed quiz for that cohort, one attempt allowed
        page.goto(web_server + "/quizzes/new/")
        page.fill("#id_title", "Formats check")
        page.fill("#id_questions", "\n".join(QUESTIONS))
        page.fill("#id_time_limit_min", str(LIMIT_MIN))
        page.fill("#id_max_attempts", "1")
        page.select_option("#id_cohort", label=cohort.name)
        page.click("main button:has-text('Create the quiz')")
        page.wait_for_url(re.compile(r".*/quizzes/formats-check/$"))
        quiz = Quiz.objects.get(slug="formats-check")
        assert (quiz.cohort_id, quiz.time_limit_s, quiz.max_attempts) == (cohort.id, LIMIT_MIN * 60, 1)
        assert cohort.name in page.inner_text("section.instructor")  # the gradebook link on the quiz page
        log_out(page)

        # --- a student registers with the invite code and takes the quiz
        page.goto(web_server + "/register/")
        page.fill("#id_username", "sam")
        page.fill("#id_password1", PASSWORD)
        page.fill("#id_password2", PASSWORD)
        page.fill("#id_invite_code", code.lower())  # codes are read case-insensitively
        page.click("main button:has-text('Create account')")
        page.wait_for_url(web_server + "/")
        assert cohort.name in page.inner_text("main .card")
        page.goto(web_server + "/quizzes/formats-check/")
        page.click("button:has-text('Start the timed attempt')")
        page.wait_for_url(re.compile(r".*/attempts/\d+/$"))
        assert re.fullmatch(r"10:00|9:[0-5]\d", page.inner_text("#countdown"))
        page.check(f"#part-{choice} input[value=a]")  # right
        page.fill(f"#input-{e5m2}", "57344")  # right
        page.fill(f"#input-{round_300}", "448")  # wrong: a known misconception
        all_saved(page)
        page.click("#submit-attempt")
        page.wait_for_selector("#submit-confirm[open]")  # the quiz's other parts are left empty: it asks first
        page.click("#submit-anyway")
        page.wait_for_url(re.compile(r".*/attempts/\d+/review/$"))
        assert page.inner_text("#score").startswith("2 / 8")
        page.goto(web_server + "/quizzes/formats-check/")
        assert "1 used of 1" in page.inner_text("main")
        assert page.is_disabled("button:has-text('Start the timed attempt')")  # no attempt left
        log_out(page)
        student = Enrolment.objects.get(cohort=cohort).student
        first = Attempt.objects.get(user=student, quiz=quiz)
        assert (first.status, first.score, first.max_score) == ("graded", 2.0, 8.0)

        # --- the instructor reads the matrix, the gradebook and the attempt
        log_in(page, web_server, "iris")
        page.goto(web_server + f"/cohorts/{cohort.id}/")
        headers = [h.strip() for h in page.locator("#matrix thead th").all_inner_texts()]
        column = next(i for i, h in enumerate(headers) if h.startswith("Formats check"))
        row = page.locator("#matrix tr[data-student=sam]")
        assert row.locator(":scope > *").nth(column).inner_text().strip() == "25%"
        assert "mean quiz score 25%" in row.inner_text()  # under the 50 % threshold: at risk
        assert "1 student, 1 at risk" in page.inner_text("main").replace("\n", " ")
        shot(page, "cohort")

        page.click("#matrix thead a:has-text('Formats check')")
        page.wait_for_url(web_server + f"/cohorts/{cohort.id}/quizzes/formats-check/")
        gradebook_row = page.locator("#gradebook tr[data-student=sam]")
        assert "2 / 8 (25%)" in gradebook_row.inner_text()
        assert "learner" in gradebook_row.inner_text().lower()  # closed by the learner

        gradebook_row.locator("a", has_text="1").click()
        page.wait_for_url(web_server + f"/cohorts/{cohort.id}/attempts/{first.id}/")
        main = page.inner_text("main")
        assert "Read-only." in main and "2 / 8" in main
        review = " ".join(page.inner_text(f"#review-part-{e5m2}").split())  # KaTeX: the LaTeX rendered
        assert "Learner's answer: 57344" in review and "Correct answer: 57344" in review
        assert "Misconception matched: tutorial-saturation" in page.inner_text(f"#review-part-{round_300}")
        assert "(chosen)" in page.inner_text(f"#review-part-{choice}")  # the options with the key marks
        # nothing on the page can be edited or submitted
        assert page.locator("main :is(form, input, textarea, select, button, math-field, [contenteditable])").count() == 0
        shot(page, "attempt", full_page=False)

        # --- a second attempt (gradebook) and a 1.5x time multiplier (roster)
        page.click("a:has-text('Back to the gradebook')")
        more = page.locator("section[aria-labelledby=more-attempts]")
        more.locator("select[name=learner]").select_option("sam")
        more.locator("input[name=extra]").fill("1")
        more.locator("input[name=reason]").fill("illness on the day")
        more.locator("button:has-text('Add')").click()
        page.wait_for_selector("main p.message")
        assert message(page) == "sam has 1 more attempt."
        assert "added attempts" in page.inner_text("table.audit")
        assert "illness on the day" in page.inner_text("table.audit")
        shot(page, "gradebook")

        page.click("nav.subnav a:has-text('Roster')")
        page.wait_for_url(web_server + f"/cohorts/{cohort.id}/roster/")
        roster_row = page.locator("#roster tr[data-student=sam]")
        multiplier_form = roster_row.locator("form:has(input[name=multiplier])")
        multiplier_form.locator("input[name=multiplier]").fill("1.5")
        multiplier_form.locator("input[name=reason]").fill("documented accommodation")
        multiplier_form.locator("button:has-text('Set')").click()
        page.wait_for_selector("main p.message")
        assert "× 1.5" in message(page)
        assert page.input_value("#roster tr[data-student=sam] input[name=multiplier]") == "1.5"
        assert "set a time multiplier" in page.inner_text("table.audit")
        shot(page, "roster")
        log_out(page)

        # --- the student's second attempt runs for 1.5 x the limit
        log_in(page, web_server, "sam")
        page.goto(web_server + "/quizzes/formats-check/")
        assert "1 used of 2" in page.inner_text("main")
        page.click("button:has-text('Start the timed attempt')")
        page.wait_for_url(re.compile(r".*/attempts/\d+/$"))
        assert re.fullmatch(r"15:00|14:[0-5]\d", page.inner_text("#countdown"))
        second = Attempt.objects.get(user=student, quiz=quiz, number=2)
        assert second.deadline - second.started_at == dt.timedelta(minutes=1.5 * LIMIT_MIN)
        log_out(page)

        # --- the exports (the second attempt is still open: only the first is graded)
        log_in(page, web_server, "iris")
        page.goto(web_server + f"/cohorts/{cohort.id}/")
        wide = download(page, "Scores (CSV)")
        assert wide[0] == ["student", "formats-check", "labs_accepted", "at_risk"]
        assert wide[1:] == [["sam", "25.0", "0", "true"]]
        responses = download(page, "Every answer (CSV)")
        assert responses[0] == RESPONSE_HEADER
        rows = [dict(zip(RESPONSE_HEADER, r, strict=True)) for r in responses[1:]]
        parts = Part.objects.filter(question__slug__in=QUESTIONS)
        assert len(rows) == parts.count() == 8  # one row per part of the graded attempt, answered or not
        assert {(r["question"], r["part"]) for r in rows} == {(p.question.slug, p.key) for p in parts}
        assert {(r["student"], r["quiz"], r["attempt"], r["attempt_number"], r["practice"]) for r in rows} == {
            ("sam", "formats-check", str(first.id), "1", "false")}
        by_part = {r["part"]: r for r in rows}
        assert (by_part["e5m2-max"]["answer"], by_part["e5m2-max"]["score"]) == ("57344", "1")
        assert (by_part["round-300"]["score"], by_part["round-300"]["misconception"]) == ("0", "tutorial-saturation")
        assert by_part["formula"]["answer"] == ""  # not answered: a row all the same
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", by_part["assignment"]["submitted_at"])

        page.goto(web_server + "/cohorts/")
        listing = page.locator("#cohorts tr", has_text=cohort.name).inner_text()
        assert re.search(r"\b1\s+1\s+" + code, listing)  # 1 student, 1 at risk, the invite code
        shot(page, "cohort-list")
        assert errors == []

    assert AuditEntry.objects.filter(cohort=cohort, learner=student).count() == 2  # attempts added, multiplier
