"""Workers sharing one Docker engine (scaled worker containers, a gpu-worker beside a worker, two
deployments on one host): a worker that starts sweeps the sandbox containers its earlier run left and any
long stopped, never a sibling's job in flight nor its own pool's warm sandboxes; a worker that stops leaves
none of its warm sandboxes, even those still starting. Real containers on the real engine, in make test's
quiet run, where only timed tests run beside them (each on a core of its own), and none beside the one
that sweeps any worker's stopped containers."""

from __future__ import annotations

import time
import uuid

import docker
import pytest

from sandbox.docker_backend import LABEL, OWNER_LABEL, RUN_LABEL, DockerBackend
from sandbox.job import Job, Limits
from tests.sandbox.test_image import IMAGE

pytestmark = [pytest.mark.docker, pytest.mark.quiet]  # a sweep acts on every worker's containers on the engine


def remove_all(*containers) -> None:
    """Whatever the test left (the sweep may have removed some already)."""
    for container in containers:
        try:
            container.remove(force=True)
        except docker.errors.NotFound:
            pass


def test_a_starting_worker_removes_its_own_leftovers_and_leaves_a_siblings_running_job_alone(monkeypatch):
    me = f"worker-{uuid.uuid4().hex[:8]}@this-host"  # the Celery node name labs.tasks sets at worker start
    monkeypatch.setenv("QUANTPREP_SANDBOX_OWNER", me)
    client = docker.from_env()
    sleep = ["/opt/venv/bin/python", "-c", "import time; time.sleep(120)"]
    sibling = client.containers.run(IMAGE, sleep, detach=True, network_mode="none",
                                    labels={LABEL: "sub1-try1", OWNER_LABEL: "another-worker@this-host"})
    mine = client.containers.run(IMAGE, sleep, detach=True, network_mode="none",
                                 labels={LABEL: "sub2-try1", OWNER_LABEL: me})
    try:
        assert DockerBackend(IMAGE).sweep() == 1
        sibling.reload()
        assert sibling.status == "running"
        with pytest.raises(docker.errors.NotFound):
            mine.reload()
    finally:
        remove_all(sibling, mine)


def test_a_restarted_worker_sweeps_its_last_runs_sandboxes_not_the_ones_its_pool_is_starting(monkeypatch):
    """The same node name across a restart: the sweep at start (in the worker's main process, while its pool
    processes already start their warm sandboxes) tells the two runs apart; at the worker's stop, once its
    pool processes have exited, this run's go too."""
    me = f"worker-{uuid.uuid4().hex[:8]}@this-host"
    monkeypatch.setenv("QUANTPREP_SANDBOX_OWNER", me)
    monkeypatch.setenv("QUANTPREP_SANDBOX_RUN", "this-run")
    client = docker.from_env()
    sleep = ["/opt/venv/bin/python", "-c", "import time; time.sleep(120)"]
    before = client.containers.run(IMAGE, sleep, detach=True, network_mode="none",
                                   labels={LABEL: "warm", OWNER_LABEL: me, RUN_LABEL: "the-run-before"})
    warming = client.containers.run(IMAGE, sleep, detach=True, network_mode="none",
                                    labels={LABEL: "warm", OWNER_LABEL: me, RUN_LABEL: "this-run"})
    try:
        assert DockerBackend(IMAGE).sweep() == 1
        with pytest.raises(docker.errors.NotFound):
            before.reload()
        warming.reload()
        assert warming.status == "running"
        assert DockerBackend(IMAGE).sweep(this_run_too=True) == 1
        with pytest.raises(docker.errors.NotFound):
            warming.reload()
    finally:
        remove_all(before, warming)


@pytest.mark.engine_alone  # it removes whatever any test left stopped for 2 s
def test_any_workers_long_stopped_sandbox_is_swept_but_not_one_that_just_stopped(monkeypatch):
    """A worker container that is recreated comes back under a new name and never sweeps its own: the
    next worker to start removes what stopped long ago, whoever started it."""
    monkeypatch.setenv("QUANTPREP_SANDBOX_OWNER", f"worker-{uuid.uuid4().hex[:8]}@this-host")
    client = docker.from_env()
    gone = {LABEL: "warm", OWNER_LABEL: f"worker@{uuid.uuid4().hex[:12]}"}  # a worker container since removed
    old = client.containers.run(IMAGE, ["true"], detach=True, network_mode="none", labels=gone)
    never_started = client.containers.create(IMAGE, ["true"], network_mode="none", labels=gone)
    old.wait(timeout=60)
    time.sleep(3)
    recent = client.containers.run(IMAGE, ["true"], detach=True, network_mode="none", labels=gone)
    recent.wait(timeout=60)
    try:
        # old stopped more than 3 s ago and recent a moment ago: 2 s leaves a slow engine time to list and inspect
        assert DockerBackend(IMAGE).sweep(stale_s=2) == 2
        for container in (old, never_started):
            with pytest.raises(docker.errors.NotFound):
                container.reload()
        recent.reload()  # stopped a moment ago: perhaps a sibling's job between its end and its removal
    finally:
        remove_all(old, never_started, recent)


def test_a_pool_closed_while_its_sandboxes_start_leaves_none_behind(monkeypatch):
    """A worker that stops right after a job (its pool refilling) or right after it started (warming up)
    closes its pool and exits: closing waits for the sandboxes still starting and removes them."""
    me = f"worker-{uuid.uuid4().hex[:8]}@this-host"
    monkeypatch.setenv("QUANTPREP_SANDBOX_OWNER", me)
    client = docker.from_env()
    backend = DockerBackend(IMAGE)
    kind = Job(name="warm", argv=("{python}", "-c", "import sys; sys.stdin.buffer.read()"), prelude=b"x",
               limits=Limits(wall_s=30, memory_mb=256))
    backend.keep_warm(kind, 3)
    time.sleep(0.2)  # the three are being created or started on the engine
    backend.pool.close()
    mine = client.containers.list(all=True, filters={"label": f"{OWNER_LABEL}={me}"})
    assert mine == [], [c.name for c in mine]
    time.sleep(3)  # nor does one appear afterwards
    assert client.containers.list(all=True, filters={"label": f"{OWNER_LABEL}={me}"}) == []
