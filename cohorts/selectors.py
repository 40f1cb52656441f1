"""Reads for the instructor's workspace, scoped to the cohorts an instructor teaches (all of them for a
superuser). Every page's reads are a fixed number of queries whatever the cohort's size: the database
aggregates (per student, per student and quiz) and Python only lays out the rows it gets back."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth.models import User
from django.db.models import Count, F, FloatField, Max, Q, QuerySet, Sum
from django.db.models.expressions import Window
from django.db.models.functions import Cast, RowNumber
from django.shortcuts import get_object_or_404
from django.utils import timezone

from cohorts.models import AuditEntry, Cohort, Enrolment
from cohorts.roles import is_instructor
from drills.models import ReviewLog, ReviewState
from labs.models import Submission
from quizzes.models import Attempt, AttemptAnswer, AttemptGrant, Extension, Quiz, Response
from quizzes.selectors import attempt_time_used


def cohorts_taught_by(user: User) -> QuerySet[Cohort]:
    if user.is_superuser:
        return Cohort.objects.all().order_by("name")
    if not is_instructor(user):
        return Cohort.objects.none()
    return Cohort.objects.filter(instructors=user).order_by("name")


def cohort_get(*, user: User, cohort_id: int) -> Cohort:
    """A cohort this user teaches, or 404 (for another instructor's cohort too: no hint that it exists)."""
    return get_object_or_404(cohorts_taught_by(user), pk=cohort_id)


def cohort_student_get(*, cohort: Cohort, user_id: int) -> User:
    return get_object_or_404(User, pk=user_id, enrolments__cohort=cohort)


def cohort_quizzes(*, cohort: Cohort) -> list[Quiz]:
    """The cohort's own quizzes (archived ones too: their attempts stay), then the platform-wide quizzes
    its students have taken (not as practice). Another cohort's quizzes never."""
    own = Quiz.objects.filter(cohort=cohort)
    taken = Quiz.objects.filter(cohort__isnull=True, attempts__practice=False,
                                attempts__user__enrolments__cohort=cohort)
    return list((own | taken).distinct().order_by(F("cohort_id").asc(nulls_last=True), "created_at", "title"))


def cohort_quiz_get(*, cohort: Cohort, slug: str) -> Quiz:
    """A quiz of this cohort, or a platform-wide one; another cohort's quiz is 404."""
    return get_object_or_404(Quiz.objects.filter(Q(cohort=cohort) | Q(cohort__isnull=True)), slug=slug)


def cohort_attempt_get(*, cohort: Cohort, attempt_id: int) -> Attempt:
    """An attempt of one of the cohort's students on a quiz of the cohort (or a platform-wide one)."""
    return get_object_or_404(
        Attempt.objects.select_related("quiz", "user").filter(Q(quiz__cohort=cohort) | Q(quiz__cohort__isnull=True)),
        pk=attempt_id, user__enrolments__cohort=cohort)


def cohort_graded_answers(*, cohort: Cohort) -> QuerySet[AttemptAnswer]:
    """The graded answers of graded attempts by the cohort's students, on its quizzes and platform-wide ones,
    timed and practice alike: what the long CSV, the part reports and a cohort's regrade cover."""
    return AttemptAnswer.objects.filter(
        graded=True, attempt__status=Attempt.Status.GRADED, attempt__user__enrolments__cohort=cohort,
    ).filter(Q(attempt__quiz__cohort=cohort) | Q(attempt__quiz__cohort__isnull=True))


def cohort_submission_get(*, cohort: Cohort, submission_id: int) -> Submission:
    """A lab submission by a student enrolled in the cohort now (labs are not tied to a cohort), or 404."""
    return get_object_or_404(Submission.objects.select_related("lab", "user", "overridden_by"), pk=submission_id,
                             user__enrolments__cohort=cohort)


def submission_override_shown(*, cohort: Cohort, submission: Submission, user: User) -> bool:
    """Whether this cohort's page may say who set the submission's override and why: yes when it was set by
    the user, a superuser or an instructor of this cohort; not when set from another cohort of the same
    student (that cohort's audit rows stay there, so its reasons do too)."""
    by = submission.overridden_by
    return by is None or by.pk == user.pk or by.is_superuser or cohort.instructors.filter(pk=by.pk).exists()


def submission_override_history(*, cohort: Cohort, submission: Submission) -> QuerySet[AuditEntry]:
    """The override audit rows of one submission written in this cohort: another cohort's rows (who, why)
    stay with that cohort, as for attempts."""
    return AuditEntry.objects.filter(cohort=cohort, action=AuditEntry.Action.SUBMISSION_OVERRIDDEN,
                                     detail__submission=submission.id).select_related("actor", "learner")


# ---------------------------------------------------------------------------------- the cohort page


@dataclass
class StudentRow:
    id: int
    username: str
    joined_at: dt.datetime
    time_multiplier: float
    scores: dict[int, float] = field(default_factory=dict)  # quiz id -> fraction of the points, 0..1
    latest: dict[int, float] = field(default_factory=dict)
    labs_attempted: int = 0
    labs_accepted: int = 0
    reviews_7d: int = 0
    overdue: int = 0
    last_activity: dt.datetime | None = None
    risks: list[str] = field(default_factory=list)

    @property
    def mean_latest(self) -> float | None:
        return sum(self.latest.values()) / len(self.latest) if self.latest else None


def _graded(cohort: Cohort, quizzes: list[Quiz]):
    return Attempt.objects.filter(user__enrolments__cohort=cohort, quiz__in=quizzes, practice=False,
                                  status=Attempt.Status.GRADED, max_score__gt=0)


def _fraction():
    return Cast(F("score"), FloatField()) / Cast(F("max_score"), FloatField())


def _latest_scores(cohort: Cohort, quizzes: list[Quiz]) -> list[dict]:
    """(user, quiz, fraction) of each student's latest graded attempt of each quiz: a window function."""
    ranked = _graded(cohort, quizzes).annotate(
        rank=Window(RowNumber(), partition_by=[F("user_id"), F("quiz_id")], order_by=F("number").desc()))
    return list(ranked.filter(rank=1).values("user_id", "quiz_id", fraction=_fraction()))


def _per_user(queryset, value) -> dict[int, object]:
    return {row["user_id"]: row["value"] for row in queryset.values("user_id").annotate(value=value)}


def cohort_students(*, cohort: Cohort, quizzes: list[Quiz], best: bool = True,
                    now: dt.datetime | None = None) -> list[StudentRow]:
    """Every student with their score on each quiz (best or latest graded attempt), labs, drills, last
    activity and at-risk reasons. A fixed number of aggregate queries (about a dozen)."""
    now = now or timezone.now()
    rows = {e["student_id"]: StudentRow(id=e["student_id"], username=e["student__username"], joined_at=e["joined_at"],
                                        time_multiplier=e["time_multiplier"])
            for e in Enrolment.objects.filter(cohort=cohort).order_by("student__username")
            .values("student_id", "student__username", "joined_at", "time_multiplier")}
    for cell in _latest_scores(cohort, quizzes):
        rows[cell["user_id"]].latest[cell["quiz_id"]] = cell["fraction"]
    if best:
        for cell in _graded(cohort, quizzes).values("user_id", "quiz_id").annotate(fraction=Max(_fraction())):
            rows[cell["user_id"]].scores[cell["quiz_id"]] = cell["fraction"]
    else:
        for row in rows.values():
            row.scores = dict(row.latest)
    in_cohort = Q(user__enrolments__cohort=cohort)
    labs = Submission.objects.filter(in_cohort).values("user_id").annotate(
        attempted=Count("lab_id", distinct=True), accepted=Count("lab_id", filter=Q(verdict="accepted"), distinct=True))
    for lab in labs:
        rows[lab["user_id"]].labs_attempted, rows[lab["user_id"]].labs_accepted = lab["attempted"], lab["accepted"]
    for user_id, n in _per_user(ReviewLog.objects.filter(in_cohort, reviewed_at__gte=now - dt.timedelta(days=7)),
                                Count("id")).items():
        rows[user_id].reviews_7d = n
    for user_id, n in _per_user(ReviewState.objects.filter(in_cohort, due__lt=now), Count("id")).items():
        rows[user_id].overdue = n
    activity = [
        _per_user(Attempt.objects.filter(in_cohort), Max("started_at")),
        _per_user(Submission.objects.filter(in_cohort), Max("created_at")),
        _per_user(ReviewLog.objects.filter(in_cohort), Max("reviewed_at")),
        _per_user(Response.objects.filter(in_cohort), Max("created_at")),
        {r["user_id"]: r["value"] for r in AttemptAnswer.objects.filter(attempt__user__enrolments__cohort=cohort)
         .values(user_id=F("attempt__user_id")).annotate(value=Max("saved_at"))},
    ]
    for user_id, row in rows.items():
        row.last_activity = max((found[user_id] for found in activity if found.get(user_id)), default=None)
        row.risks = _risks(row, now)
    return list(rows.values())


def _risks(row: StudentRow, now: dt.datetime) -> list[str]:
    """Why a student needs a look, by the thresholds in settings (AT_RISK_*)."""
    risks = []
    days = settings.AT_RISK_INACTIVE_DAYS
    since = row.last_activity or row.joined_at
    if now - since > dt.timedelta(days=days):
        risks.append(f"no activity for {(now - since).days} days" if row.last_activity
                     else f"no activity since joining {(now - since).days} days ago")
    mean = row.mean_latest
    if mean is not None and mean < settings.AT_RISK_MEAN_SCORE:
        risks.append(f"mean quiz score {100 * mean:.0f}% (latest attempts)")
    if row.overdue > settings.AT_RISK_OVERDUE_CARDS:
        risks.append(f"{row.overdue} drill cards overdue")
    return risks


SORTS = {
    "name": lambda row: row.username,
    "risk": lambda row: (not row.risks, row.username),
    # never active first, then the least recently active
    "activity": lambda row: (row.last_activity is not None,
                             row.last_activity.timestamp() if row.last_activity else 0.0, row.username),
    "labs": lambda row: (-row.labs_accepted, row.username),
    "overdue": lambda row: (-row.overdue, row.username),
}


def students_sorted(rows: list[StudentRow], sort: str) -> list[StudentRow]:
    """By a column of SORTS, or ``quiz-<id>`` (lowest score first, not attempted last)."""
    if sort.startswith("quiz-") and sort[5:].isdigit():
        quiz_id = int(sort[5:])
        return sorted(rows, key=lambda r: (quiz_id not in r.scores, r.scores.get(quiz_id, 0.0), r.username))
    return sorted(rows, key=SORTS.get(sort, SORTS["name"]))


def cohorts_overview(*, user: User) -> list[dict]:
    """The cohorts an instructor teaches, each with its size and how many of its students are at risk."""
    overview = []
    for cohort in cohorts_taught_by(user):
        students = cohort_students(cohort=cohort, quizzes=cohort_quizzes(cohort=cohort), best=False)
        overview.append({"cohort": cohort, "size": len(students), "at_risk": sum(bool(s.risks) for s in students)})
    return overview


# ---------------------------------------------------------------------------------- the per-quiz gradebook


def quiz_gradebook(*, cohort: Cohort, quiz: Quiz) -> dict:
    """Every attempt of every student of the cohort on one quiz, each student's extensions and added
    attempts, and the audit rows of this cohort and quiz. A fixed number of queries."""
    attempts = list(Attempt.objects.filter(quiz=quiz, user__enrolments__cohort=cohort)
                    .select_related("user").order_by("user__username", "number"))
    students = list(User.objects.filter(enrolments__cohort=cohort).order_by("username").values("id", "username"))
    in_cohort = Q(user__enrolments__cohort=cohort, quiz=quiz)
    extensions = _per_user(Extension.objects.filter(in_cohort), Sum("extra_s"))
    grants = _per_user(AttemptGrant.objects.filter(in_cohort), Sum("extra"))
    multipliers = dict(Enrolment.objects.filter(cohort=cohort).values_list("student_id", "time_multiplier"))
    for attempt in attempts:
        attempt.extension_min = (extensions.get(attempt.user_id) or 0) / 60
        attempt.time_used = attempt_time_used(attempt=attempt)
    audit = (AuditEntry.objects.filter(cohort=cohort, quiz=quiz).select_related("actor", "learner", "attempt")[:100])
    timed = quiz.time_limit_s and quiz.cohort_id == cohort.id  # multipliers apply to the cohort's own quizzes
    accommodated = [{"username": s["username"], "extra_min": (extensions.get(s["id"]) or 0) / 60,
                     "extra_attempts": grants.get(s["id"]) or 0,
                     "multiplier": multipliers.get(s["id"], 1.0) if timed else 1.0,
                     "limit_min": timed and quiz.time_limit_s * multipliers.get(s["id"], 1.0) / 60}
                    for s in students
                    if extensions.get(s["id"]) or grants.get(s["id"]) or (timed and multipliers.get(s["id"], 1.0) != 1.0)]
    return {"attempts": attempts, "students": students, "accommodated": accommodated, "audit": list(audit)}
