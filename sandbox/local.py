"""The ``local`` backend: a subprocess with rlimits, in a new network namespace where the kernel allows.
It is NOT isolation (same filesystem, same user as the worker, and the harness's children share its uid):
for a laptop demo, a machine without Docker, or a GPU check, and every page and log says so."""

from __future__ import annotations

import ctypes
import logging
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from sandbox.job import Job, RunResult, stdin_feed
from sandbox.pool import WarmBackend

log = logging.getLogger("sandbox")
CLONE_NEWUSER, CLONE_NEWNET = 0x10000000, 0x40000000


def _unshare_network() -> None:
    """Runs in the child before exec: a fresh network namespace has only a down loopback."""
    libc = ctypes.CDLL(None, use_errno=True)
    flags = CLONE_NEWNET if os.geteuid() == 0 else CLONE_NEWUSER | CLONE_NEWNET
    if libc.unshare(flags) != 0:
        os.write(2, b"@@sandbox network namespace unavailable: the local sandbox has network access\n")


def _limits(job: Job):
    limits = job.limits

    def apply() -> None:
        os.setsid()
        if not job.gpus:  # CUDA reserves far more address space than any limit here would allow
            # Address space, not RSS: torch maps far more than it touches, so allow generous headroom.
            address_space = (limits.memory_mb + 6144) * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))
        resource.setrlimit(resource.RLIMIT_NOFILE, (limits.open_files, limits.open_files))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.scratch_mb * 1024 * 1024,) * 2)
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        cpu = int(limits.wall_s * max(limits.cpus, 1)) + 5
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
        _unshare_network()

    return apply


class _Drain(threading.Thread):
    def __init__(self, stream, cap: int, *, lines: bool = False):
        super().__init__(daemon=True)
        self.stream, self.cap, self.lines = stream, cap, lines
        self.on_line = None  # the job's progress lines go here, once the process has its job
        self.data = bytearray()
        self.truncated = False

    def run(self) -> None:
        while chunk := (self.stream.readline() if self.lines else self.stream.read(65536)):
            if self.lines and chunk.startswith(b"@@progress "):
                if self.on_line:
                    self.on_line(chunk.decode("utf-8", "replace").rstrip("\n"))
                continue
            room = self.cap - len(self.data)
            if len(chunk) > room:
                self.truncated = True
            self.data += chunk[:max(room, 0)]


class LocalBackend(WarmBackend):
    name = "local"

    def probe(self) -> str | None:
        return None

    def start(self, job: Job) -> _Process:
        """A started harness process of the job's kind, with the job's prelude written to its stdin."""
        scratch = Path(tempfile.mkdtemp(prefix=f"quantprep-{job.name}-"))
        scratch.chmod(0o755)  # children under other uids (QUANTPREP_SANDBOX_UIDS) reach their files inside
        try:
            argv = [part.replace("{python}", sys.executable) for part in job.argv]
            env = {"PATH": "/usr/bin:/bin", "HOME": str(scratch), "OMP_NUM_THREADS": str(max(int(job.limits.cpus), 1))}
            # A GPU check runs the harness here: CUDA's libraries, and the children's uids when it is root.
            for name in ("LD_LIBRARY_PATH", "CUDA_VISIBLE_DEVICES", "QUANTPREP_SANDBOX_UIDS"):
                if name in os.environ:
                    env[name] = os.environ[name]
            proc = subprocess.Popen(argv, cwd=scratch, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, preexec_fn=_limits(job))  # noqa: PLW1509
            out = _Drain(proc.stdout, job.limits.stdout_bytes)
            err = _Drain(proc.stderr, job.limits.stderr_bytes, lines=True)
            out.start()
            err.start()
            if job.prelude:
                proc.stdin.write(job.prelude)
                proc.stdin.flush()
        except BaseException:
            shutil.rmtree(scratch, ignore_errors=True)
            raise
        return _Process(proc, scratch, out, err)

    def finish(self, sandbox: _Process, job: Job, *, on_stderr_line=None) -> RunResult:
        """Give the started process its job, wait for it (``wall_s`` from now), and clean up."""
        proc, out, err = sandbox.proc, sandbox.out, sandbox.err
        try:
            err.on_line = on_stderr_line
            started = time.monotonic()
            stdin_feed(job.stdin, proc.stdin.write, proc.stdin.close)
            timed_out = False
            try:
                proc.wait(timeout=job.limits.wall_s)
            except subprocess.TimeoutExpired:
                timed_out = True
            sandbox.discard()
            out.join(timeout=5)
            err.join(timeout=5)
            return RunResult(exit_code=proc.returncode, stdout=bytes(out.data), stderr=bytes(err.data),
                             stdout_truncated=out.truncated, timed_out=timed_out, oom_killed=False,
                             wall_s=time.monotonic() - started, backend=self.name)
        finally:
            sandbox.discard()


class _Process:
    """A started harness process waiting for its one job (its prelude written)."""

    def __init__(self, proc, scratch: Path, out: _Drain, err: _Drain):
        self.proc, self.scratch, self.out, self.err = proc, scratch, out, err

    def alive(self) -> bool:
        return self.proc.poll() is None

    def discard(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # and whatever it left behind in its session
        except ProcessLookupError:
            pass
        self.proc.wait()
        shutil.rmtree(self.scratch, ignore_errors=True)
