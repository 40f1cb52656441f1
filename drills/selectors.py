"""Reads: the due queue and the counts of new / learning / due cards."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from django.db.models import Count, Exists, OuterRef, Q

from content.names import tag_label

from .models import Card, ReviewLog, ReviewState, State

LEARN_AHEAD = timedelta(minutes=20)  # as Anki: learning steps due this soon count, and are shown when nothing else is


def _day_start(now: datetime) -> datetime:
    return datetime.combine(now.astimezone(UTC).date(), time.min, tzinfo=UTC)


def new_left_today(*, user, now: datetime, new_per_day: int) -> int:
    introduced = ReviewLog.objects.filter(user=user, state_before=State.NEW, reviewed_at__gte=_day_start(now)).count()
    return max(0, new_per_day - introduced)


def _new_cards(*, user, deck=None):
    qs = Card.objects.filter(~Exists(ReviewState.objects.filter(user=user, card=OuterRef("pk"))))
    return qs.filter(deck=deck) if deck is not None else qs


@dataclass
class QueueItem:
    card: Card
    state: ReviewState | None  # None: a new card


def due_queue(*, user, now: datetime, limit: int, new_per_day: int = 20, deck=None) -> list[QueueItem]:
    """Due learning/relearning/review cards (earliest due first), then new cards up to the daily limit.

    Three queries whatever the number of cards: the due states (index (user, due)), today's new count, the
    new cards.
    """
    due = ReviewState.objects.filter(user=user, due__lte=now).select_related("card", "card__deck")
    if deck is not None:
        due = due.filter(card__deck=deck)
    items = [QueueItem(card=s.card, state=s) for s in due.order_by("due", "id")[:limit]]
    room = min(limit - len(items), new_left_today(user=user, now=now, new_per_day=new_per_day))
    if room > 0:
        news = _new_cards(user=user, deck=deck).select_related("deck").order_by("deck__slug", "order", "id")[:room]
        items += [QueueItem(card=c, state=None) for c in news]
    if not items:  # nothing due and no new card left: learning steps due within the learn-ahead window
        ahead = due.model.objects.filter(user=user, due__lte=now + LEARN_AHEAD,
                                         state__in=[State.LEARNING, State.RELEARNING]).select_related("card", "card__deck")
        if deck is not None:
            ahead = ahead.filter(card__deck=deck)
        items = [QueueItem(card=s.card, state=s) for s in ahead.order_by("due", "id")[:limit]]
    return items


@dataclass
class Counts:
    new: int
    learning: int
    due: int


def queue_counts(*, user, now: datetime, new_per_day: int = 20, deck=None) -> Counts:
    """new: new cards available today (capped by the daily limit); learning: learning/relearning cards due within
    the learn-ahead window (20 minutes); due: review-state cards due now."""
    states = ReviewState.objects.filter(user=user, due__lte=now + LEARN_AHEAD)
    if deck is not None:
        states = states.filter(card__deck=deck)
    agg = states.aggregate(learning=Count("id", filter=Q(state__in=[State.LEARNING, State.RELEARNING])),
                           due=Count("id", filter=Q(state=State.REVIEW, due__lte=now)))
    new_available = _new_cards(user=user, deck=deck).count()
    new = min(new_available, new_left_today(user=user, now=now, new_per_day=new_per_day))
    return Counts(new=new, learning=agg["learning"], due=agg["due"])


def progress_stats(*, user, now: datetime, days: int = 30) -> dict:
    """Reviews per day (last ``days``), true retention, due forecast (next ``days``), per-topic strength."""
    from django.db.models.functions import TruncDate

    today = now.astimezone(UTC).date()
    start = _day_start(now) - timedelta(days=days - 1)
    per_day = dict(ReviewLog.objects.filter(user=user, reviewed_at__gte=start)
                   .annotate(day=TruncDate("reviewed_at", tzinfo=UTC)).values("day")
                   .annotate(n=Count("id")).values_list("day", "n"))
    past = [today - timedelta(days=i) for i in range(days - 1, -1, -1)]
    mature = ReviewLog.objects.filter(user=user, state_before=State.REVIEW).aggregate(
        n=Count("id"), passed=Count("id", filter=Q(rating__gte=2)))
    retention = mature["passed"] / mature["n"] if mature["n"] else None
    horizon = _day_start(now) + timedelta(days=days)
    forecast_rows = dict(ReviewState.objects.filter(user=user, due__lt=horizon)
                         .annotate(day=TruncDate("due", tzinfo=UTC)).values("day")
                         .annotate(n=Count("id")).values_list("day", "n"))
    future = [today + timedelta(days=i) for i in range(days)]
    overdue = sum(n for d, n in forecast_rows.items() if d < today)
    forecast = [forecast_rows.get(d, 0) + (overdue if i == 0 else 0) for i, d in enumerate(future)]
    topics: dict[str, list[int]] = {}
    for rating, tags in ReviewLog.objects.filter(user=user).values_list("rating", "card__tags"):
        for tag in tags or []:
            t = topics.setdefault(tag, [0, 0])
            t[0] += 1
            t[1] += rating >= 2
    strength = sorted(({"topic": k, "label": tag_label(k), "reviews": n, "strength": round(p / n, 3)}
                       for k, (n, p) in topics.items()), key=lambda r: (r["strength"], r["topic"]))
    return {"days": [d.isoformat() for d in past], "reviews": [per_day.get(d, 0) for d in past],
            "retention": retention, "mature_reviews": mature["n"],
            "forecast_days": [d.isoformat() for d in future], "forecast": forecast, "topics": strength}
