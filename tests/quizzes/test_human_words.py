"""Human words on the pages (issue #18 item 3), through the web client: a part's heading is its place, not its
key; tags read as words; a quiz review (the learner's and the instructor's copy) names each option by the letter
the learner saw after shuffling, not by its id in the content; the drill page names its deck by title; lab pages
show verdicts and statuses in words. The browser test (tests/e2e/test_human_words_browser.py) builds on these."""

from __future__ import annotations

import html
import re
import string

import pytest
from django.urls import reverse

from cohorts.models import Enrolment
from cohorts.services import cohort_create
from content.names import tag_label
from drills.models import Card, Deck
from labs.models import Lab, Submission
from quizzes.models import Attempt, Part, Question, Quiz
from quizzes.services.attempts import answer_save, attempt_start, attempt_submit
from tests.factories import instructor_make, user_make

pytestmark = pytest.mark.django_db

PART_KEY, TAGS = "llama2-70b", ["formula:kv-cache", "kv-cache", "llm-int8"]
OPTIONS = [{"id": "a", "text": "K and V of every layer are cached", "correct": True},
           {"id": "b", "text": "Grouped-query attention shrinks the cache", "correct": True},
           {"id": "c", "text": "The cache grows with the square of the context"},
           {"id": "d", "text": "Queries are cached too"}]
WRONG = "c"  # the learner's wrong pick
RAW_WORDS = [PART_KEY, *TAGS, "(s)", "wrong_answer"]


def kv_question_make() -> Question:
    """A question whose internal names used to leak: a part keyed "llama2-70b", formula and library tags, and a
    multiple-choice part whose options a quiz shuffles."""
    question = Question.objects.create(slug="kv-cache-llama", title="The KV cache of Llama 2 70B", tier="L2",
                                       tags=TAGS, body="Llama 2 70B uses grouped-query attention with 8 KV heads.")
    Part.objects.create(question=question, key=PART_KEY, order=0, kind="numeric", prompt="KV cache per token, in KB?",
                        spec={"kind": "numeric", "answer": "2*80*8*128*2/1000", "unit": "KB", "rtol": 0.01},
                        tags=["formula:kv-cache"])
    Part.objects.create(question=question, key="statements", order=1, kind="multiple_choice",
                        prompt="Which statements are true?", spec={"kind": "multiple_choice", "options": OPTIONS})
    return question


def shuffled_attempt(user, quiz: Quiz) -> tuple[Attempt, list[str]]:
    """The learner's attempt, its options in an order unlike the content's (reversed: a random shuffle may keep
    the wrong pick in place, and then the test could not tell the letters apart)."""
    attempt = attempt_start(user=user, quiz=quiz)
    choice = Part.objects.get(question__slug="kv-cache-llama", key="statements")
    order = [o["id"] for o in reversed(OPTIONS)]
    for item in attempt.layout:
        if choice.id in item["parts"]:
            item["options"][str(choice.id)] = order
    attempt.save(update_fields=["layout"])
    return attempt, order


def visible_text(page: str) -> str:
    """What a reader sees: the page without its tags, attributes and scripts."""
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def seen_letter(order: list[str], option_id: str) -> str:
    return string.ascii_uppercase[order.index(option_id)]


def content_letter(option_id: str) -> str:
    return string.ascii_uppercase[[o["id"] for o in OPTIONS].index(option_id)]


def option_rows(page: str) -> dict[str, str]:
    """Option text -> the letter the review shows beside it."""
    rows = re.findall(r'<li>(?:[✔✘] )?<strong class="option-letter">([A-Z]+)</strong> <p>(.*?)</p>', page)
    return {html.unescape(text): letter for letter, text in rows}


def test_the_question_page_shows_part_places_and_tag_words(client):
    question = kv_question_make()
    client.force_login(user_make("lena"))
    page = client.get(reverse("quizzes:detail", args=[question.slug])).content.decode()
    text = visible_text(page)
    assert "Part 1" in text and "Part 2" in text
    assert all(tag_label(tag) in text for tag in TAGS)
    assert question.get_tier_display() in text
    assert [w for w in RAW_WORDS if w in text] == []


def test_a_deck_tag_reads_as_the_decks_title(client):
    deck = Deck.objects.create(slug="formats-and-memory", title="Formats and memory")
    question = kv_question_make()
    Question.objects.filter(pk=question.pk).update(tags=[f"deck:{deck.slug}"])
    client.force_login(user_make("lena"))
    text = visible_text(client.get(reverse("quizzes:detail", args=[question.slug])).content.decode())
    assert deck.title in text and f"deck:{deck.slug}" not in text


