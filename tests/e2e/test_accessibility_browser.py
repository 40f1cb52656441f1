"""Accessibility, measured (issue #18, item 8), in a real browser on real data (the question bank, a demo
cohort): axe-core finds no serious or critical violation on any page type (PAGES lists them, each seen as the
user who reads it, some in a second state: a checked answer, an open dialog, a revealed card); every chart has
a table with its numbers; a timed quiz, a drill review and a lab submission are done with the keyboard alone.
Screenshots at 1280 and 390 px go to tests/artifacts/a11y-*-1280.png and -390.png."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import URLResolver, get_resolver, reverse

from cohorts.demo import demo_cohort_make
from content.reader import CARD_GROUP
from drills.models import Card, Deck, ReviewLog
from drills.services import card_guid
from labs.models import Lab, Submission
from quizzes.models import Attempt, AttemptAnswer, Part, Question, Quiz
from quizzes.services.attempts import attempt_start
from reports.models import ProblemReport
from reports.services import report_create
from tests.e2e.a11y import axe_violations, chart_table_problems, tab_to
from tests.e2e.browser import ARTIFACTS, chromium_page, log_in
from tests.e2e.test_quiz_browser import choice_question_make
from tests.factories import PASSWORD, question_make, user_make

WIDTHS = (1280, 390)
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Page:
    """A page type: its URL name, who reads it, its URL's arguments from the test's data; optionally what
    brings it to a second state, checked too."""
    url_name: str
    who: str  # "anonymous", "student" or "instructor"
    args: Callable[[dict], dict] = lambda d: {}
    then: tuple[str, Callable] | None = None
    shots: bool = False  # screenshots at both widths


def _check_an_answer(page) -> None:
    page.locator("section.part input[type=text][name=answer]").first.fill("1")
    page.locator("section.part input[type=text][name=answer]").first.press("Enter")
    page.wait_for_selector("section.part [id^=verdict-] .verdict")


def _submit_with_parts_empty(page) -> None:
    page.click("#submit-attempt")
    page.wait_for_selector("#submit-confirm[open]")


def _reveal_the_answer(page) -> None:
    page.click("#reveal")
    page.wait_for_selector("#back", state="visible")


PAGES = [
    Page("login", "anonymous", shots=True),
    Page("register", "anonymous"),
    Page("home", "anonymous", shots=True),  # a visitor's landing page
    Page("home", "student", shots=True),
    Page("quizzes:list", "student"),
    Page("quizzes:detail", "student", lambda d: {"slug": d["question"]}, ("an answer checked", _check_an_answer),
         shots=True),
    Page("quizzes:quizzes", "student"),
    Page("quizzes:quiz", "student", lambda d: {"slug": d["own_quiz"]}),
    Page("quizzes:attempt", "student", lambda d: {"attempt_id": d["open_attempt"]},
         ("the submit confirmation open", _submit_with_parts_empty), shots=True),
    Page("quizzes:review", "student", lambda d: {"attempt_id": d["graded_attempt"]}),
    Page("quizzes:history", "student"),
    Page("drills:review", "student", then=("the answer revealed", _reveal_the_answer), shots=True),
    Page("drills:progress", "student"),
    Page("labs:list", "student"),
    Page("labs:detail", "student", lambda d: {"slug": d["lab"]}),
    Page("labs:submission", "student", lambda d: {"submission_id": d["submission"]}, shots=True),
    Page("account", "student"),
    Page("reports:mine", "student"),
    Page("reports:detail", "student", lambda d: {"report_id": d["report"]}),
    Page("reports:new_question", "student", lambda d: {"slug": d["question"]}),
    Page("reports:new_review", "student", lambda d: {"attempt_id": d["graded_attempt"],
                                                      "question_id": d["reviewed_question"]}),
    Page("reports:new_card", "student", lambda d: {"card_id": d["card"]}),
    Page("cohort_list", "instructor"),
    Page("cohort_new", "instructor"),
    Page("cohort", "instructor", lambda d: {"cohort_id": d["cohort"]}),
    Page("cohort_roster", "instructor", lambda d: {"cohort_id": d["cohort"]}),
    Page("quiz_gradebook", "instructor", lambda d: {"cohort_id": d["cohort"], "slug": d["cohort_quiz"]}),
    Page("cohort_attempt", "instructor", lambda d: {"cohort_id": d["cohort"], "attempt_id": d["graded_attempt"]}),
    Page("part_report", "instructor", lambda d: {"cohort_id": d["cohort"], "slug": d["cohort_quiz"],
                                                 "part_id": d["part"]}),
    Page("part_answers", "instructor", lambda d: {"cohort_id": d["cohort"], "slug": d["cohort_quiz"],
                                                  "part_id": d["part"]}),
    Page("part_regrade", "instructor", lambda d: {"cohort_id": d["cohort"], "slug": d["cohort_quiz"],
                                                  "part_id": d["part"]}),
    Page("grading_queue", "instructor", lambda d: {"cohort_id": d["cohort"], "slug": d["cohort_quiz"]}),
    Page("answer_by_hand", "instructor", lambda d: {"cohort_id": d["cohort"], "answer_id": d["answer"]}),
    Page("cohort_lab", "instructor", lambda d: {"cohort_id": d["cohort"], "lab_slug": d["accepted_lab"]}, shots=True),
    Page("cohort_submission", "instructor", lambda d: {"cohort_id": d["cohort"], "submission_id": d["submission"]}),
    Page("quizzes:create", "instructor"),
    Page("quizzes:edit", "instructor", lambda d: {"slug": d["cohort_quiz"]}),
    Page("labs:speed_reviews", "instructor"),
    Page("reports:queue", "instructor"),
    Page("reports:staff", "instructor", lambda d: {"report_id": d["report"]}),
]
ERROR_PAGES = {"404": ("student", "/no-such-page/"), "403": ("student", "/cohorts/")}

# URL names that are no page to read: form posts, JSON, downloads, redirects.
NOT_PAGES = {
    "logout", "join", "account_token_create", "account_token_revoke", "cohort_rename", "cohort_rotate_invite",
    "cohort_add_instructor", "cohort_enrol", "cohort_remove_student", "cohort_set_multiplier", "cohort_export_csv",
    "cohort_responses_csv", "quiz_extension", "quiz_extra_attempts", "attempt_reopen", "attempt_close",
    "quizzes:answer", "quizzes:drill_tag", "quizzes:start", "quizzes:duplicate", "quizzes:archive",
    "quizzes:delete", "quizzes:autosave", "quizzes:check", "quizzes:submit", "labs:draft", "labs:speed_review",
    "drills:settings", "drills:check", "drills:rate", "drills:export",
}


def url_names(resolver: URLResolver | None = None, namespace: str = "") -> set[str]:
    """Every named URL of the site's own apps (not the admin, not the API)."""
    names = set()
    for pattern in (resolver or get_resolver()).url_patterns:
        if isinstance(pattern, URLResolver):
            if pattern.app_name in ("admin", "api") or pattern.namespace in ("admin", "api"):
                continue
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            names |= url_names(pattern, inner)
        elif pattern.name:
            names.add(namespace + pattern.name)
    return names


