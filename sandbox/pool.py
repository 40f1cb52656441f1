"""Warm sandboxes: started ahead of demand, so that a job does not wait for a container to start and
its interpreter to import torch. Each serves exactly one job and is then destroyed, like a cold one; a
warm sandbox has been given only the job kind's prelude (the harness's source), never a job.

A backend makes a sandbox with ``start(job)`` (the job's kind: argv, prelude, limits, GPUs) and finishes
one with ``finish(sandbox, job)``. The pool keeps up to ``size`` sandboxes per kind, refilled in the
background as each one is taken, and only for the kinds it has been asked for. docs/sandbox.md and
docs/benchmarks.md say what it saves and what it costs."""

from __future__ import annotations

import atexit
import dataclasses
import hashlib
import logging
import threading
import time
from collections.abc import Callable

from sandbox.job import Job, RunResult

log = logging.getLogger("sandbox")
WAIT_FOR_STARTING_S = 30.0  # a sandbox already starting is worth waiting for: a new one would start later
QUIET_WAIT_S = 60.0  # the longest background work waits for a timed phase to end before it goes on anyway
CLOSE_WAIT_S = 15.0  # how long closing waits for sandboxes still starting (a worker's stop grace is longer)

# Set while no job of this process is being timed (labs.grading clears it for the timed phases): warm work
# done in the background (starting a sandbox, making the next inputs) waits for it, so that it never runs
# beside the calls a speed score rests on.
quiet = threading.Event()
quiet.set()


def kind_of(job: Job) -> tuple:
    """What two jobs must share to use the same warm sandbox."""
    return job.argv, hashlib.sha256(job.prelude).hexdigest(), job.limits, job.gpus


class WarmPool:
    def __init__(self, start: Callable[[Job], object], size: int):
        self.start, self.size = start, size
        self.ready: dict[tuple, list] = {}
        self.starting: dict[tuple, int] = {}
        self.changed = threading.Condition()
        self.closed = False

    def take(self, job: Job):
        """A warm sandbox of the job's kind, or None (the caller starts a cold one). Refills behind it: a
        backend starts warm sandboxes at its lowest CPU priority, so they yield to any job being timed."""
        kind = kind_of(job)
        deadline = time.monotonic() + WAIT_FOR_STARTING_S
        taken = None
        with self.changed:
            while not self.closed:
                while self.ready.get(kind):
                    candidate = self.ready[kind].pop(0)
                    if candidate.alive():
                        taken = candidate
                        break
                    candidate.discard()  # it died while it waited (an engine restart): never used
                if taken or not self.starting.get(kind) or time.monotonic() >= deadline:
                    break
                self.changed.wait(timeout=max(deadline - time.monotonic(), 0))
        self.fill(job)
        return taken

    def fill(self, job: Job) -> None:
        """Start sandboxes of the job's kind, in the background, until ``size`` are ready or starting."""
        kind = kind_of(job)
        job = dataclasses.replace(job, name="warm", stdin=())  # a kind, not a job: nothing of the job is kept
        with self.changed:
            if self.closed:
                return
            wanted = self.size - len(self.ready.get(kind, [])) - self.starting.get(kind, 0)
            self.starting[kind] = self.starting.get(kind, 0) + max(wanted, 0)
        for _ in range(max(wanted, 0)):
            threading.Thread(target=self._start_one, args=(job, kind), name="warm-sandbox", daemon=True).start()

    def _start_one(self, job: Job, kind: tuple) -> None:
        sandbox = None
        deadline = time.monotonic() + QUIET_WAIT_S
        while not quiet.wait(0.25) and not self.closed and time.monotonic() < deadline:
            pass
        if not self.closed:
            try:
                sandbox = self.start(job)
            except Exception:  # noqa: BLE001 - no engine now: the next job starts cold and says why
                log.exception("could not start a warm sandbox")
        with self.changed:
            kept = sandbox is not None and not self.closed
            if kept:
                self.ready.setdefault(kind, []).append(sandbox)
        if sandbox is not None and not kept:
            sandbox.discard()  # closed while it started
        with self.changed:  # only now: close() waits until no sandbox is starting or being discarded
            self.starting[kind] -= 1
            self.changed.notify_all()

    def close(self) -> None:
        """Destroy every warm sandbox (at the worker's exit), waiting up to CLOSE_WAIT_S for those still
        starting: the process exits next, and a sandbox it was starting would outlive it."""
        with self.changed:
            self.closed = True
            sandboxes = [s for kind in self.ready.values() for s in kind]
            self.ready.clear()
            self.changed.notify_all()
        for sandbox in sandboxes:
            sandbox.discard()
        with self.changed:
            if not self.changed.wait_for(lambda: not any(self.starting.values()), timeout=CLOSE_WAIT_S):
                log.warning("closed with %d warm sandboxes still starting", sum(self.starting.values()))


class WarmBackend:
    """What every backend does with its pool: run a job in a warm sandbox when one waits, else in a cold
    one. A backend gives ``start(job)``, ``finish(sandbox, job, on_stderr_line=...)`` and, if a sandbox
    started ahead differs from one started for a job now, ``start_warm(job)``."""

    pool: WarmPool | None = None

    def start_warm(self, job: Job):
        return self.start(job)

    def keep_warm(self, job: Job, size: int) -> None:
        """From now on keep ``size`` sandboxes of this job's kind started ahead of demand."""
        if size > 0:
            if self.pool is None:
                self.pool = WarmPool(self.start_warm, size)
                atexit.register(self.pool.close)
            self.pool.fill(job)

    def run(self, job: Job, *, on_stderr_line=None) -> RunResult:
        sandbox = self.pool.take(job) if self.pool is not None else None
        return self.finish(sandbox or self.start(job), job, on_stderr_line=on_stderr_line)
