"""Scheduling matches fsrs driven directly; the due queue's query count does not grow with the cards."""

import copy
from datetime import UTC, datetime, timedelta

import fsrs
import pytest

from drills import selectors, services
from drills.models import Card, Deck, ReviewLog, ReviewState, State
from tests.factories import user_make

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def deck_with(n: int, slug: str = "d") -> Deck:
    deck = Deck.objects.create(slug=slug, title=slug)
    for i in range(n):
        Card.objects.create(deck=deck, key=f"c{i}", guid=services.card_guid(deck_slug=slug, key=f"c{i}"),
                            order=i, front=f"front {i}", back=f"back {i}")
    return deck


@pytest.mark.django_db
def test_scheduling_matches_fsrs_for_a_recorded_sequence():
    user = user_make("ana")
    card = deck_with(1).cards.get()
    sequence = [(3, 0), (3, 0.01), (3, 1), (1, 4), (3, 0.01), (2, 2), (4, 6), (3, 20)]
    scheduler = fsrs.Scheduler(desired_retention=0.9, enable_fuzzing=False)
    ref = fsrs.Card()
    now = T0
    for rating, days in sequence:
        now = now + timedelta(days=days)
        ref, _ = scheduler.review_card(ref, services.RATINGS[rating], now)
        ours = services.review_record(user=user, card=card, rating=rating, now=now)
        ours.refresh_from_db()
        assert ours.state == int(ref.state)
        assert ours.step == ref.step
        assert ours.due == ref.due
        assert ours.stability == pytest.approx(ref.stability, rel=1e-12)
        assert ours.difficulty == pytest.approx(ref.difficulty, rel=1e-12)
        assert ours.last_review == ref.last_review
    logs = list(ReviewLog.objects.filter(user=user))
    assert [log.rating for log in logs] == [r for r, _ in sequence]
    assert logs[0].state_before == State.NEW and logs[0].elapsed_days is None
    assert logs[3].state_before == State.REVIEW and logs[3].state_after == State.RELEARNING


@pytest.mark.django_db
def test_desired_retention_is_the_learners():
    user = user_make("ana")
    services.settings_update(user=user, desired_retention=0.8)
    card = deck_with(1).cards.get()
    ref = fsrs.Card()
    scheduler = fsrs.Scheduler(desired_retention=0.8, enable_fuzzing=False)
    for i, rating in enumerate([3, 3, 3]):
        now = T0 + timedelta(days=2 * i)
        ref, _ = scheduler.review_card(ref, services.RATINGS[rating], now)
        ours = services.review_record(user=user, card=card, rating=rating, now=now)
    assert ours.due == ref.due


@pytest.mark.django_db
def test_intervals_preview_saves_nothing_and_matches_a_review():
    user = user_make("ana")
    card = deck_with(1).cards.get()
    preview = services.intervals_preview(state=None, now=T0, desired_retention=0.9)
    assert preview[1] < preview[3] <= preview[4]
    assert not ReviewState.objects.exists()
    state = services.review_record(user=user, card=card, rating=3, now=T0)
    assert state.due - T0 == preview[3]
    later = T0 + timedelta(days=1)
    before = copy.copy(state.__dict__)
    services.intervals_preview(state=state, now=later, desired_retention=0.9)
    state.refresh_from_db()
    assert state.due == before["due"] and state.stability == before["stability"]


@pytest.mark.django_db
def test_queue_orders_due_first_then_new_up_to_the_daily_limit():
    user = user_make("ana")
    deck = deck_with(6)
    cards = list(deck.cards.all())
    services.review_record(user=user, card=cards[0], rating=1, now=T0)  # learning, due in 1 min
    services.review_record(user=user, card=cards[1], rating=4, now=T0)  # review, due in days
    now = T0 + timedelta(minutes=5)
    queue = selectors.due_queue(user=user, now=now, limit=10, new_per_day=3)
    assert queue[0].card == cards[0] and queue[0].state is not None
    # 2 new cards introduced today already (cards 0 and 1), limit 3: one more new card
    assert [q.card for q in queue[1:]] == [cards[2]]
    counts = selectors.queue_counts(user=user, now=now, new_per_day=3)
    assert (counts.new, counts.learning, counts.due) == (1, 1, 0)
    counts = selectors.queue_counts(user=user, now=T0 + timedelta(days=60), new_per_day=20)
    assert (counts.new, counts.learning, counts.due) == (4, 1, 1)


@pytest.mark.django_db
@pytest.mark.parametrize("n", [5, 50])
def test_due_queue_query_count_is_constant(n, django_assert_num_queries):
    user = user_make("ana")
    deck = deck_with(n)
    for card in list(deck.cards.all())[: n // 2]:
        services.review_record(user=user, card=card, rating=3, now=T0)
    now = T0 + timedelta(days=30)
    with django_assert_num_queries(3):
        queue = selectors.due_queue(user=user, now=now, limit=1000, new_per_day=1000)
        [(q.card.front, q.card.deck.slug) for q in queue]
    assert len(queue) == n
    with django_assert_num_queries(3):
        selectors.queue_counts(user=user, now=now)
