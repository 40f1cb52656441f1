"""Timed quizzes in a real browser: answer a choice, a numeric and a symbolic part (MathLive, with the preview),
reload and find every answer kept, submit and read the review; a short quiz left alone submits itself."""

import re

import pytest

from quizzes.models import Attempt, AttemptAnswer, Part, Question, Quiz
from tests.e2e.browser import chromium_page, log_in, shot
from tests.factories import question_make, user_make


def choice_question_make() -> Question:
    question = Question.objects.create(slug="e4m3-range", title="E4M3 range", tier="L1", tags=["fp8"],
                                       body="FP8 formats trade range for precision.",
                                       answer_points=["E4M3 tops out at 448."], pitfalls=["Confusing it with E5M2."])
    Part.objects.create(question=question, key="max", kind="single_choice", prompt="Largest finite E4M3 value?",
                        spec={"kind": "single_choice", "options": [
                            {"id": "a", "text": "448", "correct": True},
                            {"id": "b", "text": "57344", "feedback": "That is E5M2's largest value."},
                            {"id": "c", "text": "240"}]})
    return question


# The learner's wall clock is two hours fast: the countdown and the deadline must not care.
CLOCK_TWO_HOURS_FAST = """(() => {
  const Real = Date, skew = 2 * 3600 * 1000;
  class Skewed extends Real {
    constructor(...args) { super(...(args.length ? args : [Real.now() + skew])); }
    static now() { return Real.now() + skew; }
  }
  window.Date = Skewed;
})();"""


def part_of(question: Question, key: str) -> Part:
    return question.parts.get(key=key)


def start(page, button: str) -> None:
    """Press a start button on a quiz page and land on the attempt page."""
    page.click(f"button:has-text('{button}')")
    page.wait_for_url(re.compile(r".*/attempts/\d+/$"))


def all_saved(page) -> None:
    page.wait_for_function("() => document.getElementById('save-status').textContent === 'All answers saved'")


# Each write into a live region (aria-live), by the id of the region written, from now on.
LIVE_WRITES = """() => {
  window.liveWrites = [];
  const seen = new MutationObserver((records) => records.forEach((r) => window.liveWrites.push(r.target.id)));
  document.querySelectorAll("[aria-live]").forEach((el) => seen.observe(el, {childList: true}));
}"""


@pytest.mark.django_db(transaction=True)
@pytest.mark.browser
@pytest.mark.redis
@pytest.mark.slow
def test_timed_quiz_answers_survive_a_reload_and_are_reviewed(web_server):
    user = user_make("tina")
    choice, kv = choice_question_make(), question_make()
    quiz = Quiz.objects.create(slug="browser-quiz", title="Browser quiz", question_slugs=[choice.slug, kv.slug],
                               time_limit_s=600)
    single, numeric, symbolic = part_of(choice, "max"), part_of(kv, "a"), part_of(kv, "b")
    with chromium_page() as (page, errors):
        page.add_init_script(CLOCK_TWO_HOURS_FAST)
        log_in(page, web_server, "tina")
        page.goto(web_server + "/quizzes/")
        shot(page, "quiz-list")
        page.goto(web_server + "/quizzes/browser-quiz/")
        shot(page, "quiz-detail")
        start(page, "Start the timed attempt")
        assert page.evaluate("Date.now() - performance.timeOrigin - performance.now()") > 7000_000  # skewed
        assert re.fullmatch(r"10:00|9:[0-5]\d", page.inner_text("#countdown"))  # from the server's deadline

        page.focus(f"#part-{single.id} input[value=a]")  # keyboard only: focus the option, Space chooses it
        page.keyboard.press("Space")
        page.fill(f"#input-{numeric.id}", "524.288 KB")
        page.wait_for_selector(f"#preview-{numeric.id} .katex")
        page.focus(f"#mf-{symbolic.id}")  # the MathLive editor, reached like any field
        page.evaluate(LIVE_WRITES)
        page.keyboard.type("s(q-z)")
        # the live regions say "unsaved" once, not once per key (a screen reader would hear each write)
        writes = page.evaluate("window.liveWrites")
        assert writes.count(f"state-{symbolic.id}") < len("s(q-z)") and writes.count("save-status") < len("s(q-z)"), writes
        page.wait_for_selector(f"#preview-{symbolic.id} .katex")  # "we read your answer as", rendered by KaTeX
        assert "We read your answer as" in page.inner_text(f"#preview-{symbolic.id}")
        all_saved(page)
        shot(page, "quiz-answered")

        typed = page.evaluate(f"document.getElementById('mf-{symbolic.id}').value")
        page.reload()  # the same attempt, every saved answer back on the page
        page.wait_for_selector(f"#preview-{symbolic.id} .katex")
        assert page.is_checked(f"#part-{single.id} input[value=a]")
        assert page.input_value(f"#input-{numeric.id}") == "524.288 KB"
        assert page.evaluate(f"document.getElementById('mf-{symbolic.id}').value") == typed
        shot(page, "quiz-reloaded")

        page.click("#submit-attempt")
        page.wait_for_url(re.compile(r".*/attempts/\d+/review/$"))
        page.wait_for_selector("#score")
        assert page.inner_text("#score").startswith("3 / 3")
        assert "E4M3 tops out at 448." in page.inner_text("main")  # answer points
        assert "Confusing it with E5M2." in page.inner_text("main")  # pitfalls
        shot(page, "quiz-review")
        page.goto(web_server + "/quizzes/history/")
        page.wait_for_function("() => window.Chart && Chart.getChart('chart-scores') !== undefined")
        assert "Browser quiz" in page.inner_text("main")
        shot(page, "quiz-history")
        assert errors == []
    attempt = Attempt.objects.get(user=user, quiz=quiz)
    saved = {a.part_id: a.answer for a in AttemptAnswer.objects.filter(attempt=attempt)}
    assert saved == {single.id: "a", numeric.id: "524.288 KB", symbolic.id: typed}
    assert (attempt.status, attempt.closed_by, attempt.score) == ("graded", "learner", 3.0)


