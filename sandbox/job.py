"""What a sandbox is asked to run and what it gives back: the one small contract every backend keeps."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Limits:
    wall_s: float = 60.0
    memory_mb: int = 2048  # includes the scratch tmpfs: files written there count against it
    cpus: float = 1.0
    pids: int = 64
    open_files: int = 256
    scratch_mb: int = 1024  # a tmpfs: only what is written counts, against memory_mb
    stdout_bytes: int = 640 * 1024 * 1024  # the harness's result archive comes back on stdout
    stderr_bytes: int = 64 * 1024


@dataclass(frozen=True)
class Job:
    """``files`` are laid out read-only under the job directory; ``argv`` runs with a fresh, writable
    scratch directory as its working directory. In ``argv``, ``{python}`` is the sandbox's interpreter
    and ``{job}`` the job directory (they differ between backends)."""

    name: str  # unique per submission and grading attempt: the container's name
    files: dict[str, bytes]
    argv: tuple[str, ...]
    limits: Limits = field(default_factory=Limits)
    gpus: str = ""  # "" for none, "all" or a device list (docker only)


@dataclass
class RunResult:
    exit_code: int | None
    stdout: bytes
    stderr: bytes
    stdout_truncated: bool
    timed_out: bool
    oom_killed: bool
    wall_s: float
    backend: str
