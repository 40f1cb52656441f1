import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from content.catalogue import catalogue_sync
from drills.models import Card, Deck, ReviewLog
from drills.services import card_guid
from quizzes.models import Attempt, Part
from tests.factories import user_make


def make_cards():
    deck = Deck.objects.create(slug="mem", title="Memory")
    plain = Card.objects.create(deck=deck, key="a", guid=card_guid(deck_slug="mem", key="a"), order=0,
                                front="What is $x^2$?", back="A square.")
    graded = Card.objects.create(deck=deck, key="b", guid=card_guid(deck_slug="mem", key="b"), order=1,
                                 front="7B in FP16, GB?", back="14 GB", answer={"kind": "numeric", "answer": 14,
                                                                               "unit": "GB"})
    return plain, graded


@pytest.mark.django_db
def test_review_page_shows_front_buttons_with_intervals_and_rating_records(client):
    user_make("ana")
    client.force_login(User.objects.get(username="ana"))
    plain, _ = make_cards()
    page = client.get(reverse("drills:review")).content.decode()
    assert "What is" in page and 'id="count-new" data-count="2"' in page
    assert 'id="rate-3"' in page and "<small>" in page
    resp = client.post(reverse("drills:rate", args=[plain.id]), {"rating": "3"})
    assert resp.status_code == 302
    assert ReviewLog.objects.get().rating == 3
    page = client.get(reverse("drills:review")).content.decode()
    assert 'id="count-new" data-count="1"' in page and "7B in FP16" in page


@pytest.mark.django_db
def test_graded_card_check_suggests_a_rating(client):
    user_make("ana")
    client.force_login(User.objects.get(username="ana"))
    _, graded = make_cards()
    ok = client.post(reverse("drills:check", args=[graded.id]), {"answer": "14 GB"}).content.decode()
    assert 'data-suggest="3"' in ok and "data-latex=" in ok
    bad = client.post(reverse("drills:check", args=[graded.id]), {"answer": "112 GB"}).content.decode()
    assert 'data-suggest="1"' in bad


@pytest.mark.django_db
def test_review_page_needs_login(client):
    assert client.get(reverse("drills:review")).status_code == 302


@pytest.mark.django_db
def test_a_deck_and_a_tag_are_taken_as_graded_quizzes_of_their_graded_cards(client):
    """The review page links a deck's quiz; its attempt asks exactly the graded cards and grades them."""
    user_make("ana")
    client.force_login(User.objects.get(username="ana"))
    _, graded = make_cards()
    graded.tags = ["memory"]
    graded.save()
    catalogue_sync()
    page = client.get(reverse("drills:review")).content.decode()
    assert reverse("quizzes:quiz", args=["deck-mem"]) in page and "take as a quiz" in page
    assert reverse("quizzes:drill_tag", args=["memory"]) in page
    start = client.post(reverse("quizzes:start", args=["deck-mem"]), {"mode": "timed"})
    attempt = Attempt.objects.get(user__username="ana")
    assert start.url == reverse("quizzes:attempt", args=[attempt.id])
    [pid] = [p for item in attempt.layout for p in item["parts"]]  # the plain card is not asked
    assert Part.objects.get(pk=pid).spec == graded.answer
    client.post(reverse("quizzes:submit", args=[attempt.id]), {f"part-{pid}": "14 GB"})
    attempt.refresh_from_db()
    assert (attempt.status, attempt.score, attempt.max_score) == ("graded", 1.0, 1.0)
    tag_quiz = client.get(reverse("quizzes:drill_tag", args=["memory"]))
    assert tag_quiz.status_code == 302 and client.get(tag_quiz.url).status_code == 200
