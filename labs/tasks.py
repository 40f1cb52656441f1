"""Thin Celery wrappers around labs.services and labs.pipeline."""

from __future__ import annotations

import logging

from celery import shared_task
from celery.signals import worker_ready

from labs import services
from labs.content import lab_folder_get
from labs.pipeline import GradeReport, Verdict, grade

log = logging.getLogger("labs")


@shared_task(acks_late=True, reject_on_worker_lost=True)
def grade_submission(submission_id: int, device: str = "cpu") -> None:
    submission = services.submission_claim(submission_id=submission_id)
    if submission is None:
        return  # a redelivery of a submission another delivery already graded or is grading
    try:
        report = grade(lab_folder_get(submission.lab.slug), submission.code,
                       name=f"sub{submission.id}-try{submission.attempts}", device=device,
                       on_progress=lambda fields: services.submission_progress(submission_id=submission_id,
                                                                               fields=fields))
    except Exception:  # noqa: BLE001 - our failure, never the learner's: record and retry
        log.exception("grading submission %s failed", submission_id)
        report = GradeReport(Verdict.INTERNAL_ERROR, diagnostics="The grader failed; it will be retried.")
    if services.submission_record_result(submission_id=submission_id, report=report):
        services.submission_enqueue(submission_id=submission_id)


@shared_task
def sweep_stuck_submissions() -> list[int]:
    return services.submissions_requeue_stuck()


@worker_ready.connect
def _sweep_leftover_containers(**_kwargs) -> None:
    """Containers of a worker that died are removed before this one takes work."""
    from sandbox import get_backend

    backend = get_backend()
    if hasattr(backend, "sweep"):
        backend.sweep()
