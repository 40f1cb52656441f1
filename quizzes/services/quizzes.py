"""An instructor's quizzes: created, edited, duplicated, archived, deleted; each writes an audit row. The
caller has checked that the actor manages the quiz (quizzes.selectors.quizzes_managed)."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from cohorts.models import AuditEntry
from cohorts.services import audit_record
from quizzes.forms import quiz_slug_free
from quizzes.models import Quiz


class QuizRefused(ValueError):
    """The change cannot be made; the message says why."""


@transaction.atomic
def quiz_save(*, quiz: Quiz, actor: User) -> Quiz:
    """Save a quiz made or edited with QuizForm (not yet saved)."""
    created = quiz.pk is None
    if created:
        quiz.created_by = actor
    quiz.save()
    audit_record(actor=actor, action=AuditEntry.Action.QUIZ_CREATED if created else AuditEntry.Action.QUIZ_EDITED,
                 cohort=quiz.cohort, quiz=quiz, slug=quiz.slug)
    return quiz


@transaction.atomic
def quiz_duplicate(*, quiz: Quiz, actor: User) -> Quiz:
    """A copy with its own slug, not archived, for the same cohort; its attempts start from none."""
    source = quiz.slug
    copy = Quiz.objects.get(pk=quiz.pk)
    copy.pk, copy.id = None, None
    copy.title = f"{quiz.title} (copy)"[:200]
    copy.slug = quiz_slug_free(copy.title)
    copy.archived_at, copy.builtin, copy.created_by = None, False, actor
    copy.save()
    audit_record(actor=actor, action=AuditEntry.Action.QUIZ_DUPLICATED, cohort=copy.cohort, quiz=copy,
                 source=source, slug=copy.slug)
    return copy


@transaction.atomic
def quiz_archive(*, quiz: Quiz, actor: User, archived: bool = True) -> Quiz:
    """Archived: hidden from learners' lists and closed to new attempts; its attempts stay."""
    quiz.archived_at = timezone.now() if archived else None
    quiz.save(update_fields=["archived_at"])
    audit_record(actor=actor, action=AuditEntry.Action.QUIZ_ARCHIVED, cohort=quiz.cohort, quiz=quiz,
                 archived=archived)
    return quiz


@transaction.atomic
def quiz_delete(*, quiz: Quiz, actor: User) -> None:
    """Only a quiz nobody has attempted: once attempts exist, archive it (they are learners' work)."""
    attempts = quiz.attempts.count()
    if attempts:
        raise QuizRefused(f"{attempts} attempt{'s' if attempts != 1 else ''} exist: archive the quiz instead.")
    audit_record(actor=actor, action=AuditEntry.Action.QUIZ_DELETED, cohort=quiz.cohort, slug=quiz.slug,
                 title=quiz.title)
    quiz.delete()
