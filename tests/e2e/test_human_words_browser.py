"""Human words everywhere (issue #18, item 3), in a real browser: the question page heads parts by their place and
shows tags in words; a quiz whose multiple-choice options are shuffled, answered wrong, is reviewed with each
option's letter as this learner saw it (the order read from the attempt page itself), by the learner and by their
instructor; the drill page names its deck by title; the learner's and the instructor's lab pages say "Wrong Answer"
and "Running", never the stored keys. No raw key, slug or "(s)" on any of these pages; no CSP violation, no error
response. Screenshots at 1280 and 390 px go to tests/artifacts/human-words-*-1280.png and -390.png."""

import re
import string

import pytest

from cohorts.models import Enrolment
from cohorts.services import cohort_create
from content.names import tag_label
from drills.models import Card, Deck
from labs.models import Lab, Submission
from quizzes.models import Attempt, Quiz
from tests.e2e.browser import ARTIFACTS, chromium_page, log_in
from tests.factories import instructor_make, user_make
from tests.quizzes.test_human_words import OPTIONS, RAW_WORDS, TAGS, WRONG, kv_question_make

WIDTHS = (1280, 390)


def shots(page, name: str) -> None:
    """The page at both widths, then back to the wide one."""
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(ARTIFACTS / f"human-words-{name}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": WIDTHS[0], "height": 900})


def no_raw_words(page, *extra: str) -> str:
    """The page's visible text, checked for the internal names that used to leak."""
    text = page.inner_text("main")
    assert [w for w in [*RAW_WORDS, *extra] if w in text] == [], page.url
    return text


def review_letters(page, part_id: int) -> tuple[dict[str, str], str]:
    """Option text -> the letter shown beside it in the review, and the letters of "Your answer"."""
    rows = {}
    for li in page.locator(f"#review-part-{part_id} .options-review li").all():
        letter = li.locator(".option-letter").inner_text().strip()
        text = next(o["text"] for o in OPTIONS if o["text"] in li.inner_text())
        rows[text] = letter
    return rows, page.inner_text(f"#review-part-{part_id} .option-letters").strip()


@pytest.mark.django_db(transaction=True)
@pytest.mark.browser
@pytest.mark.redis
@pytest.mark.slow
def test_pages_say_human_words(web_server, monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "1")  # the attempt's layout is set while the browser runs
    teacher, learner = instructor_make(), user_make("lena")
    cohort = cohort_create(name="Human words", instructor=teacher)
    Enrolment.objects.create(cohort=cohort, student=learner)
    question = kv_question_make()
    numeric, choice = question.parts.order_by("order")
    quiz = Quiz.objects.create(slug="kv-words", title="KV words", question_slugs=[question.slug],
                               shuffle_options=True, cohort=cohort)
    deck = Deck.objects.create(slug="formats-and-memory", title="Formats and memory")
    Card.objects.create(deck=deck, key="kv", guid="g-kv", front="KV cache per token of Llama 2 70B, in KB?",
                        back="327.68 KB", tags=["kv-cache", "llm-int8"],
                        answer={"kind": "numeric", "answer": "327.68", "unit": "KB"})
    lab = Lab.objects.create(slug="fp8-words", title="FP8 words", statement="Encode $x$ in E4M3.", starter="pass\n")
    Submission.objects.create(user=learner, lab=lab, code="pass\n", status=Submission.Status.DONE,
                              verdict=Submission.Verdict.WRONG_ANSWER, score=0.0)
    Submission.objects.create(user=learner, lab=lab, code="pass\n", status=Submission.Status.RUNNING)

    with chromium_page() as (page, errors):
        page.set_viewport_size({"width": WIDTHS[0], "height": 900})
        log_in(page, web_server, "lena")

        # --- the question page: parts by place, tags and tier in words
        page.goto(web_server + f"/questions/{question.slug}/")
        text = no_raw_words(page)
        assert "Part 1" in text and "Part 2" in text
        assert all(tag_label(tag) in text for tag in TAGS) and question.get_tier_display() in text
        shots(page, "question")

        # --- a shuffled multiple-choice part answered wrong, then reviewed
        page.goto(web_server + f"/quizzes/{quiz.slug}/")
        page.click("button:has-text('Start attempt')")
        page.wait_for_url(re.compile(r".*/attempts/\d+/$"))
        attempt = Attempt.objects.get(user=learner, quiz=quiz)
        # The options in an order unlike the content's, so that the two letters of the wrong pick differ.
        attempt.layout[0]["options"][str(choice.id)] = [o["id"] for o in reversed(OPTIONS)]
        attempt.save(update_fields=["layout"])
        page.reload()
        seen = page.eval_on_selector_all(f"#part-{choice.id} input[type=checkbox]", "els => els.map(e => e.value)")
        seen_letter = {o["text"]: string.ascii_uppercase[seen.index(o["id"])] for o in OPTIONS}
        content_order = [o["id"] for o in OPTIONS]
        assert seen.index(WRONG) != content_order.index(WRONG)
        page.check(f"#part-{choice.id} input[value={WRONG}]")
        page.fill(f"#input-{numeric.id}", "327.68 KB")
        page.wait_for_function("() => document.getElementById('save-status').textContent === 'All answers saved'")
        page.click("#submit-attempt")
        page.wait_for_url(re.compile(r".*/attempts/\d+/review/$"))
        page.wait_for_selector("#score")
        rows, answered = review_letters(page, choice.id)
        wrong_text = next(o["text"] for o in OPTIONS if o["id"] == WRONG)
        assert rows == seen_letter and answered == seen_letter[wrong_text]
        text = no_raw_words(page)
        assert "Part 1" in text and "Part 2" in text
        shots(page, "review")

        # --- the drill page: the deck's title, tags in words
        page.goto(web_server + f"/drills/?deck={deck.slug}")
        assert page.inner_text("#drill .meta").startswith(deck.title)
        page.click("summary:has-text('Decks and settings')")  # the decks and the tags to quiz yourself on
        text = no_raw_words(page, deck.slug)
        assert tag_label("kv-cache") in text and tag_label("llm-int8") in text
        shots(page, "drills")

        # --- the learner's lab page: verdicts and statuses in words
        page.goto(web_server + f"/labs/{lab.slug}/")
        text = no_raw_words(page)
        assert Submission.Verdict.WRONG_ANSWER.label in text and Submission.Status.RUNNING.label in text
        shots(page, "lab")

        # --- the instructor: the cohort's lab page and the learner's attempt, with the learner's letters
        page.context.clear_cookies()
        log_in(page, web_server, teacher.username)
        page.goto(web_server + f"/cohorts/{cohort.id}/labs/{lab.slug}/")
        text = no_raw_words(page)
        assert Submission.Verdict.WRONG_ANSWER.label in page.inner_text("#latest-submissions")
        assert Submission.Status.RUNNING.label in page.inner_text("#latest-submissions")
        shots(page, "cohort-lab")
        page.goto(web_server + f"/cohorts/{cohort.id}/attempts/{attempt.id}/")
        rows, answered = review_letters(page, choice.id)
        assert rows == seen_letter and answered == seen_letter[wrong_text]
        no_raw_words(page)
        shots(page, "cohort-attempt")
        page.goto(web_server + f"/cohorts/{cohort.id}/quizzes/{quiz.slug}/")  # the item analysis
        assert f"{question.title}, Part 2" in page.inner_text("#items")
        shots(page, "gradebook")
        assert errors == []