def test_every_page_type_is_in_the_list():
    """A new page fails here until it is added to PAGES (and so checked by axe) or to NOT_PAGES."""
    listed = {p.url_name for p in PAGES}
    assert url_names() - listed - NOT_PAGES == set()
    assert listed & NOT_PAGES == set()


def template_charts() -> set[str]:
    """The ids of every chart canvas in the site's templates."""
    return {m for path in [*ROOT.glob("templates/**/*.html"), *ROOT.glob("*/templates/**/*.html")]
            for m in re.findall(r'<canvas id="([\w-]+)"', path.read_text())}


def _data(monkeypatch) -> dict:
    """The bank, a demo cohort (its instructor, students with graded attempts, lab submissions and drill
    reviews), a quiz a student has open, a problem report."""
    monkeypatch.setenv("DEMO_PASSWORD", PASSWORD)
    call_command("load_content", stdout=StringIO(), stderr=StringIO())
    demo = demo_cohort_make(students=6, quizzes=2, seed=18)
    wrong = (Submission.objects.filter(user__enrolments__cohort_id=demo["cohort_id"],
                                       verdict=Submission.Verdict.WRONG_ANSWER,
                                       user__in=ReviewLog.objects.values("user")).order_by("id").first())
    assert wrong is not None, "no student of the demo cohort has a wrong answer to a lab and drill reviews"
    student = wrong.user
    accepted = Submission.objects.filter(user__enrolments__cohort_id=demo["cohort_id"],
                                         verdict=Submission.Verdict.ACCEPTED).order_by("id").first()
    assert accepted is not None, "the demo cohort has no accepted lab submission"
    graded = Attempt.objects.filter(user=student, status=Attempt.Status.GRADED).order_by("id").first()
    answer = AttemptAnswer.objects.filter(attempt=graded, part__kind="numeric").order_by("id").first()
    own = Quiz.objects.create(slug="a11y-quiz", title="Accessibility quiz", time_limit_s=1200,
                              question_slugs=Quiz.objects.get(slug=demo["quizzes"][0]).question_slugs)
    question = (Question.objects.exclude(group=CARD_GROUP).exclude(slug__in=own.question_slugs)  # not exam-locked
                .filter(parts__kind="numeric").filter(parts__kind="symbolic").distinct().order_by("slug").first())
    report = report_create(reporter=student, where=ProblemReport.Where.QUESTION, question=question,
                           text="The second part's prompt names a symbol the body does not define.")
    return {"student": student.username, "instructor": demo["instructor"], "cohort": demo["cohort_id"],
            "cohort_quiz": graded.quiz.slug, "graded_attempt": graded.id, "part": answer.part_id,
            "answer": answer.id, "reviewed_question": answer.part.question_id, "question": question.slug,
            "own_quiz": own.slug, "open_attempt": attempt_start(user=student, quiz=own).id,
            "lab": wrong.lab.slug, "submission": wrong.id, "accepted_lab": accepted.lab.slug, "report": report.id,
            "card": Card.objects.order_by("id").first().id}


