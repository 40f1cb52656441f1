"""The question page after a reload (issue #18, "nothing lost"): under each part, the learner's own last checked
answer with its verdict and feedback, and the choice they made still chosen; never another learner's; and while
an exam that asks the question runs, no earlier verdict is shown (the bank refuses checks on it then)."""

from __future__ import annotations

import pytest
from django.test import Client

from quizzes.models import Part, Quiz
from quizzes.services.attempts import attempt_start, attempt_submit
from tests.factories import question_make, user_make

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}
MISCONCEPTION = "Both K and V are cached: multiply by 2."


def logged_in(username: str) -> tuple[Client, object]:
    user = user_make(username)
    client = Client()
    client.force_login(user)
    return client, user


def verdict_box(page: str, key: str) -> str:
    start = page.index(f'id="verdict-{key}"')
    return page[start:page.index("</section>", start)]


def test_the_last_check_its_verdict_and_feedback_come_back_on_reload():
    question_make()
    client, _ = logged_in("lou")
    assert client.post("/questions/kv-cache-7b/a/answer/", {"answer": "262.144 KB"}, **HX).status_code == 200
    box = verdict_box(client.get("/questions/kv-cache-7b/").content.decode(), "a")
    assert "Your last check" in box and "262.144 KB" in box
    assert 'class="verdict wrong"' in box and "Not correct" in box and MISCONCEPTION in box
    client.post("/questions/kv-cache-7b/a/answer/", {"answer": "524.288 KB"}, **HX)
    page = client.get("/questions/kv-cache-7b/").content.decode()
    box = verdict_box(page, "a")
    assert 'class="verdict correct"' in box and MISCONCEPTION not in box and "524.288 KB" in box
    assert 'value="524.288 KB"' in page  # the field holds it again
    assert "Your last check" not in verdict_box(page, "b")  # part b was never checked


def test_a_choice_stays_chosen_and_another_learner_sees_nothing():
    question = question_make()
    Part.objects.create(question=question, key="c", order=2, kind="single_choice", prompt="Which?",
                        spec={"kind": "single_choice", "options": [
                            {"id": "a", "text": "448", "correct": True},
                            {"id": "b", "text": "57344", "feedback": "That is E5M2's largest value."}]})
    client, _ = logged_in("cleo")
    client.post("/questions/kv-cache-7b/c/answer/", {"answer": "b"}, **HX)
    page = client.get("/questions/kv-cache-7b/").content.decode()
    assert 'value="b" checked' in page and 'value="a" checked' not in page
    assert "E5M2&#x27;s largest value" in verdict_box(page, "c") or "E5M2's largest value" in verdict_box(page, "c")
    other, _ = logged_in("olaf")
    page = other.get("/questions/kv-cache-7b/").content.decode()
    assert "Your last check" not in page and 'checked' not in page


def test_no_earlier_verdict_is_shown_while_an_exam_asks_the_question():
    question_make()
    quiz = Quiz.objects.create(slug="midterm", title="Midterm", question_slugs=["kv-cache-7b"], time_limit_s=1800)
    client, user = logged_in("eva")
    client.post("/questions/kv-cache-7b/a/answer/", {"answer": "524.288 KB"}, **HX)  # before the exam
    attempt = attempt_start(user=user, quiz=quiz)
    page = client.get("/questions/kv-cache-7b/").content.decode()
    assert 'id="exam-lock"' in page
    assert "Your last check" not in page and "524.288" not in page and "verdict correct" not in page
    attempt_submit(attempt=attempt)
    page = client.get("/questions/kv-cache-7b/").content.decode()
    assert "Your last check" in page and "524.288 KB" in page  # back once the exam is submitted
