"""Grading one lab submission, the same way for the Celery worker, ``manage.py grade_lab`` and the GPU
check: the static rules, then building the job (``build``), running it in the sandbox, reading what
comes back (``result``) and judging it (``judge``). No Django and no queries here: the caller records
the report. docs/sandbox.md describes the protocol and its threat model."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable

from content.labs import LabFolder
from labs.grading import warm
from labs.grading.build import job_build, job_kind, plan_make
from labs.grading.judge import judge
from labs.grading.report import GradeReport, Verdict
from labs.grading.result import result_read
from labs.grading.rules import MAX_CODE_BYTES, forbidden_use
from sandbox import pool
from sandbox.job import SandboxUnavailable

log = logging.getLogger("labs")
__all__ = ["MAX_CODE_BYTES", "GradeReport", "Verdict", "grade", "warm_up"]


def grade(lab: LabFolder, code: str, *, name: str, backend=None, device: str = "cpu", gpus: str = "",
          reference_device: str = "cpu", on_progress: Callable[[dict], None] | None = None) -> GradeReport:
    """``backend``: a name for ``sandbox.api`` (None: SANDBOX_BACKEND) or a backend object with ``run``."""
    tell = on_progress or (lambda fields: None)
    if len(code.encode()) > MAX_CODE_BYTES:
        return GradeReport(Verdict.SYNTAX_ERROR, diagnostics=f"The file is larger than {MAX_CODE_BYTES} bytes.")
    try:
        refusal = forbidden_use(code, lab.meta)
    except SyntaxError as exc:
        return GradeReport(Verdict.SYNTAX_ERROR, diagnostics=f"SyntaxError on line {exc.lineno}: {exc.msg}")
    if refusal:
        return GradeReport(Verdict.FORBIDDEN, diagnostics=refusal)

    if not hasattr(backend, "run"):
        from sandbox.api import get_backend

        backend = get_backend(backend)
    tell({"stage": "preparing"})
    clock = StageClock()
    job, plan = job_build(lab, code, name=name, device=device, gpus=gpus, reference_device=reference_device)

    def heard(fields: dict) -> None:
        stage = fields.get("stage", "")
        clock.reached(stage)
        if stage in ("timing the reference", "timing"):
            pool.quiet.clear()  # warm work in the background waits until these calls are timed
        elif stage == "running tests":
            pool.quiet.set()
        tell(fields)

    clock.reached("sandbox")
    try:
        run = backend.run(job, on_stderr_line=lambda line: _relay(line, heard))
    except SandboxUnavailable as exc:
        return GradeReport(Verdict.INTERNAL_ERROR, diagnostics=f"The sandbox is unavailable ({exc}); the "
                           "submission will be graded when it is back.", backend=backend.name)
    finally:
        pool.quiet.set()
        plan.wait()  # the inputs' thread ends first, whatever happened; it re-raises here what failed there
    clock.reached("ran")
    tell({"stage": "scoring"})
    result = result_read(run.stdout)
    if result is not None and plan.reference_calls:
        result.reference.calls = plan.reference_calls  # the worker's own copy, whatever came back
    elif result is not None and result.reference.status == "ok":
        warm.reference_measured(plan.timing_key, result.reference.calls)
    report = judge(lab.meta, plan, run, result)
    clock.reached("scored")
    report.wall_s, report.backend = round(run.wall_s, 3), run.backend
    report.timings = {"inputs_s": round(plan.waited_s, 3), **clock.breakdown()}
    if plan.reference_calls:
        log.info("%s: the reference's timing of %.0f s ago was reused", name, plan.reference_age_s)
    return report


def warm_up(size: int, backend=None, only: list[str] | tuple[str, ...] = ()) -> None:
    """Before the first job: start ``size`` sandboxes of each CPU lab's kind (one kind while the labs share
    their limits), then make each lab's first inputs ahead, one lab at a time: every lab's, or those of the
    slugs in ``only`` (SANDBOX_WARM_LABS). A lab left out is made ready by its first job."""
    from content.labs import lab_folder_get, labs_root
    from sandbox.api import get_backend

    backend = backend if hasattr(backend, "run") else get_backend(backend)
    slugs = sorted(path.parent.name for path in labs_root().glob("*/lab.toml"))
    for slug in sorted(set(only) - set(slugs)):
        log.warning("SANDBOX_WARM_LABS names %r, which is no lab here: nothing is made ahead for it", slug)
    labs = [lab_folder_get(slug) for slug in slugs if not only or slug in only]
    for lab in labs:
        if hasattr(backend, "keep_warm"):
            backend.keep_warm(job_kind(lab), size)
    for lab in labs:
        for plan in warm.plan_keep((lab.slug, "cpu", "cpu"), lab.content_hash, lambda lab=lab: plan_make(lab, ahead=True)):
            try:
                plan.wait()
            except Exception:  # noqa: BLE001 - logged by labs.grading.warm; the next lab's go on
                pass


class StageClock:
    """When each stage began, as the worker hears of it: its own steps, and the harness's progress lines
    (the container up and the harness started, the reference timed, the tests, the submission timed).
    ``breakdown()`` gives each stage's seconds; a stage that never came (an early error) is left out."""

    # stage heard -> the name of the time spent from it to the next stage heard
    SPANS = {"sandbox": "container_start_s", "starting": "imports_s", "timing the reference": "reference_timing_s",
             "running tests": "tests_s", "timing": "submission_timing_s", "ran": "scoring_s"}

    def __init__(self):
        self.marks: list[tuple[str, float]] = []

    def reached(self, stage: str) -> None:
        if stage in self.SPANS or stage == "scored":
            if not any(name == stage for name, _ in self.marks):
                self.marks.append((stage, time.monotonic()))

    def breakdown(self) -> dict[str, float]:
        spans = {}
        for (stage, at), (_, until) in zip(self.marks, self.marks[1:], strict=False):
            spans[self.SPANS[stage]] = round(until - at, 3)
        return spans


PROGRESS_KEYS = {"stage": str, "case": int, "of": int, "name": str}


def _relay(line: str, tell: Callable[[dict], None]) -> None:
    """Progress lines come from the parent harness; only the known fields, with their types, go on."""
    try:
        message = json.loads(line.removeprefix("@@progress "))
    except ValueError:
        return
    if isinstance(message, dict):
        tell({key: message[key] for key, kind in PROGRESS_KEYS.items() if isinstance(message.get(key), kind)})
