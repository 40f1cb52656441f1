"""What a worker keeps warm between jobs (labs.grading.warm, sandbox.pool), on real harness processes
(the local backend): a warm sandbox serves exactly one job and is then gone; inputs made ahead are taken
by one job and never again, so no two jobs share inputs; the reference's timing is reused only for a
while and measured again when it drifts."""

from __future__ import annotations

import dataclasses
import os
import threading
import time

import pytest

from content.labs import lab_folder_get, labs_root
from labs.grading import grade, warm
from labs.grading.build import job_build, job_kind, plan_make
from sandbox import harness
from sandbox.local import LocalBackend
from sandbox.pool import kind_of

CORRECT = (labs_root() / "fp8-e4m3/solutions/correct/bit_twiddling.py").read_text()


@pytest.fixture
def lab():
    """The fp8 lab with one benchmark of the production size, so that each job takes a second or two."""
    lab = lab_folder_get("fp8-e4m3")
    return dataclasses.replace(lab, cases={**lab.cases, "benchmarks": {"cpu": [
        {"name": "random-1M", "kind": "random", "shape": [1024, 1024]}]}})


@pytest.fixture
def warm_on():
    warm.enable()
    yield
    warm.enable(False)


def bench_inputs(job) -> list[bytes]:
    """The benchmark inputs a job's stream carries, as the harness would read them."""
    import io

    stream, found = io.BytesIO(b"".join(job.stdin)), []
    while (record := harness.read_record(stream)) is not None:
        header, size = record
        payload = stream.read(size)
        if header["kind"] == "input" and header["phase"] == "bench":
            found.append(payload)
    return found


def test_inputs_made_ahead_serve_one_job_and_no_two_jobs_share_inputs(lab, warm_on):
    key = (lab.slug, "cpu", "cpu")
    warm.plan_keep(key, lab.content_hash, lambda: plan_make(lab, ahead=True))
    assert len(warm._plans[key]) == warm.PLANS_AHEAD
    seen: list[bytes] = []
    for i in range(3):
        oldest = warm._plans[key][0][1]
        job, plan = job_build(lab, CORRECT, name=f"ahead-{i}")
        kept = [p for _, p in warm._plans[key]]
        assert plan is oldest and plan not in kept and len(kept) == warm.PLANS_AHEAD  # taken once; topped up
        inputs = bench_inputs(job)
        plan.wait()
        assert inputs and not set(inputs) & set(seen)
        seen += inputs
    warm.enable(False)  # nothing kept: a new plan, new inputs
    job, plan = job_build(lab, CORRECT, name="after")
    assert not set(bench_inputs(job)) & set(seen)


def test_a_plan_made_for_another_version_of_the_lab_is_never_used(lab, warm_on):
    key = (lab.slug, "cpu", "cpu")
    warm.plan_keep(key, "an-older-version", lambda: plan_make(lab))
    stale = [p for _, p in warm._plans[key]]
    _, plan = job_build(lab, CORRECT, name="new-version")
    assert plan not in stale and all(version == lab.content_hash for version, _ in warm._plans[key])


def test_the_reference_timing_is_reused_a_while_then_measured_again(lab, warm_on, monkeypatch):
    key = ("fp8-e4m3", "cpu", "", "v1")
    calls = {"big": [[0.010, 0.008]] * 5}
    assert warm.reference_calls(key) == (None, 0.0)  # never measured: this job measures
    warm.reference_measured(key, calls)
    for _ in range(warm.REMEASURE_JOBS):
        assert warm.reference_calls(key)[0] == calls
    assert warm.reference_calls(key) == (None, 0.0)  # used REMEASURE_JOBS times: measured again
    warm.reference_measured(key, calls)
    monkeypatch.setattr(warm, "REMEASURE_S", 0.0)
    assert warm.reference_calls(key) == (None, 0.0)  # too old: measured again


def test_a_drifting_reference_timing_is_measured_again_at_once(warm_on, caplog):
    key = ("fp8-e4m3", "cpu", "", "v1")
    warm.reference_measured(key, {"big": [[0.010, 0.008]] * 5})
    assert warm.reference_calls(key)[0] is not None
    warm.reference_measured(key, {"big": [[0.020, 0.018]] * 5})  # twice as slow: the machine changed
    assert "moved by 2.00x" in caplog.text
    assert warm.reference_calls(key) == (None, 0.0)
    warm.reference_measured(key, {"big": [[0.021, 0.019]] * 5})  # confirmed: reused again
    assert warm.reference_calls(key)[0] is not None


@pytest.mark.quiet  # it compares two speedups: beside the parallel run, one came out None (no speed points)
def test_grading_with_a_warm_worker_reuses_the_reference_timing_and_judges_alike(lab, warm_on):
    backend = LocalBackend()
    first = grade(lab, CORRECT, name="warm-first", backend=backend)
    for _, plan in warm._plans[(lab.slug, "cpu", "cpu")]:
        plan.wait()  # made while the first ran
    second = grade(lab, CORRECT, name="warm-second", backend=backend)
    assert first.verdict == second.verdict == "accepted", (first.diagnostics, second.diagnostics)
    assert "reference_timing_s" in first.timings and "reference_timing_s" not in second.timings
    assert second.timings["inputs_s"] == 0.0  # made ahead, after the first job ran
    assert second.speedup and 0.2 < second.speedup / first.speedup < 5


