"""An instructor's changes to one learner's quiz: more time, more attempts, an attempt reopened or closed.
Each writes an audit row (cohorts.AuditEntry) in its transaction. The caller has checked that the actor
teaches the cohort, that the learner is in it and that the quiz is one of the cohort's (cohorts.selectors)."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from cohorts.models import AuditEntry, Cohort
from cohorts.services import audit_record
from quizzes.models import Attempt, AttemptAnswer, AttemptGrant, Extension, Quiz
from quizzes.services.attempts import attempt_grade

MAX_EXTRA_ATTEMPTS = 20


class AccommodationRefused(ValueError):
    """The change cannot be made; the message says why."""


@transaction.atomic
def extension_grant(*, quiz: Quiz, user: User, minutes: float, granted_by: User, reason: str = "",
                    cohort: Cohort | None = None) -> Extension:
    """Give one learner more time on one quiz; their open attempt's deadline moves with it."""
    if minutes <= 0:
        raise AccommodationRefused("An extension is a positive number of minutes.")
    extension = Extension.objects.create(quiz=quiz, user=user, extra_s=round(minutes * 60), reason=reason[:300],
                                         granted_by=granted_by)
    Attempt.objects.filter(quiz=quiz, user=user, status=Attempt.Status.OPEN, deadline__isnull=False).update(
        deadline=F("deadline") + dt.timedelta(seconds=extension.extra_s))
    audit_record(actor=granted_by, action=AuditEntry.Action.EXTENSION, cohort=cohort, learner=user, quiz=quiz,
                 reason=reason, minutes=minutes)
    return extension


@transaction.atomic
def attempts_add(*, quiz: Quiz, learner: User, extra: int, actor: User, reason: str = "",
                 cohort: Cohort | None = None) -> AttemptGrant:
    if quiz.max_attempts is None:
        raise AccommodationRefused("This quiz allows any number of attempts already.")
    if not 1 <= extra <= MAX_EXTRA_ATTEMPTS:
        raise AccommodationRefused(f"Add between 1 and {MAX_EXTRA_ATTEMPTS} attempts.")
    grant = AttemptGrant.objects.create(quiz=quiz, user=learner, extra=extra, reason=reason[:300], granted_by=actor)
    audit_record(actor=actor, action=AuditEntry.Action.ATTEMPTS_ADDED, cohort=cohort, learner=learner, quiz=quiz,
                 reason=reason, extra=extra)
    return grant


@transaction.atomic
def attempt_reopen(*, attempt: Attempt, minutes: float, actor: User, reason: str = "",
                   cohort: Cohort | None = None, now: dt.datetime | None = None) -> Attempt:
    """A closed attempt opens again with ``minutes`` from now; its saved answers stay and count, and it is
    graded again when it closes. Refused while the learner has another attempt of the quiz open."""
    now = now or timezone.now()
    locked = Attempt.objects.select_for_update().get(pk=attempt.pk)
    if locked.practice:
        raise AccommodationRefused("A practice run is not reopened: the learner can start another.")
    if locked.status == Attempt.Status.OPEN:
        raise AccommodationRefused("This attempt is still open.")
    if not 0 < minutes <= 7 * 24 * 60:
        raise AccommodationRefused("Reopen it for a positive number of minutes (at most a week).")
    if Attempt.objects.filter(quiz=locked.quiz, user=locked.user, status=Attempt.Status.OPEN).exists():
        raise AccommodationRefused("The learner has another attempt of this quiz open: close that one first.")
    old = {"score": locked.score, "max_score": locked.max_score, "closed_by": locked.closed_by}
    Attempt.objects.filter(pk=locked.pk).update(
        status=Attempt.Status.OPEN, deadline=now + dt.timedelta(minutes=minutes), closed_at=None, closed_by="",
        graded_at=None, score=None, max_score=None)
    AttemptAnswer.objects.filter(attempt=locked).update(graded=False, correct=False, score=0.0, feedback="",
                                                         parsed="", undecided=False, misconception="")
    audit_record(actor=actor, action=AuditEntry.Action.ATTEMPT_REOPENED, cohort=cohort, learner=locked.user,
                 quiz=locked.quiz, attempt=locked, reason=reason, minutes=minutes, **old)
    locked.refresh_from_db()
    return locked


def attempt_close_now(*, attempt: Attempt, actor: User, reason: str = "", cohort: Cohort | None = None,
                      now: dt.datetime | None = None) -> Attempt:
    """An open attempt is submitted now, as the learner's saved answers stand, and graded."""
    now = now or timezone.now()
    with transaction.atomic():
        closed = Attempt.objects.filter(pk=attempt.pk, status=Attempt.Status.OPEN).update(
            status=Attempt.Status.CLOSED, closed_by=Attempt.ClosedBy.INSTRUCTOR, closed_at=now)
        if not closed:
            raise AccommodationRefused("This attempt is not open.")
        audit_record(actor=actor, action=AuditEntry.Action.ATTEMPT_CLOSED, cohort=cohort, learner=attempt.user,
                     quiz=attempt.quiz, attempt=attempt, reason=reason)
    return attempt_grade(attempt_id=attempt.pk)
