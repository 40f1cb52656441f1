"""Correcting grades after grading: a regrade of one part (a dry run first, then applied in one transaction)
and an instructor's score by hand. Both keep the old and the new grade of every answer they change
(``GradeChange``), recompute the attempts' totals and say so to the learner on their review."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import F, QuerySet, Sum
from django.utils import timezone

from cohorts.selectors import cohort_graded_answers
from graders.answers import AnswerResult
from quizzes.models import AnswerKeyChange, Attempt, AttemptAnswer, GradeChange, Part, Regrade
from quizzes.selectors import attempt_params
from quizzes.services.attempts import answer_grade

KEY_CORRECTED = "answer key corrected"


class RegradeError(ValueError):
    """The regrade or override cannot be done as asked; the message says why."""


@dataclass(frozen=True)
class AnswerRegrade:
    answer_id: int
    attempt_id: int
    student: str
    quiz: str
    answer: str
    old_score: float
    new_score: float
    old_misconception: str
    new_misconception: str


@dataclass
class RegradePlan:
    """What a regrade would change: every answer whose grade moves, and the attempt totals that move."""

    part: Part
    answers_checked: int
    changes: list[AnswerRegrade] = field(default_factory=list)
    totals: dict[int, tuple[float, float]] = field(default_factory=dict)  # attempt id: (old, new) points
    skipped_overridden: int = 0
    _results: dict[int, AnswerResult] = field(default_factory=dict, repr=False)

    def as_json(self) -> dict:
        return {"part": f"{self.part.question.slug}:{self.part.key}", "answers_checked": self.answers_checked,
                "answers_changed": len(self.changes), "skipped_overridden": self.skipped_overridden,
                "changes": [{"answer": c.answer_id, "attempt": c.attempt_id, "student": c.student, "quiz": c.quiz,
                             "old_score": c.old_score, "new_score": c.new_score,
                             "old_misconception": c.old_misconception, "new_misconception": c.new_misconception}
                            for c in self.changes],
                "attempt_totals": [{"attempt": a, "old": old, "new": new} for a, (old, new) in self.totals.items()]}


def part_by_ref(ref: str) -> Part:
    """``QUESTION_SLUG:PART_KEY`` as the shell and the pages name a part."""
    slug, sep, key = ref.partition(":")
    part = Part.objects.select_related("question").filter(question__slug=slug, key=key).first() if sep else None
    if part is None:
        raise RegradeError(f"no part {ref!r}: name it QUESTION_SLUG:PART_KEY, e.g. kv-cache-memory:formula")
    return part


def _answers(part: Part, cohort) -> QuerySet[AttemptAnswer]:
    """The graded answers to ``part``: every one, or a cohort's (cohorts.selectors.cohort_graded_answers)."""
    rows = (AttemptAnswer.objects.filter(graded=True, attempt__status=Attempt.Status.GRADED) if cohort is None
            else cohort_graded_answers(cohort=cohort))
    return (rows.filter(part=part).select_related("attempt__user", "attempt__quiz")
            .order_by("attempt__user__username", "attempt_id"))


def regrade_plan(*, part: Part, cohort=None, include_overridden: bool = False) -> RegradePlan:
    """The dry run: each answer graded again against the part's current key, with its attempt's own numbers.
    Nothing is written."""
    plan = RegradePlan(part=part, answers_checked=0)
    moved: dict[int, float] = {}
    attempts: dict[int, Attempt] = {}
    graded: dict[tuple[str, str], AnswerResult] = {}
    for row in _answers(part, cohort):
        plan.answers_checked += 1
        if row.overridden and not include_overridden:
            plan.skipped_overridden += 1
            continue
        attempt = row.attempt
        if row.saved_at > attempt.closed_at:
            continue  # saved after the attempt closed: it never counts, whatever the key
        params = attempt_params(attempt=attempt, part=part)
        key = (row.answer, json.dumps(params, sort_keys=True))
        if key not in graded:  # the same answer with the same numbers grades the same: many answers repeat
            graded[key] = answer_grade(part=part, answer=row.answer, params=params)
        result = graded[key]
        if (result.score, result.correct, result.misconception or "", result.feedback) == (
                row.score, row.correct, row.misconception, row.feedback) and not row.overridden:
            continue
        plan._results[row.id] = result
        plan.changes.append(AnswerRegrade(row.id, attempt.id, attempt.user.username, attempt.quiz.slug, row.answer,
                                          row.score, result.score, row.misconception, result.misconception or ""))
        if result.score != row.score:
            moved[attempt.id] = moved.get(attempt.id, 0.0) + part.points * (result.score - row.score)
            attempts[attempt.id] = attempt
    plan.totals = {a: (attempts[a].score, round(attempts[a].score + delta, 6)) for a, delta in moved.items()}
    return plan


