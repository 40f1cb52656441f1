import pytest
from django.urls import reverse

from drills.models import Card, Deck, ReviewLog
from drills.services import card_guid
from tests.factories import PASSWORD, user_make


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
    client.login(username="ana", password=PASSWORD)
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
    client.login(username="ana", password=PASSWORD)
    _, graded = make_cards()
    ok = client.post(reverse("drills:check", args=[graded.id]), {"answer": "14 GB"}).content.decode()
    assert 'data-suggest="3"' in ok and "data-latex=" in ok
    bad = client.post(reverse("drills:check", args=[graded.id]), {"answer": "112 GB"}).content.decode()
    assert 'data-suggest="1"' in bad


@pytest.mark.django_db
def test_review_page_needs_login(client):
    assert client.get(reverse("drills:review")).status_code == 302
