import json
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from drills import selectors, services
from drills.models import Card, Deck
from tests.factories import user_make

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@pytest.mark.django_db
def test_progress_stats_retention_forecast_topics():
    user = user_make("ana")
    deck = Deck.objects.create(slug="p", title="p")
    a = Card.objects.create(deck=deck, key="a", guid="ga", front="a", back="a", tags=["gptq"])
    b = Card.objects.create(deck=deck, key="b", guid="gb", front="b", back="b", tags=["fp8"])
    services.review_record(user=user, card=a, rating=4, now=T0)  # new → review
    services.review_record(user=user, card=b, rating=4, now=T0)
    state = services.review_record(user=user, card=a, rating=3, now=T0 + timedelta(days=10))  # review, passed
    services.review_record(user=user, card=b, rating=1, now=T0 + timedelta(days=10))  # review, lapsed
    now = T0 + timedelta(days=10, hours=1)
    stats = selectors.progress_stats(user=user, now=now)
    assert stats["retention"] == 0.5 and stats["mature_reviews"] == 2
    assert sum(stats["reviews"]) == 4 and stats["reviews"][-1] == 2 and stats["reviews"][-11] == 2
    assert len(stats["forecast"]) == 30
    assert sum(stats["forecast"]) == 1 + (state.due < now.replace(hour=0) + timedelta(days=30))
    assert {t["topic"]: t["strength"] for t in stats["topics"]} == {"gptq": 1.0, "fp8": 0.5}


@pytest.mark.django_db
def test_progress_page_carries_its_data_for_chartjs(client):
    user_make("ana")
    client.force_login(User.objects.get(username="ana"))
    page = client.get(reverse("drills:progress")).content.decode()
    assert "chart.umd.min.js" in page and 'id="progress-data"' in page
    data = page.split('id="progress-data" type="application/json">')[1].split("</script>")[0]
    assert len(json.loads(data)["forecast"]) == 30
