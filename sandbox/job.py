"""What a sandbox is asked to run and what it gives back: the one small contract every backend keeps."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Limits:
    wall_s: float = 60.0
    memory_mb: int = 2048  # includes the scratch tmpfs and memfds: what is written there counts against it
    cpus: float = 1.0
    pids: int = 64
    open_files: int = 256
    scratch_mb: int = 1024  # a tmpfs: only what is written counts, against memory_mb
    stdout_bytes: int = 640 * 1024 * 1024  # the harness's outputs and result come back on stdout
    stderr_bytes: int = 64 * 1024


@dataclass(frozen=True)
class Job:
    """``argv`` runs in a fresh, writable scratch directory with ``prelude`` and then ``stdin`` (chunks,
    written in order by a thread of the backend, once) on its standard input; nothing else goes in, and
    only stdout and stderr come out. In ``argv``, ``{python}`` is the sandbox's interpreter (it differs
    between backends). The prelude is the same for every job of a kind, so a warm sandbox (sandbox.pool)
    can be given it, and start work on it, before its job exists."""

    name: str  # unique per submission and grading attempt: the container's name
    argv: tuple[str, ...]
    stdin: Iterable[bytes] = ()
    prelude: bytes = b""
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


class SandboxUnavailable(RuntimeError):
    """The backend cannot run jobs now (no engine, no image): our failure, never the learner's."""


def stdin_feed(chunks: Iterable[bytes], write: Callable[[bytes], object], close: Callable[[], object]) -> None:
    """Write a job's stdin in a thread of its own, then close it. A process that stops reading (it ended
    early) or chunks that fail to come (the caller re-raises that) only end the stream early."""

    def feed() -> None:
        try:
            for chunk in chunks:
                write(chunk)
        except Exception:  # noqa: BLE001 - see above
            pass
        finally:
            try:
                close()
            except OSError:
                pass

    threading.Thread(target=feed, name="stdin", daemon=True).start()