def _recompute_totals(attempt_ids) -> None:
    """Each attempt's score again from its answers' scores: the one definition, whoever changed them."""
    sums = dict(AttemptAnswer.objects.filter(attempt_id__in=attempt_ids).values("attempt_id")
                .annotate(points=Sum(F("score") * F("part__points"))).values_list("attempt_id", "points"))
    for attempt_id, points in sums.items():
        Attempt.objects.filter(pk=attempt_id).update(score=round(points or 0.0, 6))


def regrade_apply(*, part: Part, reason: str = "", actor: User | None = None, cohort=None,
                  key_change: AnswerKeyChange | None = None, include_overridden: bool = False) -> tuple[RegradePlan,
                                                                                                      Regrade | None]:
    """Apply the dry run's changes in one transaction: a ``Regrade`` row, a ``GradeChange`` per changed answer,
    the attempts' totals, and the date and reason the learner sees. Idempotent: run again, it finds nothing to
    change and writes nothing. A regrade of every attempt marks the part's pending key changes regraded."""
    reason = reason.strip() or (KEY_CORRECTED if key_change or part.key_changes.exists() else "")
    if not reason:
        raise RegradeError("Say why you regrade (it is shown to the learners whose grade changes).")
    now = timezone.now()
    with transaction.atomic():
        plan = regrade_plan(part=part, cohort=cohort, include_overridden=include_overridden)
        regrade = None
        if plan.changes:
            regrade = Regrade.objects.create(part=part, key_change=key_change, cohort=cohort, actor=actor,
                                             reason=reason[:300], include_overridden=include_overridden)
            rows = AttemptAnswer.objects.in_bulk([c.answer_id for c in plan.changes])
            GradeChange.objects.bulk_create([
                GradeChange(answer_id=c.answer_id, regrade=regrade, actor=actor, old_score=c.old_score,
                            new_score=c.new_score, old_misconception=c.old_misconception,
                            new_misconception=c.new_misconception) for c in plan.changes])
            for c in plan.changes:
                row, result = rows[c.answer_id], plan._results[c.answer_id]
                row.correct, row.score, row.feedback = result.correct, result.score, result.feedback
                row.parsed, row.undecided = result.parsed or "", result.undecided
                row.misconception, row.overridden, row.comment = result.misconception or "", False, ""
                row.regraded_at, row.regrade_reason = now, reason[:300]
            AttemptAnswer.objects.bulk_update(list(rows.values()), [
                "correct", "score", "feedback", "parsed", "undecided", "misconception", "overridden", "comment",
                "regraded_at", "regrade_reason"])
            _recompute_totals({c.attempt_id for c in plan.changes})
        if cohort is None:
            changes = AnswerKeyChange.objects.filter(pk=key_change.pk) if key_change else part.key_changes
            changes.filter(regraded_at__isnull=True).update(regraded_at=now)
    return plan, regrade


def answer_override(*, answer: AttemptAnswer, score: float, comment: str, actor: User) -> GradeChange:
    """An instructor's score for one answer (0..1 of the part's points) and a comment the learner sees. The
    grader's verdict is replaced, not forgotten: the change row keeps the old score."""
    if not 0.0 <= score <= 1.0:
        raise RegradeError("The score is a fraction of the part's points, from 0 to 1.")
    if answer.attempt.status != Attempt.Status.GRADED:
        raise RegradeError("Only an answer of a graded attempt can be scored by hand.")
    with transaction.atomic():
        row = AttemptAnswer.objects.select_for_update().get(pk=answer.pk)
        change = GradeChange.objects.create(answer=row, actor=actor, old_score=row.score, new_score=score,
                                            old_misconception=row.misconception,
                                            new_misconception=row.misconception, comment=comment)
        AttemptAnswer.objects.filter(pk=row.pk).update(score=score, correct=score >= 1.0, undecided=False,
                                                       overridden=True, comment=comment)
        _recompute_totals([row.attempt_id])
    return change
