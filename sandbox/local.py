"""The ``local`` backend: a process with rlimits, in a new network namespace where the kernel allows, forked
by this worker process's zygote (sandbox/zygote.py, which has imported torch). It is NOT isolation (same
filesystem, same user as the worker, and the harness's children share its uid): for a laptop demo, a
machine without Docker, or a GPU check, and every page and log says so."""

from __future__ import annotations

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

from sandbox import zygote
from sandbox.job import Job, RunResult, stdin_feed
from sandbox.pool import WarmBackend

log = logging.getLogger("sandbox")


def _rlimits(job: Job) -> list[tuple[int, int, int]]:
    limits = job.limits
    found = [(resource.RLIMIT_NOFILE, limits.open_files, limits.open_files),
             (resource.RLIMIT_FSIZE, limits.scratch_mb * 1024 * 1024, limits.scratch_mb * 1024 * 1024),
             (resource.RLIMIT_CORE, 0, 0)]
    cpu = int(limits.wall_s * max(limits.cpus, 1)) + 5
    found.append((resource.RLIMIT_CPU, cpu, cpu))
    if not job.gpus:  # CUDA reserves far more address space than any limit here would allow
        # Address space, not RSS: torch maps far more than it touches, so allow generous headroom.
        address_space = (limits.memory_mb + 6144) * 1024 * 1024
        found.append((resource.RLIMIT_AS, address_space, address_space))
    return found


def _limits(job: Job):
    """For a process this backend execs itself (an argv that is not ``{python} -I -c CODE``)."""
    rlimits = _rlimits(job)

    def apply() -> None:
        os.setsid()
        for which, soft, hard in rlimits:
            resource.setrlimit(which, (soft, hard))
        zygote.unshare_network()

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
            proc = _forked(argv, scratch, env, job) or subprocess.Popen(
                argv, cwd=scratch, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                preexec_fn=_limits(job))  # noqa: PLW1509
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


def _forked(argv: list[str], scratch: Path, env: dict, job: Job) -> zygote.ForkedProcess | None:
    """``python -I -c CODE`` forked by the zygote, with pipes as Popen would give; None for any other argv,
    or when no zygote answers (the caller execs it then, as before the zygote)."""
    if len(argv) != 4 or argv[:3] != [sys.executable, "-I", "-c"]:
        return None
    zygote_env = {"PATH": env["PATH"], "OMP_NUM_THREADS": "1"}
    for name in ("LD_LIBRARY_PATH", "CUDA_VISIBLE_DEVICES"):  # read as CUDA's libraries load
        if name in env:
            zygote_env[name] = env[name]
    (stdin_read, stdin_write), (out_read, out_write), (err_read, err_write) = os.pipe(), os.pipe(), os.pipe()
    try:
        proc = zygote.zygote(zygote_env).spawn(argv[3], cwd=str(scratch), env=env, rlimits=_rlimits(job),
                                               fds=(stdin_read, out_write, err_write))
    except zygote.ZygoteGone as exc:
        log.warning("the local sandbox's zygote is gone (%s): this harness imports torch itself", exc)
        for fd in (stdin_read, stdin_write, out_read, out_write, err_read, err_write):
            os.close(fd)
        return None
    for fd in (stdin_read, out_write, err_write):
        os.close(fd)
    proc.stdin, proc.stdout, proc.stderr = open(stdin_write, "wb"), open(out_read, "rb"), open(err_read, "rb")  # noqa: SIM115
    return proc


class _Process:
    """A started harness process waiting for its one job (its prelude written)."""

    def __init__(self, proc, scratch: Path, out: _Drain, err: _Drain):
        self.proc, self.scratch, self.out, self.err = proc, scratch, out, err

    def alive(self) -> bool:
        return self.proc.poll() is None

    def discard(self) -> None:
        # The process itself too: one the zygote has just forked may not have made its session yet.
        for kill in (os.kill, os.killpg):  # the session: whatever it left behind
            if kill is os.killpg or self.proc.poll() is None:
                try:
                    kill(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self.proc.wait()
        shutil.rmtree(self.scratch, ignore_errors=True)
