"""The harness: the only code of ours that runs inside the sandbox. Standard library and torch only.

    python main.py JOB_DIR                      # the parent: runs both children, writes the result
    python main.py JOB_DIR --child ROLE OUT     # ROLE is reference or submission

The parent first runs the reference kernel on the benchmark inputs in a child process that exits
before the submission starts (so no reference output is alive while untrusted code runs), then the
submission in a second child: every test case (outputs saved for the worker to check), then the
benchmark calls, each on inputs of its own. The parent times every call with its own clock (the
children only say "ready" and "done"), makes itself undumpable so no child can reach into it, and
picks after each timed call, at random, whether that call's output is the one the worker checks.
It writes one tar archive to stdout: ``result.json`` and ``out/<case>.pt`` (``out/bench-<case>.pt``
for the checked benchmark call). Progress goes to stderr as ``@@progress {json}`` lines. Nothing here
decides a verdict: the worker does, trusting none of what comes back.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.abc
import importlib.util
import io
import json
import os
import secrets
import select
import signal
import stat
import statistics
import subprocess
import sys
import tarfile
import threading
import time
import traceback
from pathlib import Path

LOG_CAP = 64 * 1024
TRACEBACK_CAP = 8 * 1024
OUTPUT_CAP = 512 * 1024 * 1024  # all output tensors together (the worker's stdout cap is above it)
STARTUP_S = 20.0  # interpreter and torch import, outside the lab's time limit


def progress(**fields) -> None:
    print("@@progress " + json.dumps(fields), file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------ the parent


class CappedReader(threading.Thread):
    """Drains a pipe so the child never blocks on a full pipe; keeps the first ``cap`` bytes."""

    def __init__(self, stream, cap: int):
        super().__init__(daemon=True)
        self.stream, self.cap = stream, cap
        self.kept = bytearray()
        self.dropped = 0

    def run(self) -> None:
        for line in iter(lambda: self.stream.readline(65536), b""):
            room = self.cap - len(self.kept)
            self.kept += line[:max(room, 0)]
            self.dropped += max(len(line) - max(room, 0), 0)


def run_child(job_dir: Path, role: str, out: Path, deadline: float) -> dict:
    """Run one child and serve its messages: progress lines are relayed, and every timed call is timed
    here, by the parent's clock, between our "go" and the child's "done" (the child cannot touch this
    process: it is not dumpable, so neither ptrace nor /proc/<pid>/mem reach it)."""
    out.mkdir(parents=True, exist_ok=True)
    up_read, up_write = os.pipe()
    down_read, down_write = os.pipe()
    env = {"PATH": "/usr/bin:/bin", "HOME": str(out), "PYTHONDONTWRITEBYTECODE": "1",
           "QUANTPREP_PIPES": f"{up_write},{down_read}", "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    if "CUDA_VISIBLE_DEVICES" in os.environ:
        env["CUDA_VISIBLE_DEVICES"] = os.environ["CUDA_VISIBLE_DEVICES"]
    child = subprocess.Popen(
        [sys.executable, "-I", str(Path(__file__).resolve()), str(job_dir), "--child", role, str(out)],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
        pass_fds=(up_write, down_read), start_new_session=True, cwd=str(out))
    os.close(up_write)
    os.close(down_read)
    log = CappedReader(child.stdout, LOG_CAP)
    log.start()
    down = os.fdopen(down_write, "wb", buffering=0)
    samples: dict[str, list[float]] = {}
    kept: dict[str, int] = {}
    timed_out, started, pending = False, 0.0, b""
    try:
        while True:
            if b"\n" not in pending:
                # select() on the raw descriptor, never on a buffered file: a buffered reader can hold a
                # second line that select() does not see, and the child would wait for "go" forever.
                ready, _, _ = select.select([up_read], [], [], min(max(deadline - time.monotonic(), 0), 0.2))
                if not ready:
                    if child.poll() is not None:
                        break  # exited; a process it left behind may still hold the pipe open
                    if time.monotonic() >= deadline:
                        timed_out = True
                        break
                    continue
                chunk = os.read(up_read, 65536)
                if not chunk:
                    break  # the child exited
                pending = (pending + chunk)[-(1 << 20):]
                continue
            line, pending = pending.split(b"\n", 1)
            message = _json_or_empty(line)
            clock = message.pop("clock", None)
            if clock == "ready":
                started = time.perf_counter()
                down.write(b"go\n")
            elif clock == "done" and started:
                elapsed, started = time.perf_counter() - started, 0.0
                name, call, timed_from = str(message.get("name")), int(message.get("call", 0)), int(message.get("timed_from", 0))
                if call >= timed_from:
                    samples.setdefault(name, []).append(elapsed)
                # Which timed call is checked is drawn here, after the call: it cannot be anticipated.
                last = call == int(message.get("calls", 1)) - 1
                keep = role == "submission" and call >= timed_from and name not in kept and (last or secrets.randbelow(2) == 0)
                if keep:
                    kept[name] = call
                down.write(b"keep\n" if keep else b"drop\n")
            elif clock is None:
                progress(role=role, **message)
    except (OSError, ValueError):
        pass
    os.close(up_read)
    # The whole session is killed: nothing the child started may outlive it.
    try:
        os.killpg(child.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    child.wait()
    log.join(timeout=2)
    status = _read_json(out / "status.json") or {}
    status.update(returncode=child.returncode, timed_out=timed_out, log=log.kept.decode("utf-8", "replace"),
                  log_dropped_bytes=log.dropped, kept_call=kept,
                  timings={name: statistics.median(values) for name, values in samples.items()})
    return status


def _json_or_empty(line: bytes) -> dict:
    try:
        value = json.loads(line[:4096])
        return value if isinstance(value, dict) else {}
    except ValueError:
        return {}


def _read_json(path: Path) -> dict | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(fd, "rb") as handle:
            return json.loads(handle.read(1024 * 1024))
    except (OSError, ValueError):
        return None


def parent(job_dir: Path) -> None:
    _not_dumpable()
    job = json.loads((job_dir / "job.json").read_text())
    scratch = Path.cwd()
    started = time.monotonic()
    deadline = started + STARTUP_S + float(job["time_limit_s"])
    progress(stage="preparing")
    reference = {"timings": {}}
    if job.get("benchmarks"):
        progress(stage="timing the reference")
        reference = run_child(job_dir, "reference", scratch / "reference", deadline)
    progress(stage="running")
    submission = run_child(job_dir, "submission", scratch / "submission", deadline)
    result = {"reference": reference, "submission": submission, "harness_wall_s": time.monotonic() - started}

    # Streamed, one file in memory at a time: benchmark outputs can be tens of megabytes.
    budget = OUTPUT_CAP
    with tarfile.open(fileobj=sys.stdout.buffer, mode="w|") as tar:
        for name in job["tests"] + [f"bench-{b}" for b in job["benchmarks"]]:
            data = _read_regular(scratch / "submission" / "out" / f"{name}.pt", budget)
            if data is not None:
                budget -= len(data)
                _add(tar, f"out/{name}.pt", data)
                del data
        _add(tar, "result.json", json.dumps(result).encode())
    sys.stdout.buffer.flush()


def _not_dumpable() -> None:
    """PR_SET_DUMPABLE 0: processes of the same user can no longer ptrace this one or open its /proc files."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(4, 0, 0, 0, 0) != 0:  # PR_SET_DUMPABLE
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_DUMPABLE, 0) failed")