def test_a_warm_sandbox_serves_exactly_one_job(lab, warm_on):
    backend = LocalBackend()
    kind = job_kind(lab)
    backend.keep_warm(kind, 1)
    try:
        deadline = time.monotonic() + 60
        while not backend.pool.ready.get(kind_of(kind)) and time.monotonic() < deadline:
            time.sleep(0.1)
        first = backend.pool.ready[kind_of(kind)][0]
        report = grade(lab, CORRECT, name="warm-one", backend=backend)
        assert report.verdict == "accepted", report.diagnostics
        assert report.timings["container_start_s"] < 1.0  # it was up before the job
        assert not first.alive() and not first.scratch.exists()  # used once, then destroyed
        deadline = time.monotonic() + 60
        while not backend.pool.ready.get(kind_of(kind)) and time.monotonic() < deadline:
            time.sleep(0.1)
        refill = backend.pool.ready[kind_of(kind)][0]
        assert refill is not first and refill.proc.pid != first.proc.pid and refill.alive()
    finally:
        backend.pool.close()
    assert not refill.alive()


def test_a_worker_makes_ready_at_its_start_only_the_labs_it_is_told_to(warm_on, caplog):
    """SANDBOX_WARM_LABS: the named labs' inputs are made as the worker starts, no other lab's; a slug that
    is no lab is said, not silently ignored."""
    from labs.grading import warm_up

    class NoPool:  # a backend that keeps no sandboxes: only the inputs made ahead are looked at
        name = "none"
        run = None

    warm_up(1, NoPool(), only=["fp8-e4m3", "fp9-e5m4"])
    assert set(warm._plans) == {("fp8-e4m3", "cpu", "cpu")}
    assert len(warm._plans["fp8-e4m3", "cpu", "cpu"]) == warm.PLANS_AHEAD
    assert "SANDBOX_WARM_LABS names 'fp9-e5m4', which is no lab here" in caplog.text


def test_a_real_worker_keeps_warm_by_default(stack_env, web_server, tmp_path):
    """A Celery worker as it runs by default (SANDBOX_WARM=1), sent work through the web server: its second
    fp8 job finds a sandbox up, its inputs made and the reference's timing measured, and is judged alike."""
    from content.load import labs_sync
    from labs.models import Submission
    from tests.conftest import stop, wait_for, worker_start
    from tests.e2e.test_submission_flow import logged_in, submit, wait_for_verdict
    from tests.factories import user_make

    labs_sync(root=labs_root())
    log = tmp_path / "worker.log"
    worker = worker_start({**stack_env, "SANDBOX_WARM": "1"}, log)
    try:
        reports = []
        for name in ("ann", "bob"):
            user_make(name)
            client = logged_in(web_server, name)
            path = submit(client, CORRECT)
            assert wait_for_verdict(client, path)[0] == "accepted"
            reports.append(Submission.objects.get(pk=int(path.rstrip("/").rsplit("/", 1)[1])))
            # the next fp8 inputs, made while this job ran (the first ones were made at the worker's start)
            made = len(reports)
            wait_for(lambda: log.read_text().count("fp8-e4m3: the next job's inputs made ahead") > made,  # noqa: B023
                     timeout=120, what="the next inputs")
    finally:
        stop(worker)
    timings = reports[1].result["timings"]
    assert "reference_timing_s" not in timings and timings["inputs_s"] == 0.0, timings
    assert timings["container_start_s"] < 1.0, timings
    assert "reference's timing of" in log.read_text()


def test_background_warm_work_waits_while_a_job_is_timed(lab):
    """Inputs made ahead and warm sandboxes starting wait for the timed calls of this process's job."""
    from sandbox import pool

    pool.quiet.clear()  # as grade() does when the harness says it is timing
    try:
        plan = plan_make(lab, ahead=True)
        time.sleep(1.0)
        assert plan.done_at is None and not plan.tests  # not one input made while the calls were timed
    finally:
        pool.quiet.set()
    plan.wait()
    assert plan.done_at is not None and plan.tests


def test_inputs_made_ahead_keep_the_workers_priority(lab):
    """A thread at a lower priority that holds the GIL while the cores are busy stalls every other thread of
    its process: at nice 19, a worker stopped under load took over a minute to exit. The thread making a
    plan ahead runs at the process's own priority (seen while it waits out a timed phase)."""
    from sandbox import pool

    pool.quiet.clear()
    try:
        plan = plan_make(lab, ahead=True)
        inputs = next(t for t in threading.enumerate() if t.name == "inputs" and t.is_alive())
        time.sleep(0.5)  # it has started and waits for the timed phase to end
        assert os.getpriority(os.PRIO_PROCESS, inputs.native_id) == os.getpriority(os.PRIO_PROCESS, 0)
    finally:
        pool.quiet.set()
    plan.wait()


def test_grading_clears_the_quiet_flag_only_while_timing(lab):
    from sandbox import pool

    seen = []
    report = grade(lab, CORRECT, name="quiet-flag", backend=LocalBackend(),
                   on_progress=lambda fields: seen.append((fields.get("stage"), pool.quiet.is_set())))
    assert report.verdict == "accepted", report.diagnostics
    assert ("timing", False) in seen and ("running tests", True) in seen and pool.quiet.is_set()
