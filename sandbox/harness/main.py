"""The harness: the only code of ours that runs inside the sandbox. Standard library and torch only.

    python main.py JOB_DIR                      # the parent: runs both children, writes the result
    python main.py JOB_DIR --child ROLE OUT     # ROLE is reference or submission

The parent first runs the reference kernel on the benchmark inputs in a child process that exits
before the submission starts (so no reference output is alive while untrusted code runs), then the
submission in a second child: every test case (outputs saved for the worker to check) and the
benchmark cases (timed the same way as the reference). It writes one tar archive to stdout:
``result.json`` and ``out/<case>.pt``. Progress goes to stderr as ``@@progress {json}`` lines.
Nothing here decides a verdict: the worker does, trusting none of what comes back.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import io
import json
import os
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
OUTPUT_CAP = 48 * 1024 * 1024  # all output tensors together
STARTUP_S = 20.0  # interpreter and torch import, outside the lab's time limit


def progress(**fields) -> None:
    print("@@progress " + json.dumps(fields), file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------ the parent


class CappedReader(threading.Thread):
    """Drains a pipe so the child never blocks on a full pipe; keeps the first ``cap`` bytes."""

    def __init__(self, stream, cap: int, on_line=None):
        super().__init__(daemon=True)
        self.stream, self.cap, self.on_line = stream, cap, on_line
        self.kept = bytearray()
        self.dropped = 0

    def run(self) -> None:
        for line in iter(self.stream.readline, b""):
            if self.on_line:
                self.on_line(line)
                continue
            room = self.cap - len(self.kept)
            self.kept += line[:max(room, 0)]
            self.dropped += max(len(line) - max(room, 0), 0)


def run_child(job_dir: Path, role: str, out: Path, deadline: float) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    read_fd, write_fd = os.pipe()
    env = {"PATH": "/usr/bin:/bin", "HOME": str(out), "PYTHONDONTWRITEBYTECODE": "1",
           "QUANTPREP_PROGRESS_FD": str(write_fd), "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    if "CUDA_VISIBLE_DEVICES" in os.environ:
        env["CUDA_VISIBLE_DEVICES"] = os.environ["CUDA_VISIBLE_DEVICES"]
    child = subprocess.Popen(
        [sys.executable, "-I", str(Path(__file__).resolve()), str(job_dir), "--child", role, str(out)],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
        pass_fds=(write_fd,), start_new_session=True, cwd=str(out))
    os.close(write_fd)
    log = CappedReader(child.stdout, LOG_CAP)
    relay = CappedReader(os.fdopen(read_fd, "rb"), 0,
                         on_line=lambda line: progress(role=role, **_json_or_empty(line)))
    log.start()
    relay.start()
    timed_out = False
    try:
        child.wait(timeout=max(deadline - time.monotonic(), 0.1))
    except subprocess.TimeoutExpired:
        timed_out = True
    # The whole session is killed: nothing the child started may outlive it.
    try:
        os.killpg(child.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    child.wait()
    log.join(timeout=2)
    status = _read_json(out / "status.json") or {}
    status.update(returncode=child.returncode, timed_out=timed_out,
                  log=log.kept.decode("utf-8", "replace"), log_dropped_bytes=log.dropped)
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

    archive = io.BytesIO()
    budget = OUTPUT_CAP
    with tarfile.open(fileobj=archive, mode="w") as tar:
        for name in job["tests"]:
            data = _read_regular(scratch / "submission" / "out" / f"{name}.pt", budget)
            if data is not None:
                budget -= len(data)
                _add(tar, f"out/{name}.pt", data)
        _add(tar, "result.json", json.dumps(result).encode())
    sys.stdout.buffer.write(archive.getvalue())
    sys.stdout.buffer.flush()


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
    progress_pipe = os.fdopen(int(os.environ.pop("QUANTPREP_PROGRESS_FD")), "w", buffering=1)

    def tell(**fields) -> None:
        try:
            progress_pipe.write(json.dumps(fields) + "\n")
        except OSError:
            pass

    lib = str(job_dir / "lib")
    sys.path.insert(0, lib)
    import torch

    perf_counter = time.perf_counter  # bound before any untrusted import can replace it
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
                outputs = invoke(impl, inputs)
                outputs = {k: v.detach().cpu() if isinstance(v, torch.Tensor) else v for k, v in outputs.items()}
                torch.save(outputs, out / "out" / f"{name}.pt")
            except BaseException as exc:  # noqa: BLE001
                status = "memory_limit" if _is_oom(exc) else "runtime_error"
                return report(out, status=status, error=_traceback(), case=name)

    timings = {}
    for i, name in enumerate(job["benchmarks"], 1):
        tell(stage="timing", case=i, of=len(job["benchmarks"]), name=name)
        inputs = _load(job_dir / "bench" / f"{name}.pt", device)
        try:
            timings[name] = _time(invoke, impl, inputs, job["warmup"], job["repeats"], device, perf_counter)
        except BaseException as exc:  # noqa: BLE001
            status = "memory_limit" if _is_oom(exc) else "runtime_error"
            return report(out, status=status, error=_traceback(), case=name, timings=timings)
    report(out, status="ok", timings=timings)


def _load(path: Path, device):
    import torch

    inputs = torch.load(path, weights_only=True)
    return {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in inputs.items()}


def _fresh(inputs: dict) -> dict:
    """A new copy for every call: a submission cannot hand back what it cached for the same objects."""
    import torch

    return {k: v.clone() if isinstance(v, torch.Tensor) else v for k, v in inputs.items()}


def _time(invoke, impl, inputs, warmup: int, repeats: int, device, clock) -> float:
    """Median wall time of ``repeats`` calls after ``warmup`` calls, synchronizing CUDA around each."""
    import torch

    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    for _ in range(warmup):
        invoke(impl, _fresh(inputs))
    samples = []
    for _ in range(repeats):
        args = _fresh(inputs)
        sync()
        start = clock()
        invoke(impl, args)
        sync()
        samples.append(clock() - start)
    return statistics.median(samples)


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
