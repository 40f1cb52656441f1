"""Runs untrusted code and never scores it. ``run(job)`` picks the backend named by SANDBOX_BACKEND."""

from sandbox.api import backend_label, get_backend, run
from sandbox.job import Job, RunResult

__all__ = ["Job", "RunResult", "backend_label", "get_backend", "run"]
