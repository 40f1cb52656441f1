"""Writes: recording a review (FSRS), learner settings. The content's decks are loaded by ``content.load``,
Anki files by ``drills.anki``."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

import fsrs
import genanki
from django.db import transaction

from .models import Card, LearnerSettings, ReviewLog, ReviewState, State

RATINGS = {1: fsrs.Rating.Again, 2: fsrs.Rating.Hard, 3: fsrs.Rating.Good, 4: fsrs.Rating.Easy}


def card_guid(*, deck_slug: str, key: str) -> str:
    """The Anki note GUID of our card: stable, derived from our ids (deck slug, card id)."""
    return genanki.guid_for("quantprep", deck_slug, key)


def settings_get(*, user) -> LearnerSettings:
    obj = LearnerSettings.objects.filter(user=user).first()
    return obj if obj is not None else LearnerSettings(user=user)


def scheduler_for(*, desired_retention: float = 0.9) -> fsrs.Scheduler:
    # No fuzzing: the intervals shown on the buttons are exactly the ones a rating gives.
    return fsrs.Scheduler(desired_retention=desired_retention, enable_fuzzing=False)


def _utc(dt: datetime) -> datetime:
    return dt.astimezone(UTC)


def fsrs_card(state: ReviewState | None) -> fsrs.Card:
    if state is None:
        return fsrs.Card()
    return fsrs.Card(state=fsrs.State(state.state), step=state.step, stability=state.stability,
                     difficulty=state.difficulty, due=_utc(state.due),
                     last_review=_utc(state.last_review) if state.last_review else None)


def intervals_preview(*, state: ReviewState | None, now: datetime, desired_retention: float) -> dict[int, timedelta]:
    """What each rating would give: review_card on a copy, nothing saved."""
    scheduler = scheduler_for(desired_retention=desired_retention)
    base = fsrs_card(state)
    out = {}
    for value, rating in RATINGS.items():
        after, _ = scheduler.review_card(copy.deepcopy(base), rating, _utc(now))
        out[value] = after.due - _utc(now)
    return out


@transaction.atomic
def review_record(*, user, card: Card, rating: int, now: datetime) -> ReviewState:
    if rating not in RATINGS:
        raise ValueError(f"rating must be 1-4, not {rating!r}")
    prefs = settings_get(user=user)
    state = ReviewState.objects.select_for_update().filter(user=user, card=card).first()
    before = State.NEW if state is None else state.state
    elapsed = None
    if state is not None and state.last_review is not None:
        elapsed = (_utc(now) - _utc(state.last_review)).total_seconds() / 86400
    scheduler = scheduler_for(desired_retention=prefs.desired_retention)
    after, _ = scheduler.review_card(fsrs_card(state), RATINGS[rating], _utc(now))
    if state is None:
        state = ReviewState(user=user, card=card)
    state.state = int(after.state)
    state.step = after.step
    state.stability = after.stability
    state.difficulty = after.difficulty
    state.due = after.due
    state.last_review = after.last_review
    state.save()
    ReviewLog.objects.create(user=user, card=card, rating=rating, reviewed_at=now, state_before=before,
                             state_after=state.state, elapsed_days=elapsed, due_after=state.due)
    return state


def settings_update(*, user, desired_retention: float | None = None, new_per_day: int | None = None) -> LearnerSettings:
    obj, _ = LearnerSettings.objects.get_or_create(user=user)
    if desired_retention is not None:
        if not 0.7 <= desired_retention <= 0.99:
            raise ValueError("desired retention must be between 0.7 and 0.99")
        obj.desired_retention = desired_retention
    if new_per_day is not None:
        obj.new_per_day = new_per_day
    obj.save()
    return obj