def _settled(page) -> None:
    """The page's scripts have run (charts drawn, math typeset, editors mounted: all at load, none animated),
    its fonts are in, and two frames were painted since. (Waiting for the network to be idle cost 0.8 s a
    page: the half second of silence it waits for, and a margin after.)"""
    page.wait_for_load_state("load")
    page.evaluate("""() => document.fonts.ready.then(() => new Promise((done) =>
        requestAnimationFrame(() => requestAnimationFrame(done))))""")


def _shots(page, name: str) -> list[str]:
    """Screenshots at both widths; the axe violations at the narrow one (the layout changes there)."""
    found = []
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(ARTIFACTS / f"a11y-{name}-{width}.png"), full_page=True)
        if width != WIDTHS[0]:
            found = axe_violations(page)
    page.set_viewport_size({"width": WIDTHS[0], "height": 900})
    return found


@pytest.mark.django_db(transaction=True)
@pytest.mark.browser
@pytest.mark.redis
@pytest.mark.slow
@pytest.mark.timeout(900)  # about 100 s alone: some 45 pages, each loaded, settled and checked
def test_no_serious_axe_violation_on_any_page_type_and_every_chart_has_a_table(web_server, monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "1")  # the data are made while no browser runs, all the same
    data = _data(monkeypatch)
    found: dict[str, list[str]] = {}
    checked, charts = [], set()
    with chromium_page() as (page, errors):
        page.set_viewport_size({"width": WIDTHS[0], "height": 900})
        who = None
        for item in [*PAGES, *(Page(code, user) for code, (user, _) in ERROR_PAGES.items())]:
            if item.who != who:
                page.context.clear_cookies()
                if item.who != "anonymous":
                    log_in(page, web_server, data[item.who])
                who = item.who
            path = ERROR_PAGES[item.url_name][1] if item.url_name in ERROR_PAGES else reverse(
                item.url_name, kwargs=item.args(data))
            page.goto(web_server + path)
            _settled(page)
            name = f"{item.url_name} as {who}"
            found[name] = axe_violations(page) + chart_table_problems(page)
            charts |= set(page.eval_on_selector_all("canvas", "all => all.map((c) => c.id)"))
            checked.append(name)
            if item.shots:
                found[f"{name} at {WIDTHS[1]} px"] = _shots(page, f"{item.url_name.replace(':', '-').replace('_', '-')}-{who}")
            if item.then:
                state, act = item.then
                act(page)
                _settled(page)
                found[f"{name}, {state}"] = axe_violations(page)
        assert errors == [f"404 {web_server}/no-such-page/", f"403 {web_server}/cohorts/"]
    assert len(checked) == len(PAGES) + len(ERROR_PAGES)
    assert charts >= template_charts() and len(template_charts()) >= 7  # every chart was drawn and checked
    problems = [f"{name}: {line}" for name, lines in found.items() for line in lines]
    assert problems == [], "\n".join(problems)


