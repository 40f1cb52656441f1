"""Reads for a signed-in learner's home page, in one place. Every read is filtered by the user it is given, so
the page shows that learner's own attempts, drafts, answers, cards and verdicts and nobody else's."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.contrib.auth.models import User
from django.db.models import Count, Q, Sum

from content.reader import CARD_GROUP
from drills.models import LearnerSettings
from drills.selectors import queue_counts
from labs.models import LabDraft, Submission
from quizzes.models import Attempt, AttemptGrant, Question, Response
from quizzes.selectors import bank_hidden_slugs, quizzes_visible
from quizzes.services.drill_quizzes import TAG_QUIZ_PREFIX

OPEN_QUIZZES_SHOWN = 5
RECENT_VERDICTS_SHOWN = 5


@dataclass
class ContinueItem:
    """One thing the learner was doing: what it is, where to go back to, and when they last touched it."""

    kind: str  # "attempt", "lab", "question"
    title: str
    when: dt.datetime
    attempt: Attempt | None = None
    lab_slug: str = ""
    question_slug: str = ""


def attempt_in_progress(*, user: User, now: dt.datetime) -> Attempt | None:
    """The learner's newest attempt still running (one past its deadline is over, whatever its row says)."""
    running = (Attempt.objects.filter(user=user, status=Attempt.Status.OPEN)
               .filter(Q(deadline__isnull=True) | Q(deadline__gt=now)).select_related("quiz"))
    return running.order_by("-started_at").first()


def last_lab_draft(*, user: User) -> LabDraft | None:
    return LabDraft.objects.filter(user=user).select_related("lab").order_by("-updated_at").first()


def last_question(*, user: User) -> tuple[Question, dt.datetime] | None:
    """The bank question the learner last checked an answer on (not a drill card's mirror, not one the bank
    hides from them now), with when."""
    hidden = bank_hidden_slugs(user=user)
    responses = (Response.objects.filter(user=user).exclude(part__question__group=CARD_GROUP)
                 .exclude(part__question__slug__in=hidden).select_related("part__question"))
    latest = responses.order_by("-created_at").first()
    return (latest.part.question, latest.created_at) if latest else None


def continue_items(*, user: User, now: dt.datetime) -> list[ContinueItem]:
    """Where the learner left off: a running attempt first (its clock may be ticking), then the last lab draft
    and the last question, newest first."""
    items = []
    if attempt := attempt_in_progress(user=user, now=now):
        items.append(ContinueItem(kind="attempt", title=attempt.quiz.title, when=attempt.started_at, attempt=attempt))
    later = []
    if draft := last_lab_draft(user=user):
        later.append(ContinueItem(kind="lab", title=draft.lab.title, when=draft.updated_at, lab_slug=draft.lab.slug))
    if found := last_question(user=user):
        question, when = found
        later.append(ContinueItem(kind="question", title=question.title, when=when, question_slug=question.slug))
    return items + sorted(later, key=lambda item: item.when, reverse=True)


def drill_counts(*, user: User, now: dt.datetime) -> dict:
    """The drill queue's counts as the review page computes them (with the learner's daily new-card limit)."""
    prefs = LearnerSettings.objects.filter(user=user).first() or LearnerSettings(user=user)
    counts = queue_counts(user=user, now=now, new_per_day=prefs.new_per_day)
    return {"due": counts.due, "learning": counts.learning, "new": counts.new,
            "total": counts.due + counts.learning + counts.new}


def open_quizzes(*, user: User, now: dt.datetime, limit: int = OPEN_QUIZZES_SHOWN) -> list[dict]:
    """Quizzes the learner can start now: visible to them, not archived, inside their window, with an attempt
    left and none running (a running one is under "continue"); those closing soonest first. Three queries."""
    quizzes = (quizzes_visible(user=user).filter(archived_at__isnull=True)
               .exclude(builtin=True, slug__startswith=TAG_QUIZ_PREFIX)
               .filter(Q(opens_at__isnull=True) | Q(opens_at__lte=now))
               .filter(Q(closes_at__isnull=True) | Q(closes_at__gt=now)))
    mine = Attempt.objects.filter(user=user).order_by()  # no default ordering in the GROUP BY
    used = dict(mine.filter(practice=False).values_list("quiz").annotate(n=Count("id")))
    running = set(mine.filter(status=Attempt.Status.OPEN).values_list("quiz_id", flat=True))
    granted = dict(AttemptGrant.objects.filter(user=user).order_by().values_list("quiz").annotate(n=Sum("extra")))
    rows = []
    for quiz in quizzes:
        allowed = None if quiz.max_attempts is None else quiz.max_attempts + granted.get(quiz.id, 0)
        left = None if allowed is None else allowed - used.get(quiz.id, 0)
        if quiz.id in running or (left is not None and left <= 0):
            continue
        rows.append({"quiz": quiz, "used": used.get(quiz.id, 0), "left": left})
    far = dt.datetime.max.replace(tzinfo=dt.UTC)
    rows.sort(key=lambda r: (r["quiz"].closes_at or far, r["used"] > 0, r["quiz"].title))
    return rows[:limit]


def recent_verdicts(*, user: User, limit: int = RECENT_VERDICTS_SHOWN) -> list[Submission]:
    """The learner's latest lab submissions, graded or still in the queue."""
    return list(Submission.objects.filter(user=user).select_related("lab").order_by("-created_at")[:limit])


def learner_home(*, user: User, now: dt.datetime) -> dict:
    return {"continue_items": continue_items(user=user, now=now), "drills": drill_counts(user=user, now=now),
            "open_quizzes": open_quizzes(user=user, now=now), "recent_submissions": recent_verdicts(user=user)}