def _read_regular(path: Path, cap: int) -> bytes | None:
    """A file the untrusted child wrote: regular files only, no symlinks followed, size-capped."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            return None
        data = handle.read(cap + 1)
    return data if len(data) <= cap else None


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


# ------------------------------------------------------------------------------------ the children


class ImportBlocker(importlib.abc.MetaPathFinder):
    """Refuses forbidden top-level modules at run time (the worker also checks the source's AST)."""

    def __init__(self, forbidden: set[str]):
        self.forbidden = forbidden

    def find_spec(self, fullname, path=None, target=None):
        if fullname.split(".")[0] in self.forbidden:
            raise ImportError(f"import of {fullname!r} is not allowed in this lab")
        return None


def report(out: Path, **status) -> None:
    (out / "status.json").write_text(json.dumps(status))


def child(job_dir: Path, role: str, out: Path) -> None:
    job = json.loads((job_dir / "job.json").read_text())
    up_fd, down_fd = (int(fd) for fd in os.environ.pop("QUANTPREP_PIPES").split(","))
    up, down = os.fdopen(up_fd, "w", buffering=1), os.fdopen(down_fd, "rb")

    def tell(**fields) -> None:
        try:
            up.write(json.dumps(fields) + "\n")
        except OSError:
            pass

    def ask(**fields) -> bytes:
        tell(**fields)
        return down.readline(64).strip()

    lib = str(job_dir / "lib")
    sys.path.insert(0, lib)
    import torch

    device = torch.device(job.get("device", "cpu"))
    torch.manual_seed(0)
    problem = importlib.import_module(job["problem"])
    invoke = problem.invoke
    if role == "reference":
        impl = importlib.import_module(job["reference"])
    else:
        for name in list(sys.modules):
            if name.split(".")[0] in {"kernels", "graders", "sandbox"}:
                del sys.modules[name]
        sys.path.remove(lib)
        sys.meta_path.insert(0, ImportBlocker(set(job["forbidden_imports"])))
        _hide_from_torch(job.get("forbidden_names", []))
        try:
            spec = importlib.util.spec_from_file_location("submission", job_dir / "submission.py")
            impl = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(impl)
        except SyntaxError:
            return report(out, status="syntax_error", error=_traceback())
        except ImportError:
            return report(out, status="import_error", error=_traceback())
        except BaseException:  # noqa: BLE001 - whatever the module does at import time is its error
            return report(out, status="runtime_error", error=_traceback(), case=None)
        missing = [name for name in job["entry"] if not callable(getattr(impl, name, None))]
        if missing:
            return report(out, status="runtime_error", case=None,
                          error=f"The submission does not define {', '.join(missing)} (see the starter).")

        (out / "out").mkdir(exist_ok=True)
        for i, name in enumerate(job["tests"], 1):
            tell(stage="running", case=i, of=len(job["tests"]), name=name)
            inputs = _load(job_dir / "inputs" / f"{name}.pt", device)
            try:
                _save(invoke(impl, inputs), out / "out" / f"{name}.pt")
            except BaseException as exc:  # noqa: BLE001
                status = "memory_limit" if _is_oom(exc) else "runtime_error"
                return report(out, status=status, error=_traceback(), case=name)

    (out / "out").mkdir(exist_ok=True)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    # On a GPU every call starts with a cold L2: writing a buffer larger than any L2 evicts it.
    l2_flush = torch.empty(256 << 20, dtype=torch.uint8, device=device) if device.type == "cuda" else None
    calls, timed_from = job["warmup"] + job["repeats"], job["warmup"]
    for i, name in enumerate(job["benchmarks"], 1):
        tell(stage="timing", case=i, of=len(job["benchmarks"]), name=name)
        try:
            # Every call gets inputs of its own (made from another seed): nothing cached from an earlier
            # call is right for this one, and the parent checks one timed call's output, drawn after it.
            for call in range(calls):
                inputs = _load(job_dir / "bench" / name / f"{call}.pt", device)
                if l2_flush is not None:
                    l2_flush.zero_()
                sync()
                if ask(clock="ready") != b"go":
                    return report(out, status="runtime_error", case=name, error="the timing protocol broke")
                outputs = invoke(impl, inputs)
                sync()
                if ask(clock="done", name=name, call=call, calls=calls, timed_from=timed_from) == b"keep":
                    _save(outputs, out / "out" / f"bench-{name}.pt")
        except BaseException as exc:  # noqa: BLE001
            status = "memory_limit" if _is_oom(exc) else "runtime_error"
            return report(out, status=status, error=_traceback(), case=name)
    report(out, status="ok")


HIDDEN: dict = {}


def _hide_from_torch(names) -> None:
    """Take a lab's forbidden names (the float8 dtypes in the E4M3 lab) out of the torch module while
    submission code runs; torch's own (de)serialization gets them back for the moment it needs them."""
    import torch

    for name in names:
        if hasattr(torch, name):
            HIDDEN[name] = getattr(torch, name)
            delattr(torch, name)


@contextlib.contextmanager
def _torch_whole():
    import torch

    for name, value in HIDDEN.items():
        setattr(torch, name, value)
    try:
        yield
    finally:
        for name in HIDDEN:
            delattr(torch, name)


def _load(path: Path, device):
    import torch

    with _torch_whole():
        inputs = torch.load(path, weights_only=True)
    return {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in inputs.items()}


def _save(outputs: dict, path: Path) -> None:
    import torch

    outputs = {k: v.detach().cpu() if isinstance(v, torch.Tensor) else v for k, v in outputs.items()}
    with _torch_whole():
        torch.save(outputs, path)


def _is_oom(exc: BaseException) -> bool:
    return isinstance(exc, MemoryError) or "can't allocate memory" in str(exc) or "out of memory" in str(exc)


def _traceback() -> str:
    text = traceback.format_exc()
    return text if len(text) <= TRACEBACK_CAP else "...\n" + text[-TRACEBACK_CAP:]


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[2] == "--child":
        child(Path(sys.argv[1]), sys.argv[3], Path(sys.argv[4]))
    else:
        parent(Path(sys.argv[1]))