@pytest.mark.django_db(transaction=True)
@pytest.mark.browser
@pytest.mark.redis
@pytest.mark.slow
def test_the_checks_find_what_they_look_for(web_server):
    """The two checks above fail on a page that breaks their rules: a button with no name and a field with no
    label (both critical for axe); a chart whose table lost its rows."""
    user_make("ada")
    with chromium_page() as (page, errors):
        log_in(page, web_server, "ada")
        page.goto(web_server + "/drills/progress/")
        _settled(page)
        assert axe_violations(page) == [] and chart_table_problems(page) == []
        page.evaluate("""() => {
          document.querySelector("main").insertAdjacentHTML("beforeend", '<button id="nameless"></button><input id="unlabelled">');
          document.querySelector("#reviews-table tbody").replaceChildren();
        }""")
        found = " ".join(axe_violations(page))
        assert "critical button-name: #nameless" in found and "critical label: #unlabelled" in found
        assert [p for p in chart_table_problems(page) if p.startswith("#chart-reviews:")] != []
        assert errors == []


# ----------------------------------------------------------------------------- the keyboard alone


def _press(page, key: str, *, navigates: bool = False) -> None:
    if navigates:
        with page.expect_navigation():
            page.keyboard.press(key)
    else:
        page.keyboard.press(key)


@pytest.mark.django_db(transaction=True)
@pytest.mark.browser
@pytest.mark.redis
@pytest.mark.slow
def test_a_timed_quiz_with_the_keyboard_alone(web_server, monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "1")
    user = user_make("kim")
    choice, kv = choice_question_make(), question_make()
    quiz = Quiz.objects.create(slug="keys-quiz", title="Keys quiz", question_slugs=[choice.slug, kv.slug],
                               time_limit_s=900)
    single, numeric, symbolic = (Part.objects.get(question=q, key=k) for q, k in
                                 ((choice, "max"), (kv, "a"), (kv, "b")))
    with chromium_page() as (page, errors):
        log_in(page, web_server, "kim")
        page.goto(web_server + "/quizzes/keys-quiz/")
        tab_to(page, "button[name=mode][value=timed]")  # Start the timed attempt
        _press(page, "Enter", navigates=True)
        page.wait_for_selector("#save-status")

        tab_to(page, f"#part-{single.id} input[type=radio]")  # the group takes one Tab; arrows move in it
        while page.evaluate("document.activeElement.value") != "a":
            page.keyboard.press("ArrowDown")
        page.keyboard.press("Space")
        tab_to(page, f"#input-{numeric.id}")
        page.keyboard.type("524.288 KB")
        tab_to(page, f"#part-{symbolic.id} :is(input[type=text], math-field)")
        if page.evaluate("document.activeElement.tagName") == "MATH-FIELD":
            page.keyboard.type("s(q-z)")
        else:
            page.keyboard.type("s*(q - z)")
        page.wait_for_selector(f"#preview-{symbolic.id} .katex")
        page.wait_for_function("() => document.getElementById('save-status').textContent === 'All answers saved'")
        tab_to(page, "#submit-attempt")
        _press(page, "Enter", navigates=True)
        page.wait_for_url(re.compile(r".*/attempts/\d+/review/$"))
        assert page.inner_text("#score").startswith("3 / 3")
        assert axe_violations(page) == []  # the review of a fresh attempt
        assert errors == []
    attempt = Attempt.objects.get(user=user, quiz=quiz)
    assert (attempt.status, attempt.closed_by, attempt.score) == ("graded", "learner", 3.0)


