"""Run a possibly-unbounded computation (sympy ``simplify``, a naive baseline) in a killable child.

``fork`` is cheap from an already-warm process (sympy imported, nothing to re-import), and the child gets an
address-space limit and a CPU limit, while the parent enforces the wall clock and SIGKILLs it when over. A huge
factorial that would abort the whole interpreter only takes the child down. Results come back as JSON, so
nothing the child produces is ever unpickled.
"""

from __future__ import annotations

import json
import math
import os
import resource
import select
import signal
import time


def _vm_bytes() -> int:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def run_limited(fn, args: tuple = (), *, timeout: float = 2.0, mem_mb: int = 512) -> tuple[str, object]:
    """``fn(*args)`` in a forked child. Returns ("ok", value), ("timeout", None), ("error", message) or
    ("crashed", None). ``value`` must be JSON-serialisable (bool, None, numbers, strings, lists)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: never returns
        status = 0
        try:
            os.close(r)
            limit = _vm_bytes() + mem_mb * 2**20
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
            cpu = math.ceil(timeout) + 1
            resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
            try:
                payload = ["ok", fn(*args)]
            except MemoryError:
                payload = ["error", "out of memory"]
            except Exception as exc:  # the child reports, the parent decides
                payload = ["error", f"{type(exc).__name__}: {exc}"[:500]]
            data = json.dumps(payload).encode()
            view = memoryview(data)
            while view:
                view = view[os.write(w, view):]
        except BaseException:
            status = 1
        finally:
            os._exit(status)

    os.close(w)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    timed_out = False
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                timed_out = True
                break
            ready, _, _ = select.select([r], [], [], remaining)
            if ready:
                chunk = os.read(r, 1 << 16)
                if not chunk:
                    break
                chunks.append(chunk)
    finally:
        os.close(r)
        if timed_out:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        os.waitpid(pid, 0)
    if timed_out:
        return "timeout", None
    try:
        kind, value = json.loads(b"".join(chunks))
    except ValueError:
        return "crashed", None
    return kind, value
