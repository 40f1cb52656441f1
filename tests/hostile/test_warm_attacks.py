"""Attacks on the warm pool (sandbox.pool) in the real docker sandbox: a submission that leaves files and
a process behind, in its own session, for whoever comes next. The next job runs in the warm container
started ahead for it, and finds nothing; a check that the finder works runs first, on its own traces."""

from __future__ import annotations

import dataclasses
import time
import uuid

import docker
import pytest
from django.conf import settings

from content.labs import lab_folder_get, labs_root
from labs.grading import grade
from labs.grading.build import job_kind
from sandbox.docker_backend import LABEL, OWNER_LABEL, RUN_LABEL, DockerBackend, owner, run_id
from sandbox.pool import kind_of

pytestmark = [pytest.mark.docker, pytest.mark.slow]

CORRECT = (labs_root() / "fp8-e4m3/solutions/correct/frexp_round.py").read_text()
LEAVE_TRACES = '''
import os, sys, time
_open = getattr(os, "op" + "en")  # past the static hint, by strings
for folder in ("/tmp", "/dev/shm", os.getcwd()):
    try:
        with os.fdopen(_open(os.path.join(folder, "lurk-note"), os.O_CREAT | os.O_WRONLY, 0o666), "w") as f:
            f.write("left for the next job")
    except OSError:
        pass
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execv(sys.executable, [sys.executable, "-c", "import time\\nwhile True: time.sleep(1)", "lurk-marker"])
    os._exit(0)
time.sleep(0.5)
'''
FIND_TRACES = '''
import glob, os
_open = getattr(os, "op" + "en")
TRACES = glob.glob("/tmp/**/lurk-note", recursive=True) + glob.glob("/dev/shm/lurk-note")
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        with os.fdopen(_open(f"/proc/{pid}/cmdline", os.O_RDONLY), "rb") as f:
            if b"lurk-marker" in f.read():
                TRACES.append(pid)
    except OSError:
        pass
'''
ANSWER_WRONG_IF_TRACES = "    if TRACES:\n        return torch.zeros(x.shape, dtype=torch.uint8)\n"


def with_traces_check(prefix: str = "") -> str:
    return prefix + FIND_TRACES + CORRECT.replace("def encode_e4m3(x):\n", "def encode_e4m3(x):\n" + ANSWER_WRONG_IF_TRACES, 1)


@pytest.fixture
def lab():
    lab = lab_folder_get("fp8-e4m3")
    return dataclasses.replace(
        lab, meta={**lab.meta, "limits": {"time_s": 8, "memory_mb": 2048}, "bench": {"warmup": 1, "repeats": 3}},
        cases={**lab.cases, "benchmarks": {"cpu": [{"name": "random-256K", "kind": "random", "shape": [512, 512]}]}})


def test_nothing_a_submission_leaves_behind_reaches_the_next_job(lab):
    engine = docker.from_env()
    backend = DockerBackend(image=settings.SANDBOX_IMAGE)
    kind = job_kind(lab)
    backend.keep_warm(kind, 1)

    def warm_container():
        deadline = time.monotonic() + 120
        while not backend.pool.ready.get(kind_of(kind)):
            assert time.monotonic() < deadline, "no warm container came up"
            time.sleep(0.2)
        return backend.pool.ready[kind_of(kind)][0].container.id

    try:
        warm_container()
        own = grade(lab, with_traces_check(LEAVE_TRACES), name=f"self-{uuid.uuid4().hex[:8]}", backend=backend)
        assert own.verdict == "wrong_answer", own.diagnostics[:500]  # the finder sees its own traces

        warm_container()
        attacker = grade(lab, LEAVE_TRACES + CORRECT, name=f"attack-{uuid.uuid4().hex[:8]}", backend=backend)
        assert attacker.verdict == "accepted", attacker.diagnostics[:500]

        victim_container = warm_container()  # started before the attacker's job ended, or after: never shared
        victim_name, began = f"victim-{uuid.uuid4().hex[:8]}", int(time.time())
        victim = grade(lab, with_traces_check(), name=victim_name, backend=backend)
        assert victim.verdict == "accepted", victim.diagnostics[:500]
        # It ran in the warm container: none was created for it (a cold one carries the job's name). Not
        # its container_start_s: a warm take took 2.3 s once, with the parallel run loading the engine.
        assert not list(engine.events(since=began, until=int(time.time()) + 1, decode=True, filters={
            "type": "container", "event": "create", "label": f"{LABEL}={victim_name}"}))
        with pytest.raises(docker.errors.NotFound):
            engine.containers.get(victim_container)  # destroyed after its one job
    finally:
        backend.pool.close()
    # This process's: the engine also runs other pytest workers' sandboxes, and a deploy smoke's.
    mine = {"label": [LABEL, f"{OWNER_LABEL}={owner()}", f"{RUN_LABEL}={run_id()}"]}
    deadline = time.monotonic() + 30
    while engine.containers.list(all=True, filters=mine, ignore_removed=True) and time.monotonic() < deadline:
        time.sleep(0.5)  # a refill still starting is removed when it comes up
    assert engine.containers.list(all=True, filters=mine, ignore_removed=True) == []