@pytest.mark.parametrize("viewer", ["learner", "instructor"])
def test_the_review_names_options_by_the_letters_the_learner_saw(client, viewer):
    teacher, learner = instructor_make(), user_make("lena")
    cohort = cohort_create(name="Letters", instructor=teacher)
    Enrolment.objects.create(cohort=cohort, student=learner)
    question = kv_question_make()
    quiz = Quiz.objects.create(slug="kv-letters", title="KV letters", question_slugs=[question.slug],
                               shuffle_options=True, cohort=cohort)
    attempt, order = shuffled_attempt(learner, quiz)
    assert seen_letter(order, WRONG) != content_letter(WRONG)
    choice = question.parts.get(key="statements")
    answer_save(attempt=attempt, part_id=choice.id, answer=WRONG)
    attempt_submit(attempt=attempt)

    client.force_login(learner if viewer == "learner" else teacher)
    url = (reverse("quizzes:review", args=[attempt.id]) if viewer == "learner"
           else reverse("cohort_attempt", args=[cohort.id, attempt.id]))
    page = client.get(url).content.decode()
    rows = option_rows(page)
    assert rows == {o["text"]: seen_letter(order, o["id"]) for o in OPTIONS}
    assert f'<strong class="option-letters">{seen_letter(order, WRONG)}</strong>' in page  # "Your answer: B"
    text = visible_text(page)
    assert "Part 1" in text and "Part 2" in text
    assert [w for w in RAW_WORDS if w in text] == []
    if viewer == "instructor":  # the gradebook's item analysis names each part by its question and place
        text = visible_text(client.get(reverse("quiz_gradebook", args=[cohort.id, quiz.slug])).content.decode())
        assert f"{question.title}, Part 1" in text and f"{question.title}, Part 2" in text
        # scoring the answer by hand: the student's letters and the options in their order
        saved = attempt.answers.get(part=choice)
        page = client.get(reverse("answer_by_hand", args=[cohort.id, saved.id])).content.decode()
        assert option_rows(page) == {o["text"]: seen_letter(order, o["id"]) for o in OPTIONS}
        assert re.search(rf'<strong class="option-letters" id="typed">{seen_letter(order, WRONG)}\s*</strong>', page)


def test_the_practice_check_names_the_right_options_by_the_learners_letters(client):
    learner = user_make("lena")
    question = kv_question_make()
    quiz = Quiz.objects.create(slug="kv-practice", title="KV practice", question_slugs=[question.slug],
                               shuffle_options=True, feedback=Quiz.Feedback.EACH_PART)
    attempt, order = shuffled_attempt(learner, quiz)
    choice = question.parts.get(key="statements")
    client.force_login(learner)
    page = client.post(reverse("quizzes:check", args=[attempt.id, choice.id]), {"answer": WRONG},
                       HTTP_HX_REQUEST="true").content.decode()
    assert option_rows(page) == {o["text"]: seen_letter(order, o["id"]) for o in OPTIONS if o.get("correct")}


def test_the_drill_page_names_the_deck_and_tags_in_words(client):
    deck = Deck.objects.create(slug="formats-and-memory", title="Formats and memory")
    Card.objects.create(deck=deck, key="kv", guid="g-kv", front="KV cache per token of Llama 2 70B, in KB?",
                        back="327.68 KB", tags=["kv-cache", "llm-int8"],
                        answer={"kind": "numeric", "answer": "327.68", "unit": "KB"})
    client.force_login(user_make("lena"))
    text = visible_text(client.get(reverse("drills:review") + f"?deck={deck.slug}").content.decode())
    assert text.count(deck.title) >= 2  # the heading and the card's line
    assert tag_label("kv-cache") in text and tag_label("llm-int8") in text
    assert [w for w in [deck.slug, "kv-cache", "llm-int8"] if w in text] == []


def test_lab_pages_show_verdicts_and_statuses_in_words(client):
    teacher, learner = instructor_make(), user_make("lena")
    cohort = cohort_create(name="Labs", instructor=teacher)
    Enrolment.objects.create(cohort=cohort, student=learner)
    lab = Lab.objects.create(slug="fp8-words", title="FP8 words", statement="Encode $x$ in E4M3.", starter="pass\n")
    Submission.objects.create(user=learner, lab=lab, code="pass\n", status=Submission.Status.DONE,
                              verdict=Submission.Verdict.WRONG_ANSWER, score=0.0)
    Submission.objects.create(user=learner, lab=lab, code="pass\n", status=Submission.Status.RUNNING)
    for user, url in ((learner, reverse("labs:detail", args=[lab.slug])),
                      (teacher, reverse("cohort_lab", args=[cohort.id, lab.slug]))):
        client.force_login(user)
        page = client.get(url).content.decode()
        assert Submission.Verdict.WRONG_ANSWER.label in visible_text(page) and "wrong_answer" not in visible_text(page)
        assert re.search(rf">\s*{Submission.Status.RUNNING.label}\s*<", page), url  # the status cell, in words
        assert not re.search(rf">\s*{Submission.Status.RUNNING.value}\s*<", page), url
