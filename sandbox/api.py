"""Choosing the backend. ``SANDBOX_BACKEND`` is ``docker``, ``local`` or ``auto`` (docker when an engine
answers, else local, loudly). The choice is made once per process."""

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


def docker_available(image: str) -> bool:
    """An engine answers and has the sandbox image (``make sandbox-image`` builds it)."""
    try:
        import docker

        client = docker.from_env(timeout=3)
        client.images.get(image)
        return True
    except Exception as exc:  # noqa: BLE001 - any failure means "not available", said once below
        log.info("docker sandbox unavailable: %s", exc)
        return False


@functools.cache
def get_backend(name: str | None = None):
    name = name or settings.SANDBOX_BACKEND
    if name == "auto":
        name = "docker" if docker_available(settings.SANDBOX_IMAGE) else "local"
    if name == "docker":
        from sandbox.docker_backend import DockerBackend

        return DockerBackend(image=settings.SANDBOX_IMAGE)
    if name == "local":
        from sandbox.local import LocalBackend

        log.warning(UNSAFE_WARNING)
        return LocalBackend()
    raise ImproperlyConfigured(f"SANDBOX_BACKEND must be docker, local or auto, not {name!r}")


def run(job: Job, *, backend: str | None = None, on_stderr_line: Callable[[str], None] | None = None) -> RunResult:
    return get_backend(backend).run(job, on_stderr_line=on_stderr_line)


def backend_label() -> dict:
    """For pages and logs: which backend runs submissions and whether it isolates them."""
    backend = get_backend()
    return {"name": backend.name, "unsafe": backend.name == "local", "warning": UNSAFE_WARNING}
