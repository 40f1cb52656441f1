"""Runs untrusted code and never scores it. ``sandbox.api.run(job)`` picks the backend named by
SANDBOX_BACKEND; this package's root holds only the job contract, so the harness, the backends and the
grading core import without Django (scripts/gpu_check.py runs them on a machine with torch alone)."""

from sandbox.job import Job, Limits, RunResult, SandboxUnavailable

__all__ = ["Job", "Limits", "RunResult", "SandboxUnavailable"]
