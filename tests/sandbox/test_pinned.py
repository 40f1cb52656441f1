"""A worker pinned to some cores (``taskset``, or make test's quiet run) keeps its sandbox containers on
them: a job timed on one core never shares it with a neighbour's. Read from inside the container."""

from __future__ import annotations

import os
import uuid

import pytest

from sandbox.docker_backend import DockerBackend
from sandbox.job import Job
from tests.sandbox.test_image import IMAGE

pytestmark = pytest.mark.docker

ALLOWED = ("{python}", "-c", "print([l for l in open('/proc/self/status') if l.startswith('Cpus_allowed_list')][0])")


def allowed_cpus_in_a_sandbox() -> str:
    run = DockerBackend(IMAGE).run(Job(name=f"pinned-{uuid.uuid4().hex[:8]}", argv=ALLOWED))
    assert run.exit_code == 0, run.stderr[-2000:]
    return run.stdout.decode().split(":")[1].strip()


def test_a_pinned_workers_sandbox_runs_on_its_core_and_an_unpinned_ones_on_any():
    every = os.sched_getaffinity(0)
    if len(every) < 2:
        pytest.skip("one core: nothing to pin to")  # never here (2 cores), nor in CI
    last = max(every)
    os.sched_setaffinity(0, {last})  # this thread, which starts the container
    try:
        assert allowed_cpus_in_a_sandbox() == str(last)
    finally:
        os.sched_setaffinity(0, every)
    assert allowed_cpus_in_a_sandbox() == f"{min(every)}-{last}"
