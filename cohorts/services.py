"""State changes for accounts, cohorts and rosters. Every change an instructor makes writes an audit row
(``audit_record``) in the same transaction."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from django.contrib.auth.models import User
from django.db import transaction

from cohorts.models import AuditEntry, Cohort, Enrolment, new_invite_code
from cohorts.roles import INSTRUCTOR, STUDENT, role_grant
from labs.models import Submission
from labs.services import SubmissionRejected, submission_score_override
from quizzes.models import Attempt
from quizzes.selectors import deadline_for
from quizzes.services.regrades import answer_override, regrade_apply

MAX_BULK_LINES = 2000
MULTIPLIER_RANGE = (1.0, 5.0)


class InviteCodeInvalid(Exception):
    pass


class RosterError(ValueError):
    """A roster change that cannot be made; the message says why."""


def audit_record(*, actor: User, action: str, cohort: Cohort | None = None, learner: User | None = None,
                 quiz=None, attempt=None, reason: str = "", **detail) -> AuditEntry:
    return AuditEntry.objects.create(actor=actor, action=action, cohort=cohort, learner=learner, quiz=quiz,
                                     attempt=attempt, reason=reason[:300], detail=detail)


@transaction.atomic
def student_register(*, username: str, password: str, invite_code: str = "") -> User:
    user = User.objects.create_user(username=username, password=password)
    role_grant(user=user, role=STUDENT)
    if invite_code:
        cohort_join(user=user, invite_code=invite_code)
    return user


@transaction.atomic
def cohort_create(*, name: str, instructor: User) -> Cohort:
    name = name.strip()
    if not name:
        raise RosterError("A cohort needs a name.")
    role_grant(user=instructor, role=INSTRUCTOR)
    cohort = Cohort.objects.create(name=name[:200])
    cohort.instructors.add(instructor)
    audit_record(actor=instructor, action=AuditEntry.Action.COHORT_CREATED, cohort=cohort, name=cohort.name)
    return cohort


def cohort_join(*, user: User, invite_code: str) -> Cohort:
    code = invite_code.strip().upper()
    cohort = Cohort.objects.filter(invite_code=code).first()
    if cohort is None:
        raise InviteCodeInvalid(f"No cohort has the invite code {code!r}. Check it with your instructor.")
    if cohort.instructors.filter(pk=user.pk).exists():
        raise InviteCodeInvalid(f"You teach {cohort.name}: an instructor does not join as a student.")
    Enrolment.objects.get_or_create(cohort=cohort, student=user)
    return cohort


@transaction.atomic
def cohort_rename(*, cohort: Cohort, name: str, actor: User, reason: str = "") -> Cohort:
    name = name.strip()[:200]
    if not name:
        raise RosterError("A cohort needs a name.")
    old, cohort.name = cohort.name, name
    cohort.save(update_fields=["name"])
    audit_record(actor=actor, action=AuditEntry.Action.COHORT_RENAMED, cohort=cohort, reason=reason, old=old, new=name)
    return cohort


@transaction.atomic
def cohort_rotate_invite(*, cohort: Cohort, actor: User, reason: str = "") -> Cohort:
    """A new invite code; the old one stops working at once (students already enrolled stay)."""
    cohort.invite_code = new_invite_code()
    cohort.save(update_fields=["invite_code"])
    audit_record(actor=actor, action=AuditEntry.Action.INVITE_ROTATED, cohort=cohort, reason=reason)
    return cohort


@transaction.atomic
def cohort_add_instructor(*, cohort: Cohort, username: str, actor: User, reason: str = "") -> User:
    """An instructor of the cohort is not also its student: an enrolment they had ends (their work stays)."""
    user = User.objects.filter(username=username.strip()).first()
    if user is None:
        raise RosterError(f"No user is called {username.strip()!r}.")
    if cohort.instructors.filter(pk=user.pk).exists():
        raise RosterError(f"{user.username} already teaches this cohort.")
    role_grant(user=user, role=INSTRUCTOR)
    cohort.instructors.add(user)
    was_student, _ = Enrolment.objects.filter(cohort=cohort, student=user).delete()
    audit_record(actor=actor, action=AuditEntry.Action.INSTRUCTOR_ADDED, cohort=cohort, learner=user, reason=reason,
                 username=user.username, **({"enrolment_ended": True} if was_student else {}))
    return user


@transaction.atomic
def cohort_remove_student(*, cohort: Cohort, student: User, actor: User, reason: str = "") -> None:
    """The enrolment goes; the student's attempts, answers and submissions stay (theirs, not the cohort's)."""
    deleted, _ = Enrolment.objects.filter(cohort=cohort, student=student).delete()
    if not deleted:
        raise RosterError(f"{student.username} is not in this cohort.")
    audit_record(actor=actor, action=AuditEntry.Action.STUDENT_REMOVED, cohort=cohort, learner=student,
                 reason=reason, username=student.username)


@dataclass(frozen=True)
class EnrolLine:
    line: str  # "3" for the pasted list's third line, "file line 3" for the uploaded CSV's
    username: str
    outcome: str  # enrolled | already enrolled | no such user | an instructor of this cohort
    ok: bool


def usernames_parse(text: str) -> list[tuple[int, str]]:
    """One username per line, or a CSV: its ``username`` column when a header row names one, else its first
    column. Returns (line number, username) for every non-empty line."""
    rows = list(csv.reader(io.StringIO(text)))
    header = [c.strip().lower() for c in rows[0]] if rows else []
    column = header.index("username") if "username" in header else 0
    found = []
    for number, row in enumerate(rows, start=1):
        if number == 1 and "username" in header:
            continue
        name = row[column].strip() if len(row) > column else ""
        if name:
            found.append((number, name))
    return found


@transaction.atomic
def cohort_enrol_bulk(*, cohort: Cohort, text: str = "", file_text: str = "", actor: User,
                      reason: str = "") -> list[EnrolLine]:
    """Enrol every listed username that exists, one report line per name; nobody is created. A pasted
    list and an uploaded CSV are each read by their own rule (``usernames_parse``)."""
    wanted = ([(str(n), name) for n, name in usernames_parse(text)]
              + [(f"file line {n}", name) for n, name in usernames_parse(file_text)])
    if len(wanted) > MAX_BULK_LINES:
        raise RosterError(f"At most {MAX_BULK_LINES} usernames at a time.")
    users = {u.username: u for u in User.objects.filter(username__in=[n for _, n in wanted])}
    enrolled = set(Enrolment.objects.filter(cohort=cohort).values_list("student__username", flat=True))
    teaching = set(cohort.instructors.values_list("username", flat=True))
    report, new = [], []
    for line, name in wanted:
        if name not in users:
            report.append(EnrolLine(line, name, "no such user", False))
        elif name in teaching:
            report.append(EnrolLine(line, name, "an instructor of this cohort", False))
        elif name in enrolled:
            report.append(EnrolLine(line, name, "already enrolled", True))
        else:
            enrolled.add(name)
            new.append(Enrolment(cohort=cohort, student=users[name]))
            report.append(EnrolLine(line, name, "enrolled", True))
    Enrolment.objects.bulk_create(new, ignore_conflicts=True)
    if new:
        audit_record(actor=actor, action=AuditEntry.Action.STUDENTS_ENROLLED, cohort=cohort, reason=reason,
                     usernames=[e.student.username for e in new])
    return report


@transaction.atomic
def enrolment_set_multiplier(*, cohort: Cohort, student: User, multiplier: float, actor: User,
                             reason: str = "") -> Enrolment:
    low, high = MULTIPLIER_RANGE
    if not low <= multiplier <= high:
        raise RosterError(f"A time multiplier is between {low:g} and {high:g}.")
    enrolment = Enrolment.objects.filter(cohort=cohort, student=student).first()
    if enrolment is None:
        raise RosterError(f"{student.username} is not in this cohort.")
    old, enrolment.time_multiplier = enrolment.time_multiplier, multiplier
    enrolment.save(update_fields=["time_multiplier"])
    # An attempt in progress gets the longer limit of a higher multiplier (counted from its start); a lower
    # one applies from the next attempt: a deadline in progress never moves earlier, so no answer saved in
    # time stops counting and a reopened attempt keeps its time.
    running = Attempt.objects.filter(user=student, quiz__cohort=cohort, status=Attempt.Status.OPEN, practice=False,
                                     deadline__isnull=False).select_related("quiz")
    for attempt in running:
        later = deadline_for(quiz=attempt.quiz, user=student, started_at=attempt.started_at)
        Attempt.objects.filter(pk=attempt.pk, status=Attempt.Status.OPEN, deadline__lt=later).update(deadline=later)
    audit_record(actor=actor, action=AuditEntry.Action.TIME_MULTIPLIER, cohort=cohort, learner=student,
                 reason=reason, old=old, new=multiplier, running_attempts=len(running))
    return enrolment


# ----------------------------------------------------------------------------- grade corrections, audited


def cohort_regrade(*, cohort: Cohort, part, actor: User, reason: str, include_overridden: bool = False,
                   quiz=None, key_change=None):
    """Regrade one part for the cohort's students (quizzes.services.regrades), with its audit row (on the
    gradebook of ``quiz``, the one it was started from)."""
    with transaction.atomic():
        plan, regrade = regrade_apply(part=part, reason=reason, actor=actor, cohort=cohort, key_change=key_change,
                                      include_overridden=include_overridden)
        if regrade is not None:
            audit_record(actor=actor, action=AuditEntry.Action.ANSWERS_REGRADED, cohort=cohort, quiz=quiz,
                         reason=regrade.reason,
                         part=f"{part.question.slug}:{part.key}", answers_changed=len(plan.changes),
                         attempts_changed=len(plan.totals))
    return plan, regrade


def cohort_grade_override(*, cohort: Cohort, answer, score: float, comment: str, actor: User):
    """An instructor's score for one answer of a cohort's student, with its audit row."""
    with transaction.atomic():
        change = answer_override(answer=answer, score=score, comment=comment, actor=actor)
        attempt = answer.attempt
        audit_record(actor=actor, action=AuditEntry.Action.GRADE_OVERRIDDEN, cohort=cohort, learner=attempt.user,
                     quiz=attempt.quiz, attempt=attempt, reason=comment,
                     part=f"{answer.part.question.slug}:{answer.part.key}", old=change.old_score, new=change.new_score)
    return change


def cohort_submission_override(*, cohort: Cohort, submission, score: float | None, reason: str, actor: User):
    """An instructor's score for a lab submission of one of the cohort's students (labs.services), with its
    audit row: the old and new effective score, so the history reads without the submission."""
    with transaction.atomic():
        before = Submission.objects.select_for_update().select_related("lab", "user").get(
            id=submission.id)
        if not Enrolment.objects.filter(cohort=cohort, student_id=before.user_id).exists():
            raise SubmissionRejected("This submission is not by a student of this cohort.")
        row = submission_score_override(submission=before, score=score, reason=reason, actor=actor)
        audit_record(actor=actor, action=AuditEntry.Action.SUBMISSION_OVERRIDDEN, cohort=cohort, learner=before.user,
                     reason=reason.strip(), lab=before.lab.slug, submission=row.id, old=before.effective_score,
                     new=row.effective_score)
    return row
