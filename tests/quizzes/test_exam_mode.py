"""Exam mode, through real requests: while a learner's timed attempt runs, the question bank and the drill
cards do not check that attempt's questions (409, saying until when), and check them again once it is
submitted; a quiz kept private until it closes hides its questions from learners' bank until then; learners'
numbers differ on enough parts that copying a neighbour's number does not work."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from content.catalogue import card_questions_sync
from drills.models import Card, Deck
from quizzes.models import Part, Question, Quiz
from quizzes.services.attempts import attempt_start, attempt_submit
from tests.bank import fixtures_content
from tests.factories import instructor_make, user_make

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def exam():
    question = Question.objects.create(slug="exam-q", title="Q", body="b")
    Part.objects.create(question=question, key="a", kind="numeric", spec={"kind": "numeric", "answer": 7})
    other = Question.objects.create(slug="free-q", title="F", body="b")
    Part.objects.create(question=other, key="a", kind="numeric", spec={"kind": "numeric", "answer": 1})
    quiz = Quiz.objects.create(slug="midterm", title="Midterm", question_slugs=["exam-q"], time_limit_s=1800)
    return quiz


def test_the_bank_refuses_the_questions_of_a_running_exam_and_checks_them_after(exam):
    learner = user_make("lena")
    client = Client(**HX)
    client.force_login(learner)
    assert client.post("/questions/exam-q/a/answer/", {"answer": "7"}).status_code == 200  # before the exam
    attempt = attempt_start(user=learner, quiz=exam)
    refused = client.post("/questions/exam-q/a/answer/", {"answer": "7"})
    assert refused.status_code == 409
    assert "in your exam “Midterm”, which is running, until" in refused.content.decode()
    assert "Correct" not in refused.content.decode()
    page = client.get("/questions/exam-q/").content.decode()
    assert 'id="exam-lock"' in page and "Midterm" in page
    assert client.post("/questions/free-q/a/answer/", {"answer": "1"}).status_code == 200  # not in the exam
    other = Client(**HX)
    other.force_login(user_make("otto"))  # another learner, no exam running
    assert other.post("/questions/exam-q/a/answer/", {"answer": "7"}).status_code == 200
    attempt_submit(attempt=attempt)
    assert client.post("/questions/exam-q/a/answer/", {"answer": "7"}).status_code == 200  # after it


def test_an_attempt_past_its_deadline_no_longer_locks(exam):
    learner = user_make("late")
    attempt_start(user=learner, quiz=exam, now=timezone.now() - dt.timedelta(hours=1))
    client = Client(**HX)
    client.force_login(learner)
    assert client.post("/questions/exam-q/a/answer/", {"answer": "7"}).status_code == 200


def test_a_drill_cards_check_is_refused_while_its_mirror_is_in_a_running_exam():
    deck = Deck.objects.create(slug="d", title="D")
    card = Card.objects.create(deck=deck, key="c1", guid="g1", front="7?", back="7",
                               answer={"kind": "numeric", "answer": 7})
    card_questions_sync()
    mirror = Question.objects.get(group="drills")
    quiz = Quiz.objects.create(slug="card-exam", title="Card exam", question_slugs=[mirror.slug], time_limit_s=600)
    learner = user_make("cara")
    client = Client(**HX)
    client.force_login(learner)
    attempt = attempt_start(user=learner, quiz=quiz)
    refused = client.post(f"/drills/cards/{card.id}/check/", {"answer": "7"})
    assert refused.status_code == 409 and "Card exam" in refused.content.decode()
    attempt_submit(attempt=attempt)
    assert client.post(f"/drills/cards/{card.id}/check/", {"answer": "7"}).status_code == 200


def test_a_quiz_kept_private_until_it_closes_hides_its_questions_from_learners(exam):
    Quiz.objects.filter(pk=exam.pk).update(private_until_close=True, closes_at=timezone.now() + dt.timedelta(days=1))
    learner, teacher = Client(), Client()
    learner.force_login(user_make("lou"))
    teacher.force_login(instructor_make("tess"))
    assert learner.get("/questions/exam-q/").status_code == 404
    assert learner.post("/questions/exam-q/a/answer/", {"answer": "7"}).status_code == 404
    assert b"exam-q" not in learner.get("/questions/").content and b"free-q" in learner.get("/questions/").content
    assert teacher.get("/questions/exam-q/").status_code == 200  # instructors still see it
    Quiz.objects.filter(pk=exam.pk).update(closes_at=timezone.now() - dt.timedelta(minutes=1))
    assert learner.get("/questions/exam-q/").status_code == 200  # closed: back in the bank


def test_learners_numbers_differ_on_at_least_thirty_numeric_or_symbolic_parts():
    content = fixtures_content()
    varied = [(q.slug, p.key) for q in content.questions for p in q.parts
              if p.spec.get("params") and p.kind in ("numeric", "symbolic")]
    assert len(varied) >= 30, varied
