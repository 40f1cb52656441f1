"""Workers sharing one Docker engine (scaled worker containers, a gpu-worker beside a worker, two
deployments on one host): a worker that starts sweeps only the sandbox containers it left itself, never a
sibling's job in flight. Real containers on the real engine."""

from __future__ import annotations

import uuid

import docker
import pytest

from sandbox.docker_backend import LABEL, OWNER_LABEL, DockerBackend
from tests.sandbox.test_image import IMAGE

pytestmark = pytest.mark.docker


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
        for container in (sibling, mine):
            try:
                container.remove(force=True)
            except docker.errors.NotFound:
                pass
