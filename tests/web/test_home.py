"""The landing page and the learner's home (issue #18 item 5): a visitor reads what QuantPrep is; a signed-in
learner sees where they left off (a running attempt, their last lab draft, their last question), their drill
cards to review, the quizzes open to them and their recent lab verdicts, and never another learner's."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from cohorts.home_selectors import continue_items, drill_counts, learner_home, open_quizzes, recent_verdicts
from cohorts.models import Enrolment
from cohorts.services import cohort_create
from drills.models import Card, Deck, ReviewState, State
from labs.models import Lab, LabDraft, Submission
from quizzes.models import Attempt, AttemptGrant, Quiz, Response
from quizzes.services.attempts import attempt_start, attempt_submit
from tests.factories import instructor_make, question_make, user_make

pytestmark = pytest.mark.django_db


def quiz_make(slug: str, question, **fields) -> Quiz:
    return Quiz.objects.create(slug=slug, title=f"Quiz {slug}", question_slugs=[question.slug], **fields)


def lab_make(slug: str) -> Lab:
    return Lab.objects.create(slug=slug, title=f"Lab {slug}", statement="Quantize.", starter="def f(x):\n    pass\n")


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def work_make(user, *, tag: str) -> dict:
    """One learner's work in progress, every title carrying ``tag``: a running timed attempt, a lab draft, a
    checked answer in the bank and a graded submission."""
    question = question_make(f"q-{tag}")
    question.title = f"Question {tag}"
    question.save()
    attempt = attempt_start(user=user, quiz=quiz_make(f"running-{tag}", question, time_limit_s=900), practice=False)
    draft_lab, graded_lab = lab_make(f"draft-{tag}"), lab_make(f"graded-{tag}")
    LabDraft.objects.create(user=user, lab=draft_lab, code="# mine")
    Response.objects.create(user=user, part=question.parts.get(key="a"), answer="1", correct=False)
    submission = Submission.objects.create(user=user, lab=graded_lab, code="x = 1", status=Submission.Status.DONE,
                                           verdict=Submission.Verdict.WRONG_ANSWER, score=0.0)
    return {"attempt": attempt, "draft_lab": draft_lab, "question": question, "submission": submission}


# ----------------------------------------------------------------------------- the landing page


def test_a_visitor_gets_the_landing_page_with_sign_in_and_register():
    response = Client().get("/")
    assert response.status_code == 200
    assert [t.name for t in response.templates][0] == "landing.html"
    page = response.content.decode()
    assert f'href="{reverse("login")}"' in page and f'href="{reverse("register")}"' in page
    for words in ("Timed quizzes", "Drill cards", "Coding labs", "spaced repetition", "Anki", "sandbox"):
        assert words in page
    assert "Log out" not in page


def test_a_signed_in_learner_gets_their_home_not_the_landing_page():
    response = client_for(user_make("ada")).get("/")
    assert [t.name for t in response.templates][0] == "cohorts/home.html"
    page = response.content.decode()
    assert "Continue where you left off" in page and "Log out" in page


# ----------------------------------------------------------------------------- each learner's own


def test_the_home_shows_the_learners_own_work_and_never_another_learners():
    ada, bob = user_make("ada"), user_make("bob")
    mine, theirs = work_make(ada, tag="ada"), work_make(bob, tag="bob")
    now = timezone.now()

    items = continue_items(user=ada, now=now)
    assert [i.kind for i in items][0] == "attempt" and items[0].attempt == mine["attempt"]
    assert {(i.kind, i.lab_slug or i.question_slug) for i in items[1:]} == {
        ("lab", mine["draft_lab"].slug), ("question", mine["question"].slug)}
    assert recent_verdicts(user=ada) == [mine["submission"]]

    page = client_for(ada).get("/").content.decode()
    assert reverse("quizzes:attempt", args=[mine["attempt"].id]) in page
    assert reverse("labs:detail", args=[mine["draft_lab"].slug]) in page
    assert reverse("quizzes:detail", args=[mine["question"].slug]) in page
    assert reverse("labs:submission", args=[mine["submission"].id]) in page
    assert "Wrong Answer" in page
    for slug_or_id in (reverse("quizzes:attempt", args=[theirs["attempt"].id]), theirs["draft_lab"].slug,
                       theirs["question"].slug, reverse("labs:submission", args=[theirs["submission"].id])):
        assert slug_or_id not in page


def test_continue_leaves_out_an_attempt_past_its_deadline_and_puts_the_newer_of_draft_and_question_first():
    ada = user_make("ada")
    work = work_make(ada, tag="ada")
    LabDraft.objects.filter(user=ada).update(updated_at=timezone.now() - timedelta(hours=2))
    Attempt.objects.filter(pk=work["attempt"].pk).update(deadline=timezone.now() - timedelta(seconds=1))
    assert [i.kind for i in continue_items(user=ada, now=timezone.now())] == ["question", "lab"]
    attempt_submit(attempt=Attempt.objects.get(pk=work["attempt"].pk))
    assert "attempt" not in [i.kind for i in continue_items(user=ada, now=timezone.now())]


def test_a_question_the_bank_hides_or_a_drill_card_mirror_is_not_offered_to_continue():
    ada = user_make("ada")
    question = question_make("held-back")
    Response.objects.create(user=ada, part=question.parts.get(key="a"), answer="1")
    Quiz.objects.create(slug="exam", title="Exam", question_slugs=[question.slug], private_until_close=True)
    assert continue_items(user=ada, now=timezone.now()) == []
    question.group = "drills"  # a drill card's mirror
    question.save()
    Quiz.objects.all().delete()
    assert continue_items(user=ada, now=timezone.now()) == []


def test_drill_counts_are_the_learners_own_due_learning_and_new_cards():
    ada, bob = user_make("ada"), user_make("bob")
    deck = Deck.objects.create(slug="fp8", title="FP8")
    cards = [Card.objects.create(deck=deck, key=f"c{i}", guid=f"g{i}", order=i, front="f", back="b")
             for i in range(4)]
    past, future = timezone.now() - timedelta(hours=1), timezone.now() + timedelta(days=3)
    ReviewState.objects.create(user=ada, card=cards[0], state=State.REVIEW, due=past)
    ReviewState.objects.create(user=ada, card=cards[1], state=State.REVIEW, due=future)
    ReviewState.objects.create(user=ada, card=cards[2], state=State.LEARNING, due=past)
    for card in cards:
        ReviewState.objects.create(user=bob, card=card, state=State.REVIEW, due=past)
    assert drill_counts(user=ada, now=timezone.now()) == {"due": 1, "learning": 1, "new": 1, "total": 3}
    page = client_for(ada).get("/").content.decode()
    assert '<span class="score-big" id="drills-total">3</span>' in page
    assert reverse("drills:review") in page


def test_open_quizzes_are_those_the_learner_can_start_now_closing_soonest_first():
    ada, teacher = user_make("ada"), instructor_make()
    question = question_make()
    now = timezone.now()
    later = quiz_make("later", question, closes_at=now + timedelta(days=5))
    sooner = quiz_make("sooner", question, closes_at=now + timedelta(days=1))
    always = quiz_make("always", question)
    quiz_make("closed", question, closes_at=now - timedelta(hours=1))
    quiz_make("not-yet", question, opens_at=now + timedelta(hours=1))
    quiz_make("archived", question, archived_at=now)
    quiz_make("drills-tag-fp8", question, builtin=True)  # a drill tag's quiz: reached from the drills
    used_up = quiz_make("used-up", question, max_attempts=1)
    attempt_submit(attempt=attempt_start(user=ada, quiz=used_up, practice=False))
    granted = quiz_make("granted", question, max_attempts=1)
    attempt_submit(attempt=attempt_start(user=ada, quiz=granted, practice=False))
    AttemptGrant.objects.create(quiz=granted, user=ada, extra=1)
    attempt_start(user=ada, quiz=quiz_make("running", question), practice=False)  # under "continue"
    theirs = cohort_create(name="Theirs", instructor=teacher)
    quiz_make("other-cohort", question, cohort=theirs)
    mine = cohort_create(name="Mine", instructor=teacher)
    Enrolment.objects.create(cohort=mine, student=ada)
    own_cohort = quiz_make("own-cohort", question, cohort=mine)

    rows = open_quizzes(user=ada, now=now, limit=10)
    assert [r["quiz"] for r in rows] == [sooner, later, always, own_cohort, granted]
    assert [r["left"] for r in rows] == [None, None, None, None, 1]
    assert [r["quiz"] for r in open_quizzes(user=ada, now=now, limit=2)] == [sooner, later]
    page = client_for(ada).get("/").content.decode()
    assert reverse("quizzes:quiz", args=["sooner"]) in page and "other-cohort" not in page


def test_the_home_page_reads_as_many_queries_whatever_the_learners_amount_of_work():
    ada = user_make("ada")
    work_make(ada, tag="a")

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            learner_home(user=ada, now=timezone.now())
        return len(captured)

    few = queries()
    for tag in "bcd":
        work_make(ada, tag=tag)
    assert queries() == few
