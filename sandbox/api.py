"""Choosing the backend. ``SANDBOX_BACKEND`` is ``docker``, ``local`` or ``auto`` (docker when an engine
answers with the image, else local, loudly). A docker backend that cannot reach its engine or image fails
the job (``SandboxUnavailable``, retried later) and never falls back; ``auto`` probes before every job,
so a failed probe is never remembered. Production refuses ``local`` and ``auto`` (config/settings/prod.py)."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from sandbox.job import Job, RunResult

log = logging.getLogger("sandbox")

UNSAFE_WARNING = (
    "SANDBOX IS LOCAL: submissions run as plain subprocesses with rlimits, NOT isolated from this machine. "
    "Fine for a demo on your own laptop; never expose this to untrusted users. Start a Docker engine and "
    "build the image (make sandbox-image) for real isolation."
)


@functools.cache
def _docker():
    from sandbox.docker_backend import DockerBackend

    return DockerBackend(image=settings.SANDBOX_IMAGE)


def _local():
    if not settings.SANDBOX_ALLOW_LOCAL:
        raise ImproperlyConfigured("The local sandbox (no isolation) is refused here: production runs learner "
                                   "code in Docker only, unless SANDBOX_ALLOW_UNSAFE=1.")
    return _local_backend()


@functools.cache
def _local_backend():
    from sandbox.local import LocalBackend

    log.warning(UNSAFE_WARNING)
    return LocalBackend()


def get_backend(name: str | None = None):
    """The backend a job runs on now. ``auto`` asks the engine every time (a few milliseconds)."""
    name = name or settings.SANDBOX_BACKEND
    if name == "docker":
        return _docker()
    if name == "local":
        return _local()
    if name == "auto":
        try:
            return _docker() if _docker().probe() is None else _local()
        except Exception as exc:  # noqa: BLE001 - no docker client at all (no socket): the local backend
            log.info("docker sandbox unavailable: %s", exc)
            return _local()
    raise ImproperlyConfigured(f"SANDBOX_BACKEND must be docker, local or auto, not {name!r}")


def run(job: Job, *, backend: str | None = None, on_stderr_line: Callable[[str], None] | None = None) -> RunResult:
    return get_backend(backend).run(job, on_stderr_line=on_stderr_line)


def backend_status(name: str | None = None) -> dict:
    """For a worker's heartbeat and ``sandbox_status``: the backend jobs would run on now, and why not
    when it cannot. Called in workers and shells only: the web process never talks to Docker."""
    try:
        backend = get_backend(name)
        problem = backend.probe()
    except Exception as exc:  # noqa: BLE001 - e.g. docker's client cannot even be made
        return {"name": name or settings.SANDBOX_BACKEND, "unsafe": False, "problem": str(exc)[:300]}
    return {"name": backend.name, "unsafe": backend.name == "local", "problem": problem or ""}
