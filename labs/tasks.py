"""Thin Celery wrappers around labs.services and labs.grading, and the worker's own upkeep: removing the
sandbox containers a dead worker left (at start) and its own (at stop), and a heartbeat that says which
sandbox backend this worker runs."""

from __future__ import annotations

import logging
import os
import secrets
import threading
import time

from celery import shared_task
from celery.signals import (
    celeryd_init,
    worker_process_init,
    worker_process_shutdown,
    worker_ready,
    worker_shutdown,
)
from django.conf import settings

from content.labs import lab_folder_get
from labs import services
from labs.grading import GradeReport, Verdict, grade

log = logging.getLogger("labs")


@shared_task(acks_late=True, reject_on_worker_lost=True)
def grade_submission(submission_id: int, device: str = "cpu") -> None:
    submission = services.submission_claim(submission_id=submission_id)
    if submission is None:
        return  # a redelivery of a submission another delivery already graded or is grading
    try:
        report = grade(lab_folder_get(submission.lab.slug), submission.code,
                       name=f"sub{submission.id}-try{submission.attempts}", device=device,
                       gpus=settings.SANDBOX_GPUS if device == "cuda" else "",
                       on_progress=lambda fields: services.submission_progress(submission_id=submission_id,
                                                                               fields=fields))
    except Exception:  # noqa: BLE001 - our failure, never the learner's: record and retry
        log.exception("grading submission %s failed", submission_id)
        report = GradeReport(Verdict.INTERNAL_ERROR, diagnostics="The grader failed; it will be retried.")
    report.timings = {"queue_wait_s": submission.queue_wait_s, **report.timings}
    log.info("submission %s graded: %s", submission_id, report.verdict.value,
             extra={"submission": submission_id, "lab": submission.lab.slug, "verdict": report.verdict.value})
    if services.submission_record_result(submission_id=submission_id, report=report):
        services.submission_enqueue(submission_id=submission_id,
                                    delay_s=services.RETRY_DELAY_S * submission.attempts)
    else:
        services.submission_release_next(user_id=submission.user_id)


@shared_task
def sweep_stuck_submissions() -> list[int]:
    return services.submissions_requeue_stuck()


@celeryd_init.connect
def _sandbox_owner(sender=None, **_kwargs) -> None:
    """The sandbox containers this worker starts carry its node name and an id of this run of it
    (sandbox.docker_backend.owner, run_id), set before the pool's processes fork so that they inherit them."""
    if sender:
        os.environ["QUANTPREP_SANDBOX_OWNER"] = str(sender)
    os.environ["QUANTPREP_SANDBOX_RUN"] = secrets.token_hex(8)


@celeryd_init.connect
def _torch_before_the_fork(**_kwargs) -> None:
    """A worker makes lab inputs with torch (the web process never imports it): imported once here, before
    the pool forks, rather than by each pool process at its first job."""
    import torch  # noqa: F401


@worker_process_init.connect
def _keep_warm(**_kwargs) -> None:
    """Each worker process starts SANDBOX_WARM sandboxes ahead of its first job and keeps that many
    (sandbox.pool), makes each lab's next inputs ahead and reuses the reference's recent timing
    (labs.grading.warm). A GPU worker's sandboxes are of its own kind and start with its first job."""
    if settings.SANDBOX_WARM <= 0:
        return
    from labs.grading import warm, warm_up

    warm.enable()
    threading.Thread(target=warm_up, args=(settings.SANDBOX_WARM,), kwargs={"only": settings.SANDBOX_WARM_LABS},
                     name="warm-up", daemon=True).start()


@worker_process_shutdown.connect
def _close_warm(**_kwargs) -> None:
    """The warm sandboxes go with their worker process (a killed worker's are removed by the next sweep;
    a warm harness whose worker is gone also ends itself when its stdin closes)."""
    from sandbox.api import get_backend

    try:
        pool = getattr(get_backend(), "pool", None)
        if pool is not None:
            pool.close()
    except Exception:  # noqa: BLE001 - shutting down: nothing more to do
        log.exception("could not close the warm sandboxes")


@worker_shutdown.connect
def _remove_own_sandboxes(**_kwargs) -> None:
    """Sent once the pool's processes have exited: whatever sandbox containers of this run they left (a
    process killed while it closed its pool, or replaced after a time limit) go with the worker."""
    from sandbox.api import get_backend

    try:
        backend = get_backend()
        if hasattr(backend, "sweep"):
            backend.sweep(this_run_too=True)
    except Exception:  # noqa: BLE001 - no engine now: the next start's sweep removes them
        log.exception("could not remove this worker's sandbox containers")


@worker_ready.connect
def _worker_upkeep(sender=None, **_kwargs) -> None:
    """Containers of a worker that died are removed before this one takes work; then a heartbeat every
    WORKER_HEARTBEAT_S says which backend this worker's jobs run on."""
    from sandbox.api import get_backend

    try:
        backend = get_backend()
        if hasattr(backend, "sweep"):
            backend.sweep()
    except Exception:  # noqa: BLE001 - no engine now: the heartbeat says so, and jobs fail until it is back
        log.exception("could not sweep leftover sandbox containers")
    hostname = getattr(sender, "hostname", None) or "worker"
    queues = ",".join(sorted(q.name for q in getattr(getattr(sender, "task_consumer", None), "queues", []) or []))
    concurrency = getattr(getattr(sender, "controller", None), "concurrency", None) or 1

    def beat() -> None:
        from django.db import close_old_connections

        while True:
            try:
                services.worker_heartbeat(hostname=hostname, queues=queues, concurrency=concurrency)
            except Exception:  # noqa: BLE001 - a heartbeat lost to a database hiccup is sent again next time
                log.exception("worker heartbeat failed")
            finally:
                close_old_connections()
            time.sleep(settings.WORKER_HEARTBEAT_S)

    threading.Thread(target=beat, name="heartbeat", daemon=True).start()
