"""State changes of submissions. The row is the source of truth; the queue only carries its id, and
delivery is at least once, so grading claims the row with a conditional update first."""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from labs.models import Lab, Submission
from labs.pipeline import MAX_CODE_BYTES, GradeReport, Verdict

log = logging.getLogger("labs")
MAX_GRADING_ATTEMPTS = 3


class SubmissionRejected(ValueError):
    pass


@transaction.atomic
def submission_create(*, user: User, lab: Lab, code: str) -> Submission:
    if not code.strip():
        raise SubmissionRejected("The submission is empty.")
    if len(code.encode()) > MAX_CODE_BYTES:
        raise SubmissionRejected(f"The submission is larger than {MAX_CODE_BYTES // 1024} KB.")
    submission = Submission.objects.create(user=user, lab=lab, code=code, progress="queued")
    transaction.on_commit(lambda: submission_enqueue(submission_id=submission.id))
    return submission


def submission_enqueue(*, submission_id: int) -> None:
    """GPU machines (SANDBOX_GPUS set) grade on the ``gpu`` queue, one job per GPU; others on ``grading``."""
    from labs.tasks import grade_submission

    if settings.SANDBOX_GPUS:
        grade_submission.apply_async((submission_id,), {"device": "cuda"}, queue="gpu")
    else:
        grade_submission.delay(submission_id)


def submission_claim(*, submission_id: int) -> Submission | None:
    """Take a queued submission for grading; None when another delivery already has it or it is done.
    A submission left in ``preparing``/``running`` by a dead worker is re-queued by the sweeper."""
    claimed = Submission.objects.filter(id=submission_id, status=Submission.Status.QUEUED).update(
        updated_at=timezone.now(), status=Submission.Status.PREPARING, progress="preparing", attempts=F("attempts") + 1,
        started_at=timezone.now())
    return Submission.objects.select_related("lab").get(id=submission_id) if claimed else None


def submission_progress(*, submission_id: int, fields: dict) -> None:
    stage = str(fields.get("stage", ""))
    if "case" in fields and "of" in fields:
        text = f"{stage} case {fields['case']} of {fields['of']}"
        status = Submission.Status.RUNNING
    else:
        text = stage
        status = Submission.Status.SCORING if stage == "scoring" else Submission.Status.RUNNING
        if stage == "preparing":
            status = Submission.Status.PREPARING
    Submission.objects.filter(id=submission_id).exclude(status=Submission.Status.DONE).update(
        status=status, progress=text[:200], updated_at=timezone.now())


def submission_record_result(*, submission_id: int, report: GradeReport) -> bool:
    """Record a verdict once. An internal error goes back to the queue (never charged to the learner)
    until MAX_GRADING_ATTEMPTS; returns True when the submission should be graded again."""
    active = Q(id=submission_id) & ~Q(status=Submission.Status.DONE)
    if report.verdict == Verdict.INTERNAL_ERROR:
        submission = Submission.objects.get(id=submission_id)
        if submission.attempts < MAX_GRADING_ATTEMPTS:
            Submission.objects.filter(active).update(status=Submission.Status.QUEUED, updated_at=timezone.now(),
                                                     progress="queued again after a grader error")
            return True
    Submission.objects.filter(active).update(
        status=Submission.Status.DONE, progress="done", verdict=report.verdict, score=report.score,
        result=report.as_json(), backend=report.backend, finished_at=timezone.now(), updated_at=timezone.now())
    return False


def submissions_requeue_stuck(*, now: dt.datetime | None = None) -> list[int]:
    """Submissions whose worker vanished: queued or in progress and untouched for LAB_STUCK_AFTER_S."""
    cutoff = (now or timezone.now()) - dt.timedelta(seconds=settings.LAB_STUCK_AFTER_S)
    stuck = list(Submission.objects.filter(updated_at__lt=cutoff).exclude(status=Submission.Status.DONE)
                 .values_list("id", flat=True))
    for submission_id in stuck:
        Submission.objects.filter(id=submission_id).exclude(status=Submission.Status.DONE).update(
            status=Submission.Status.QUEUED, progress="queued again (the worker stopped)", updated_at=timezone.now())
        submission_enqueue(submission_id=submission_id)
    if stuck:
        log.warning("requeued stuck submissions %s", stuck)
    return stuck
