"""State changes of submissions. The row is the source of truth; the queue only carries its id, and
delivery is at least once, so grading claims the row with a conditional update first."""

from __future__ import annotations

import datetime as dt
import logging
import math
import statistics
import time

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import F, OuterRef, Q, Subquery
from django.template.defaultfilters import pluralize
from django.utils import timezone

from graders.labs.score import lab_score
from labs.grading import MAX_CODE_BYTES, GradeReport, Verdict
from labs.models import Lab, LabDraft, LabRerun, Submission, SubmissionRerun, WorkerHeartbeat

log = logging.getLogger("labs")
MAX_GRADING_ATTEMPTS = 3  # in all, the sweeper's requeues included
RETRY_DELAY_S = 30  # times the attempts so far: a grader error is retried after 30 s, then 60 s
MAX_SCORE = 100.0  # a lab's points (lab.toml ``points``, 100 for every lab): the scale of Submission.score
MAX_OVERRIDE_REASON = 300
GAVE_UP = ("We could not grade this submission after {n} tries: the failure was ours, not your code's, and this "
           "submission does not count against you. Please submit it again.")


class SubmissionRejected(ValueError):
    pass


class TooManySubmissions(SubmissionRejected):
    """A limit on waiting or recent submissions; ``retry_after`` in seconds when waiting helps at a known time."""

    def __init__(self, message: str, retry_after: int | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class DraftTooLarge(ValueError):
    pass


def draft_save(*, user: User, lab: Lab, code: str) -> LabDraft:
    """Overwrite the learner's draft of this lab (one row each). Refused past the submission size cap:
    a draft the grader would refuse is not kept either. Line ends are stored as "\n" (a browser's form data
    sends "\r\n")."""
    code = code.replace("\r\n", "\n")
    if len(code.encode()) > MAX_CODE_BYTES:
        raise DraftTooLarge(f"Not saved: the code is larger than {MAX_CODE_BYTES // 1024} KB, the most a "
                            "submission may be.")
    draft, _ = LabDraft.objects.update_or_create(user=user, lab=lab, defaults={"code": code})
    return draft


WAITING = (Submission.Status.QUEUED, Submission.Status.PREPARING, Submission.Status.RUNNING, Submission.Status.SCORING)


def _check_limits(*, user: User, lab: Lab, now: dt.datetime) -> None:
    """At most LAB_MAX_WAITING of a learner's submissions wait to be graded, and a lab may cap submissions
    per learner per hour (``submissions_per_hour`` in lab.toml)."""
    waiting = Submission.objects.filter(user=user, status__in=WAITING).count()
    if waiting >= settings.LAB_MAX_WAITING:
        raise TooManySubmissions(f"You already have {waiting} submission{pluralize(waiting)} waiting to be graded: "
                                 "wait for one to finish before you send another.")
    per_hour = lab.config.get("submissions_per_hour")
    if per_hour:
        since = now - dt.timedelta(hours=1)
        recent = list(Submission.objects.filter(user=user, lab=lab, created_at__gte=since)
                      .order_by("created_at").values_list("created_at", flat=True))
        if len(recent) >= per_hour:
            retry = max(1, int((recent[0] + dt.timedelta(hours=1) - now).total_seconds()))
            minutes = retry // 60 + 1
            raise TooManySubmissions(f"This lab takes at most {per_hour} submission{pluralize(per_hour)} an hour from "
                                     f"each learner; the next one is possible in {minutes} minute{pluralize(minutes)}.",
                                     retry_after=retry)


@transaction.atomic
def submission_create(*, user: User, lab: Lab, code: str) -> Submission:
    if not code.strip():
        raise SubmissionRejected("The submission is empty.")
    if len(code.encode()) > MAX_CODE_BYTES:
        raise SubmissionRejected(f"The submission is larger than {MAX_CODE_BYTES // 1024} KB.")
    User.objects.select_for_update().filter(pk=user.pk).first()  # one learner's submissions, one at a time
    _check_limits(user=user, lab=lab, now=timezone.now())
    # A learner has one submission with the workers at a time; the next waits here, not in the shared queue,
    # so that one learner's burst delays another learner's verdict by one job at most.
    held = Submission.objects.filter(user=user, status__in=WAITING).exists()
    submission = Submission.objects.create(user=user, lab=lab, code=code, held=held,
                                           progress="waiting for your previous submission" if held else "queued")
    if not held:
        transaction.on_commit(lambda: submission_enqueue(submission_id=submission.id))
    return submission


def submission_release_next(*, user_id: int) -> int | None:
    """When a learner's submission is done, send their next held one to the workers. Returns its id."""
    with transaction.atomic():
        if Submission.objects.filter(user_id=user_id, status__in=WAITING, held=False).exists():
            return None  # one is still with the workers (a retry, or a release already made)
        nxt = (Submission.objects.select_for_update().filter(user_id=user_id, held=True, status=Submission.Status.QUEUED)
               .order_by("created_at", "id").first())
        if nxt is None:
            return None
        Submission.objects.filter(pk=nxt.pk).update(held=False, progress="queued", updated_at=timezone.now())
        transaction.on_commit(lambda: submission_enqueue(submission_id=nxt.id))
    return nxt.id


def queue_position(*, submission: Submission) -> int | None:
    """How many submissions are ahead of this one with the workers, plus one; None when it is not waiting
    there (held behind the learner's own, or already being graded or done)."""
    if submission.status != Submission.Status.QUEUED or submission.held:
        return None
    # a queued row's updated_at is when it was sent to the workers (created, released or requeued)
    return Submission.objects.filter(status=Submission.Status.QUEUED, held=False, updated_at__lt=submission.updated_at
                                     ).count() + 1


RECENT_FOR_ESTIMATE = 30  # graded submissions whose grading time makes the estimate


def queue_estimate(*, submission: Submission) -> dict | None:
    """Where a waiting submission stands: its ``position`` (itself included), how many are ``ahead`` and
    ``seconds`` until its verdict, about: the rounds of jobs before it (the live workers' slots at a time, by
    their heartbeats) times the median grading time of the last graded submissions. ``seconds`` is None
    with no history or no live worker. None when it is not waiting with the workers."""
    position = queue_position(submission=submission)
    if position is None:
        return None
    recent = (Submission.objects.filter(status=Submission.Status.DONE, started_at__isnull=False,
                                        finished_at__isnull=False).exclude(verdict=Verdict.INTERNAL_ERROR)
              .order_by("-finished_at").values_list("started_at", "finished_at")[:RECENT_FOR_ESTIMATE])
    durations = [(finished - started).total_seconds() for started, finished in recent]
    queue = "gpu" if settings.SANDBOX_GPUS else "grading"
    alive = timezone.now() - dt.timedelta(seconds=3 * settings.WORKER_HEARTBEAT_S)
    slots = sum(concurrency for queues, concurrency in WorkerHeartbeat.objects.filter(seen_at__gte=alive)
                .values_list("queues", "concurrency") if queue in queues.split(","))
    seconds = math.ceil(position / slots) * statistics.median(durations) if durations and slots else None
    return {"position": position, "ahead": position - 1, "seconds": seconds}


def submission_enqueue(*, submission_id: int, delay_s: float = 0) -> None:
    """GPU machines (SANDBOX_GPUS set) grade on the ``gpu`` queue, one job per GPU; others on ``grading``."""
    from labs.tasks import grade_submission

    if settings.SANDBOX_GPUS:
        grade_submission.apply_async((submission_id,), {"device": "cuda"}, queue="gpu", countdown=delay_s)
    else:
        grade_submission.apply_async((submission_id,), countdown=delay_s)


def submission_claim(*, submission_id: int) -> Submission | None:
    """Take a queued submission for grading; None when another delivery already has it or it is done.
    A submission left in ``preparing``/``running`` by a dead worker is re-queued by the sweeper."""
    queued = Submission.objects.filter(id=submission_id, status=Submission.Status.QUEUED)
    sent_at = queued.values_list("updated_at", flat=True).first()  # when it was sent to the workers
    now = timezone.now()
    claimed = queued.update(updated_at=now, status=Submission.Status.PREPARING, progress="preparing",
                            attempts=F("attempts") + 1, started_at=now)
    if not claimed:
        return None
    submission = Submission.objects.select_related("lab").get(id=submission_id)
    submission.queue_wait_s = round((now - sent_at).total_seconds(), 3) if sent_at else None
    return submission


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
    until MAX_GRADING_ATTEMPTS; returns True when the submission should be graded again (after
    ``retry_delay_s``: an engine that is down now may be back then)."""
    active = Q(id=submission_id) & ~Q(status=Submission.Status.DONE)
    if report.verdict == Verdict.INTERNAL_ERROR:
        attempts = Submission.objects.filter(id=submission_id).values_list("attempts", flat=True).first() or 0
        if attempts < MAX_GRADING_ATTEMPTS:
            Submission.objects.filter(active).update(status=Submission.Status.QUEUED, updated_at=timezone.now(),
                                                     progress="queued again after a grader error")
            return True
        report.diagnostics = GAVE_UP.format(n=attempts) + "\n" + report.diagnostics
    started = time.monotonic()
    result = report.as_json()
    recorded = Submission.objects.filter(active).update(
        status=Submission.Status.DONE, progress="done", verdict=report.verdict, score=report.score,
        result=result, backend=report.backend, finished_at=timezone.now(), updated_at=timezone.now(),
        speed_review=Submission.SpeedReview.NEEDED if report.needs_review else Submission.SpeedReview.NONE)
    if recorded:  # the write's own time, measured, then added: the breakdown's last stage
        result["timings"] = {**result.get("timings", {}), "result_write_s": round(time.monotonic() - started, 3)}
        Submission.objects.filter(id=submission_id).update(result=result)
    return False


def submissions_requeue_stuck(*, now: dt.datetime | None = None) -> list[int]:
    """Submissions whose worker vanished: queued or in progress and untouched for LAB_STUCK_AFTER_S. Each
    grading attempt counts, the sweeper's too: one that has had MAX_GRADING_ATTEMPTS ends as an internal
    error the learner is told about, instead of going round for ever."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(seconds=settings.LAB_STUCK_AFTER_S)
    stuck = Submission.objects.filter(updated_at__lt=cutoff, held=False).exclude(status=Submission.Status.DONE)
    requeued = []
    for submission_id, attempts in stuck.values_list("id", "attempts"):
        still_stuck = Submission.objects.filter(id=submission_id, updated_at__lt=cutoff).exclude(
            status=Submission.Status.DONE)
        if attempts >= MAX_GRADING_ATTEMPTS:
            report = GradeReport(Verdict.INTERNAL_ERROR, diagnostics=GAVE_UP.format(n=attempts))
            still_stuck.update(status=Submission.Status.DONE, progress="done", verdict=report.verdict, score=0,
                               result=report.as_json(), finished_at=now, updated_at=now)
            log.error("submission %s gave up after %s grading attempts", submission_id, attempts)
        elif still_stuck.update(status=Submission.Status.QUEUED, progress="queued again (the worker stopped)",
                                updated_at=now):
            submission_enqueue(submission_id=submission_id)
            requeued.append(submission_id)
    if requeued:
        log.warning("requeued stuck submissions %s", requeued)
    # a held submission whose release was lost (its worker died between the verdict and the release)
    for user_id in set(Submission.objects.filter(held=True, updated_at__lt=cutoff).values_list("user_id", flat=True)):
        submission_release_next(user_id=user_id)
    return requeued


@transaction.atomic
def submission_speed_review(*, submission: Submission, reviewer: User, accept: bool) -> Submission:
    """An instructor's decision on a speedup above the lab's plausible ceiling: cleared, the recorded
    speedup earns its speed points; rejected, the score stays at the base points."""
    row = Submission.objects.select_for_update().select_related("lab").get(id=submission.id)
    if row.speed_review != Submission.SpeedReview.NEEDED:
        raise SubmissionRejected("This submission's speedup is not waiting for review.")
    meta = row.lab.config
    if accept:
        row.score = lab_score(all_passed=True, points=meta["points"], speed_points=meta["speed_points"],
                              speed_cap=meta["speed_cap"], speedup=row.result.get("speedup"))
    row.speed_review = Submission.SpeedReview.CLEARED if accept else Submission.SpeedReview.REJECTED
    row.reviewed_by, row.reviewed_at = reviewer, timezone.now()
    row.save(update_fields=["score", "speed_review", "reviewed_by", "reviewed_at", "updated_at"])
    log.info("speedup of submission %s %s by %s", row.id, row.speed_review, reviewer.username)
    return row


@transaction.atomic
def submission_score_override(*, submission: Submission, score: float | None, reason: str, actor: User) -> Submission:
    """An instructor's score for a graded submission, on the grader's scale (0 to 100), or None to go back
    to the grader's. The grader's ``score`` and ``verdict`` are never touched, so both stay visible."""
    reason = (reason or "").strip()
    if not reason:
        raise SubmissionRejected("Say why: a reason is required (the learner reads it).")
    if len(reason) > MAX_OVERRIDE_REASON:
        raise SubmissionRejected(f"The reason is longer than {MAX_OVERRIDE_REASON} characters.")
    if score is not None:
        score = float(score)
        if not math.isfinite(score) or not 0 <= score <= MAX_SCORE:
            raise SubmissionRejected(f"A score is from 0 to {MAX_SCORE:g}, as the grader's.")
    row = Submission.objects.select_for_update().get(id=submission.id)
    if row.status != Submission.Status.DONE:
        raise SubmissionRejected("This submission is not graded yet: its score can be set once the grader is done.")
    if score is None:
        row.score_override, row.override_reason, row.overridden_by, row.overridden_at = None, "", None, None
    else:
        row.score_override, row.override_reason = score, reason
        row.overridden_by, row.overridden_at = actor, timezone.now()
    row.save(update_fields=["score_override", "override_reason", "overridden_by", "overridden_at", "updated_at"])
    log.info("score of submission %s set to %s by %s", row.id, score, actor.username)
    return row


def worker_heartbeat(*, hostname: str, queues: str, concurrency: int = 1) -> WorkerHeartbeat:
    """A worker says which backend runs the jobs it takes (asked of the backend now, never cached)."""
    from sandbox.api import backend_status

    status = backend_status()
    heartbeat, _ = WorkerHeartbeat.objects.update_or_create(hostname=hostname, defaults={
        "backend": status["name"], "unsafe": status["unsafe"], "problem": status["problem"][:300], "queues": queues,
        "concurrency": concurrency, "seen_at": timezone.now()})
    return heartbeat


# ----------------------------------------------------------------------------- re-running after a lab changes


def lab_rerun_candidates(*, lab: Lab, every: bool = False):
    """Finished submissions graded before the lab's current version (``Lab.updated_at`` moves when its
    content hash does) and not re-run against it yet: each student's latest one, or ``every`` one."""
    done = (Submission.objects.filter(lab=lab, status=Submission.Status.DONE, finished_at__lt=lab.updated_at)
            .exclude(reruns__rerun__content_hash=lab.content_hash))
    if not every:
        latest = Submission.objects.filter(lab=lab, user=OuterRef("user"), status=Submission.Status.DONE).order_by(
            "-created_at", "-id").values("id")[:1]
        done = done.filter(id=Subquery(latest))
    return done.order_by("user__username", "id")


def lab_rerun(*, lab: Lab, reason: str, actor: User | None = None, every: bool = False) -> LabRerun | None:
    """Grade the candidates again, as new grading runs of the same rows: their old verdict, score and result
    are kept (``SubmissionRerun``) and shown to the learner beside the new ones. Idempotent: a second run
    against the same lab content finds nothing to do and returns None."""
    reason = reason.strip()
    if not reason:
        raise SubmissionRejected("Say why the submissions are graded again (the learners read it).")
    with transaction.atomic():
        rows = list(lab_rerun_candidates(lab=lab, every=every).select_for_update(of=("self",)).values(
            "id", "verdict", "score", "result"))
        if not rows:
            return None
        rerun = LabRerun.objects.create(lab=lab, content_hash=lab.content_hash, actor=actor, reason=reason[:300])
        SubmissionRerun.objects.bulk_create([
            SubmissionRerun(rerun=rerun, submission_id=r["id"], old_verdict=r["verdict"], old_score=r["score"],
                            old_result=r["result"]) for r in rows])
        ids = [r["id"] for r in rows]
        Submission.objects.filter(id__in=ids).update(
            status=Submission.Status.QUEUED, progress=f"queued to be graded again: {reason}"[:200], attempts=0,
            verdict="", score=None, result={}, speed_review=Submission.SpeedReview.NONE, started_at=None,
            finished_at=None, updated_at=timezone.now())
        transaction.on_commit(lambda: [submission_enqueue(submission_id=i) for i in ids])
    log.info("lab %s: %d submissions queued to be graded again (%s)", lab.slug, len(ids), reason)
    return rerun