@pytest.mark.django_db(transaction=True)
@pytest.mark.browser
@pytest.mark.redis
@pytest.mark.slow
def test_a_drill_review_with_the_keyboard_alone(web_server):
    """Tab and Enter only, no shortcut keys: reveal the answer, rate the card, on to the next one."""
    user = user_make("kai")
    deck = Deck.objects.create(slug="keys", title="Keys deck")
    for i in range(2):
        Card.objects.create(deck=deck, key=f"k{i}", guid=card_guid(deck_slug="keys", key=f"k{i}"), order=i,
                            front=f"Card {i}: what is $2^{i}$?", back=f"It is {2 ** i}.")
    with chromium_page() as (page, errors):
        log_in(page, web_server, "kai")
        page.goto(web_server + "/drills/")
        first = page.inner_text("#front")
        tab_to(page, "#reveal")
        page.keyboard.press("Enter")
        page.wait_for_selector("#back", state="visible")
        assert page.evaluate("document.activeElement.id") == "back"  # the focus follows, to the answer
        tab_to(page, "#rate-3")  # Good
        _press(page, "Enter", navigates=True)
        page.wait_for_selector("#front")
        assert page.inner_text("#front") != first
        tab_to(page, "#reveal")
        page.keyboard.press("Space")  # a button's own key, not the page's shortcut
        page.wait_for_selector("#back", state="visible")
        tab_to(page, "#rate-4")
        _press(page, "Space", navigates=True)
        assert errors == []
    assert [log.rating for log in ReviewLog.objects.filter(user=user).order_by("id")] == [3, 4]


@pytest.mark.django_db(transaction=True)
@pytest.mark.browser
@pytest.mark.redis
@pytest.mark.slow
def test_a_lab_submission_with_the_keyboard_alone(web_server):
    """Into the code editor with Tab, type, out of it with Escape then Tab, submit with Enter."""
    user = user_make("kit")
    Lab.objects.create(slug="keys-lab", title="Keys lab", statement="Quantize $x$.",
                       starter="def quantize(x):\n    return x\n")
    with chromium_page() as (page, errors):
        log_in(page, web_server, "kit")
        page.goto(web_server + "/labs/keys-lab/")
        page.wait_for_selector(".cm-content")
        tab_to(page, ".cm-content")
        page.keyboard.press("Control+End")
        page.keyboard.type("# typed with the keyboard alone")
        page.keyboard.press("Escape")  # Tab indents in the editor; after Escape it moves the focus
        tab_to(page, "#submit-form button[type=submit]")
        _press(page, "Enter", navigates=True)
        page.wait_for_url(re.compile(r".*/labs/submissions/\d+/$"))
        page.wait_for_selector("[data-status]")
        assert axe_violations(page) == []  # a submission waiting in the queue
        assert errors == []
    submission = Submission.objects.get(user=user)
    assert submission.code.rstrip().endswith("# typed with the keyboard alone")
