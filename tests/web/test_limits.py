"""The limits on the costly paths, through real requests: the login lockout (the site's and the admin's),
registration per address, answer checks per learner (the bank, a drill card and practice together), and the
request size cap before any upload is read."""

from __future__ import annotations

import pytest
from django.test import Client, override_settings

from drills.models import Card, Deck
from quizzes.models import Part, Question, Quiz
from quizzes.services.attempts import attempt_start
from tests.factories import PASSWORD, user_make

pytestmark = pytest.mark.django_db


def sign_in(client: Client, username: str, password: str, url: str = "/login/"):
    return client.post(url, {"username": username, "password": password})


@pytest.mark.parametrize("url", ["/login/", "/admin/login/"])
def test_ten_wrong_passwords_lock_the_account_even_against_the_right_one(url):
    user = user_make("victim")
    user.is_staff = True
    user.save()
    client = Client()
    for i in range(10):
        response = sign_in(client, "victim", "wrong", url)
        assert response.status_code == (429 if i == 9 else 200)  # the form again, until the tenth
    locked = sign_in(Client(), "victim", PASSWORD, url)  # another client, the right password
    assert locked.status_code == 429 and b"locked after 10 wrong passwords" in locked.content
    assert "_auth_user_id" not in locked.client.session
    other = user_make("bystander")  # other accounts are not locked
    assert sign_in(Client(), other.username, PASSWORD).status_code == 302


def test_fewer_failures_then_the_right_password_reset_the_count():
    user_make("forgetful")
    client = Client()
    for _ in range(9):
        sign_in(client, "forgetful", "wrong")
    assert sign_in(client, "forgetful", PASSWORD).status_code == 302
    for _ in range(9):
        sign_in(Client(), "forgetful", "wrong")
    assert sign_in(Client(), "forgetful", PASSWORD).status_code == 302  # the success reset the count


@override_settings(REGISTRATIONS_PER_HOUR=3)
def test_registration_is_throttled_per_address():
    client = Client(REMOTE_ADDR="203.0.113.7")
    for i in range(3):
        response = client.post("/register/", {"username": f"bot{i}", "password1": "a-Long-pass-123",
                                              "password2": "a-Long-pass-123", "invite_code": ""})
        assert response.status_code == 302, response.content[:300]
        client.logout()
    refused = client.post("/register/", {"username": "bot9", "password1": "a-Long-pass-123",
                                         "password2": "a-Long-pass-123", "invite_code": ""})
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert b"Too many accounts were created from your address" in refused.content
    assert Client(REMOTE_ADDR="198.51.100.2").get("/register/").status_code == 200  # another address is fine


@override_settings(ANSWER_CHECKS_PER_MINUTE=5)
def test_answer_checks_are_limited_per_learner_across_the_bank_cards_and_practice():
    question = Question.objects.create(slug="lim-q", title="Q", body="b")
    Part.objects.create(question=question, key="a", kind="numeric", spec={"kind": "numeric", "answer": 7})
    deck = Deck.objects.create(slug="d", title="D")
    card = Card.objects.create(deck=deck, key="c", guid="g", front="f", back="b", answer={"kind": "numeric",
                                                                                           "answer": 7})
    quiz = Quiz.objects.create(slug="lim-practice", title="P", question_slugs=["lim-q"], feedback="each_part")
    learner, other = user_make("lara"), user_make("olaf")
    attempt = attempt_start(user=learner, quiz=quiz)
    part_id = attempt.layout[0]["parts"][0]
    client = Client(HTTP_HX_REQUEST="true")
    client.force_login(learner)
    urls = [("/questions/lim-q/a/answer/", {"answer": "7"}), (f"/drills/cards/{card.id}/check/", {"answer": "7"}),
            (f"/attempts/{attempt.id}/answers/{part_id}/check/", {"answer": "7"})]
    for i in range(5):
        url, data = urls[i % 3]
        assert client.post(url, data).status_code == 200, url
    for url, data in urls:
        refused = client.post(url, data)
        assert refused.status_code == 429 and int(refused["Retry-After"]) <= 60
        assert b"more than 5 answer checks in a minute" in refused.content
    others = Client(HTTP_HX_REQUEST="true")
    others.force_login(other)
    assert others.post(*urls[0]).status_code == 200  # one learner's loop costs the others nothing


def test_a_request_larger_than_the_cap_is_refused_before_its_body_is_read(settings):
    settings.MAX_REQUEST_BYTES = 1000
    client = Client()
    client.force_login(user_make("uma"))
    big = client.post("/drills/settings/", {"desired_retention": "0.9", "pad": "x" * 2000})
    assert big.status_code == 413 and b"larger than 0 KB" in big.content
    assert client.post("/drills/settings/", {"desired_retention": "0.9"}).status_code != 413
    assert settings.FILE_UPLOAD_MAX_MEMORY_SIZE >= 2 * 1024 * 1024 == int(2 * 1024 * 1024)