@pytest.mark.django_db(transaction=True)
@pytest.mark.browser
@pytest.mark.redis
@pytest.mark.slow
def test_a_short_quiz_submits_itself_when_time_runs_out(web_server):
    user = user_make("tom")
    kv = question_make()
    quiz = Quiz.objects.create(slug="short-quiz", title="Short quiz", question_slugs=[kv.slug], time_limit_s=5)
    numeric = part_of(kv, "a")
    with chromium_page() as (page, errors):
        log_in(page, web_server, "tom")
        page.goto(web_server + "/quizzes/short-quiz/")
        start(page, "Start the timed attempt")
        page.fill(f"#input-{numeric.id}", "262.144 KB")  # the misconception: only K, not K and V
        all_saved(page)
        shot(page, "quiz-short-running")
        page.wait_for_url(re.compile(r".*/attempts/\d+/review/$"), timeout=20_000)  # nobody clicks anything
        text = page.inner_text("main")
        assert "Time was up" in text
        assert "Both K and V are cached" in text  # the misconception's feedback, in the review
        shot(page, "quiz-short-auto-submitted")
        assert errors == []
    attempt = Attempt.objects.get(user=user, quiz=quiz)
    assert (attempt.status, attempt.closed_by) == ("graded", "deadline")
    assert attempt.closed_at == attempt.deadline
    assert attempt.answers.get(part=numeric).answer == "262.144 KB"


@pytest.mark.django_db(transaction=True)
@pytest.mark.browser
@pytest.mark.redis
@pytest.mark.slow
def test_practice_mode_checks_a_part_at_once(web_server):
    user_make("pia")
    kv = question_make()
    Quiz.objects.create(slug="practice-quiz", title="Practice quiz", question_slugs=[kv.slug],
                        feedback=Quiz.Feedback.EACH_PART)
    numeric = part_of(kv, "a")
    with chromium_page() as (page, errors):
        log_in(page, web_server, "pia")
        page.goto(web_server + "/quizzes/practice-quiz/")
        start(page, "Practice")
        assert page.locator("#countdown").count() == 0  # untimed
        page.fill(f"#input-{numeric.id}", "262.144 KB")
        page.click(f"#part-{numeric.id} button.check")
        page.wait_for_selector(f"#verdict-{numeric.id} .verdict.wrong")
        assert "Both K and V are cached" in page.inner_text(f"#verdict-{numeric.id}")
        page.fill(f"#input-{numeric.id}", "524.288 KB")
        page.click(f"#part-{numeric.id} button.check")
        page.wait_for_selector(f"#verdict-{numeric.id} .verdict.correct")
        assert "try 2" in page.inner_text(f"#verdict-{numeric.id}")
        shot(page, "quiz-practice")
        assert errors == []
