"""The harness: the only code of ours that runs inside the sandbox. Standard library, and torch, which the
parent imports only to fork its children with it (it runs no torch code itself).

    worker ──stdin──▶ parent (trusted: root in the container, undumpable) ──socket──▶ child (its own uid)
    worker ◀─stdout── parent: the outputs the worker checks, then one result record

The worker runs ``python -I -c BOOTSTRAP``. Stdin brings this file's source, then framed records: the
job, the files the children import, and every call's inputs in the order the parent uses them. The
parent keeps each call's inputs in a sealed memfd that no child can open, and hands it over only when it
starts that call's clock. The call ends when the parent holds the child's outputs: a memfd the child
fills and the parent seals before it stops the clock, so no work can move out of the timed window. The
parent counts the calls, decides in secret (the worker chose) which outputs go back to be checked, and
believes nothing the child says about time. The reference runs first, in a child of another uid, from
files the parent deletes before the submission's child starts. docs/sandbox.md has the threat model.

The worker imports this module too, for the record framing and the tensor bundle format (``pack`` /
``unpack``): one definition of the wire format on both sides.
"""

from __future__ import annotations

import fcntl
import json
import mmap
import os
import secrets
import select
import shutil
import signal
import socket
import statistics
import struct
import sys
import threading
import time
import traceback
from pathlib import Path

# Unbuffered: exactly the source's bytes are read, so no byte of the job that follows it is in this process's
# memory when it forks the children.
BOOTSTRAP = ("import os\nn=b''\nwhile not n.endswith(b'\\n'):n+=os.read(0,1) or os._exit(1)\ns=b''\n"
             "while len(s)<int(n):s+=os.read(0,int(n)-len(s)) or os._exit(1)\n"
             "exec(compile(s,'harness.py','exec'),dict(__name__='__main__'))")
RECORD_HEADER_CAP = 1 << 20
MESSAGE_CAP = 64 * 1024  # one message from a child; its tracebacks are cut to fit
TRACEBACK_CAP = 8 * 1024
LOG_CAP = 64 * 1024
OUTPUT_FLOOR = 64 * 1024 * 1024  # one call's outputs may be this large, or 4 times its inputs' size
STARTUP_S = 20.0  # interpreter and torch import of one child, outside the lab's time limit
SEALS = fcntl.F_SEAL_WRITE | fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_SEAL
CHILD_STATUSES = {"syntax_error", "forbidden", "runtime_error", "memory_limit"}  # what a child may say of itself
DTYPE_NAMES = ("float64", "float32", "float16", "bfloat16", "int64", "int32", "int16", "int8", "uint8", "bool",
               "uint16", "uint32", "uint64", "float8_e4m3fn", "float8_e5m2", "float8_e8m0fnu", "float4_e2m1fn_x2")
ALIGN = 64


# ------------------------------------------------------------------------------------------ records


def record(header: dict, payload: bytes = b"") -> list[bytes]:
    """One framed record: 4-byte length, JSON header (with the payload's size), payload."""
    head = json.dumps({**header, "size": len(payload)}).encode()
    return [struct.pack(">I", len(head)), head, payload]


def read_record(stream) -> tuple[dict, int] | None:
    """The next record's header and its payload size (the caller reads the payload); None at the end."""
    raw = stream.read(4)
    if not raw:
        return None
    if len(raw) != 4:
        raise EOFError("a record was cut short")
    (length,) = struct.unpack(">I", raw)
    if length > RECORD_HEADER_CAP:
        raise ValueError(f"a record header of {length} bytes")
    head = stream.read(length)
    if len(head) != length:
        raise EOFError("a record header was cut short")
    header = json.loads(head)
    size = header.get("size")
    if not isinstance(header, dict) or not isinstance(size, int) or size < 0:
        raise ValueError("a malformed record header")
    return header, size


def read_exact(stream, size: int) -> bytes:
    data = stream.read(size)
    if len(data) != size:
        raise EOFError("a record's payload was cut short")
    return data


# ------------------------------------------------------------------------------------------ bundles
# A bundle is one call's inputs or outputs: 8-byte header length, JSON header, padding, tensor bytes.
# The header lists scalars by value and tensors by dtype, shape, offset and size; the bytes are raw, so
# the receiving side maps them without a copy and no pickle is ever read.


def _dtypes():
    import torch

    return {name: getattr(torch, name) for name in DTYPE_NAMES if hasattr(torch, name)}


def _layout(values: dict) -> tuple[dict, list, int]:
    import torch

    by_dtype = {dtype: name for name, dtype in DTYPES().items()}
    header: dict = {"scalars": {}, "tensors": []}
    tensors, offset = [], 0
    for key, value in values.items():
        if not isinstance(key, str):
            raise TypeError(f"output names must be strings, got {type(key).__name__}")
        if isinstance(value, torch.Tensor):
            t = value.detach()
            if t.layout != torch.strided or t.is_quantized or t.dtype not in by_dtype:
                raise TypeError(f"{key}: a dense tensor of a plain dtype is needed, got {t.dtype} ({t.layout})")
            t = t.cpu().contiguous()
            nbytes = t.numel() * t.element_size()
            header["tensors"].append({"name": key, "dtype": by_dtype[t.dtype], "shape": list(t.shape),
                                      "offset": offset, "nbytes": nbytes})
            tensors.append(t)
            offset += -(-nbytes // ALIGN) * ALIGN
        elif value is None or isinstance(value, bool | int | float | str):
            header["scalars"][key] = value
        else:
            raise TypeError(f"{key}: a tensor, a number or a string is needed, got {type(value).__name__}")
    return header, tensors, offset


def _head_bytes(header: dict) -> bytes:
    head = json.dumps(header).encode()
    start = -(-(8 + len(head)) // ALIGN) * ALIGN
    return struct.pack("<Q", len(head)) + head + b"\0" * (start - 8 - len(head))


def _flat_bytes(t):
    """A contiguous tensor's bytes as a uint8 tensor (a one-element tensor may carry stride 0, which
    view() refuses)."""
    import torch

    return t.reshape(-1).as_strided((t.numel(),), (1,)).view(torch.uint8)


def _fill(buffer, start: int, header: dict, tensors: list) -> None:
    import torch

    for spec, t in zip(header["tensors"], tensors, strict=True):
        if spec["nbytes"]:
            dst = torch.frombuffer(buffer, dtype=torch.uint8, count=spec["nbytes"], offset=start + spec["offset"])
            dst.copy_(_flat_bytes(t))
            del dst


def pack(values: dict) -> bytes:
    """A bundle as bytes (the worker's side, for inputs)."""
    header, tensors, size = _layout(values)
    head = _head_bytes(header)
    buffer = bytearray(len(head) + size)
    buffer[: len(head)] = head
    _fill(buffer, len(head), header, tensors)
    return bytes(buffer)


def pack_memfd(values: dict, *, pwrite: bool = True) -> int:
    """A bundle in a new memfd the parent can seal (the child's side, for outputs). Written with pwrite
    where numpy can lend the tensors' bytes (half the time of filling a fresh mapping page by page), else
    through a mapping that is closed before returning: a writable mapping left behind would make the
    parent's seal fail, which counts as the child's error."""
    header, tensors, size = _layout(values)
    head = _head_bytes(header)
    fd = os.memfd_create("outputs", os.MFD_ALLOW_SEALING | os.MFD_CLOEXEC)
    os.ftruncate(fd, len(head) + size)
    os.pwrite(fd, head, 0)
    try:
        import numpy  # noqa: F401 - torch lends bytes through it
    except ImportError:
        pwrite = False
    if not pwrite and size:
        with mmap.mmap(fd, len(head) + size) as buffer:
            _fill(buffer, len(head), header, tensors)
        return fd
    for spec, t in zip(header["tensors"], tensors, strict=True):
        if spec["nbytes"]:
            view, at = memoryview(_flat_bytes(t).numpy()), len(head) + spec["offset"]
            while view:
                written = os.pwrite(fd, view, at)
                view, at = view[written:], at + written
    return fd


def unpack(buffer) -> dict:
    """A bundle back into tensors (views on ``buffer``, no copy). Every field is checked: on the worker's
    side the buffer came from untrusted code. Raises ValueError on anything malformed."""
    import torch

    if len(buffer) < 8:
        raise ValueError(f"a bundle of {len(buffer)} bytes")
    (length,) = struct.unpack("<Q", bytes(buffer[:8]))
    if length > MESSAGE_CAP or 8 + length > len(buffer):
        raise ValueError("a bundle header out of bounds")
    header = json.loads(bytes(buffer[8: 8 + length]))
    start = -(-(8 + length) // ALIGN) * ALIGN
    if not isinstance(header, dict) or not isinstance(header.get("scalars"), dict) \
            or not isinstance(header.get("tensors"), list) or len(header["tensors"]) > 64:
        raise ValueError("a malformed bundle header")
    values: dict = {}
    for key, value in header["scalars"].items():
        if not (value is None or isinstance(value, bool | int | float | str)):
            raise ValueError(f"scalar {key!r} is a {type(value).__name__}")
        values[key] = value
    dtypes = DTYPES()
    for spec in header["tensors"]:
        if not isinstance(spec, dict):
            raise ValueError("a malformed tensor entry")
        name, dtype, shape = spec.get("name"), dtypes.get(spec.get("dtype")), spec.get("shape")
        offset, nbytes = spec.get("offset"), spec.get("nbytes")
        if not isinstance(name, str) or dtype is None or not isinstance(shape, list) \
                or not all(type(n) is int and n >= 0 for n in shape) or len(shape) > 8 \
                or type(offset) is not int or type(nbytes) is not int or offset < 0 \
                or start + offset + nbytes > len(buffer):
            raise ValueError(f"tensor entry {spec!r:.200} is malformed or out of bounds")
        itemsize = torch.empty((), dtype=dtype).element_size()
        count = 1
        for n in shape:
            count *= n
        if count * itemsize != nbytes:
            raise ValueError(f"tensor {name!r}: shape {shape} and dtype need {count * itemsize} bytes, not {nbytes}")
        values[name] = (torch.frombuffer(buffer, dtype=dtype, count=count, offset=start + offset).reshape(shape)
                        if count else torch.empty(shape, dtype=dtype))
    return values


_DTYPES: dict = {}


def DTYPES() -> dict:  # noqa: N802 - a constant, filled on first use (torch is imported late)
    if not _DTYPES:
        _DTYPES.update(_dtypes())
    return _DTYPES


# ------------------------------------------------------------------------------------------ the parent


class ProtocolError(Exception):
    """The child broke the protocol: its own error, charged to the submission."""


class CallTimeout(Exception):
    pass


class Child:
    """One child process, forked from the parent before the job is read (torch already imported, nothing of
    the job in memory), and the parent's end of its socket. Every message is a JSON object of at most
    MESSAGE_CAP bytes; file descriptors come only with "done"."""

    def __init__(self, *, cwd: Path, env: dict, uid: int | None):
        self.sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        log_read, log_write = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        self.pid = os.fork()
        if self.pid == 0:
            _become_child(theirs.fileno(), log_write, cwd=cwd, env=env, uid=uid)  # never returns
        theirs.close()
        os.close(log_write)
        self.returncode: int | None = None
        self.log = LogReader(log_read)  # started once every child is forked: no thread runs across a fork

    def poll(self) -> int | None:
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def send(self, message: dict, fd: int | None = None) -> None:
        try:
            socket.send_fds(self.sock, [json.dumps(message).encode()], [fd] if fd is not None else [])
        except OSError as exc:
            raise EOFError("the child's end of the socket is closed") from exc

    def receive(self, deadline: float) -> tuple[dict, list[int]]:
        """The next message; raises CallTimeout past ``deadline`` (a message already waiting is read even
        then), ProtocolError on anything malformed."""
        while True:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self.sock], [], [], min(max(left, 0), 0.5))
            if ready:
                break
            if self.poll() is not None:
                break  # exited: the read below sees the end of the socket
            if left <= 0:
                raise CallTimeout
        try:
            data, fds, flags, _ = socket.recv_fds(self.sock, MESSAGE_CAP, 2, socket.MSG_DONTWAIT)
        except BlockingIOError:
            data, fds, flags = b"", [], 0
        except OSError as exc:
            raise ProtocolError(f"the harness's socket failed: {exc}") from exc
        if not data:
            _close(fds)
            raise EOFError
        if flags & (socket.MSG_TRUNC | socket.MSG_CTRUNC):
            _close(fds)
            raise ProtocolError("a message to the harness was too long")
        try:
            message = json.loads(data)
        except ValueError:
            message = None
        if not isinstance(message, dict) or not isinstance(message.get("op"), str):
            _close(fds)
            raise ProtocolError("a message to the harness was not a JSON object with an 'op'")
        return message, fds

    def expect(self, op: str, deadline: float, *, with_fd: bool = False) -> int | None:
        message, fds = self.receive(deadline)
        if message["op"] == "error":
            _close(fds)
            raise ChildError(message)
        if message["op"] != op or len(fds) != (1 if with_fd else 0):
            _close(fds)
            raise ProtocolError(f"the harness expected {op!r} and got {str(message['op'])[:40]!r}"
                                + (f" with {len(fds)} file descriptors" if fds else ""))
        return fds[0] if with_fd else None

    def end(self) -> int:
        """Kill the child and its whole session (nothing it started may outlive it) and reap it. The child
        itself first: one just forked may not have made its session yet, and then no group has its id."""
        for kill in (os.kill, os.killpg):
            try:
                kill(self.pid, signal.SIGKILL)  # PermissionError: misconfigured, never waited on
            except ProcessLookupError:
                pass
        if self.returncode is None:
            self.returncode = os.waitstatus_to_exitcode(os.waitpid(self.pid, 0)[1])
        self.sock.close()
        self.log.join(timeout=2)
        return self.returncode


class ChildError(Exception):
    """The child reported its own failure (an exception in the submission, say)."""

    def __init__(self, message: dict):
        status = message.get("status")
        self.status = status if status in CHILD_STATUSES else "runtime_error"
        self.error = str(message.get("error", ""))[:TRACEBACK_CAP]
        super().__init__(self.status)


class LogReader(threading.Thread):
    """Drains the child's stdout and stderr so it never blocks on a full pipe; keeps the first LOG_CAP bytes."""

    def __init__(self, fd: int):
        super().__init__(daemon=True)
        self.fd, self.kept, self.dropped = fd, bytearray(), 0

    def run(self) -> None:
        while chunk := os.read(self.fd, 65536):
            room = max(LOG_CAP - len(self.kept), 0)
            self.kept += chunk[:room]
            self.dropped += max(len(chunk) - room, 0)
        os.close(self.fd)

    @property
    def text(self) -> str:
        return self.kept.decode("utf-8", "replace")


def _close(fds) -> None:
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass


def progress(**fields) -> None:
    print("@@progress " + json.dumps(fields), file=sys.stderr, flush=True)


class Parent:
    """Runs the reference, then the submission, on inputs read from stdin one call at a time.

    Both children are forked before the job is read, torch imported once, here, while the job is on its way
    or while a warm sandbox waits for one (sandbox.pool): no child holds any of the job in its memory. A
    child learns its job, and runs no line of anyone's code, only once the job's files are in place."""

    def __init__(self, stream):
        self.stream = stream
        self.root = Path.cwd() / f"harness-{secrets.token_hex(4)}"
        self.root.mkdir(mode=0o755)
        uids = os.environ.get("QUANTPREP_SANDBOX_UIDS", "")
        self.uids = dict(zip(("reference", "submission"), map(int, uids.split(":")), strict=True)) if uids else {}
        (self.root / "job").mkdir(mode=0o755)
        self.reference_child = self.start("reference")  # ended unused when the worker sends a recent timing
        self.submission_child = self.start("submission")
        for child in (self.reference_child, self.submission_child):
            child.log.start()
        self.job: dict = {}

    def read_job(self) -> None:
        """The job and its files, from stdin (a warm sandbox waits here for its job)."""
        self.job, files = self._read_job()
        for relative, data in files.items():
            path = self.root / relative
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
            path.write_bytes(data)
            path.chmod(0o644)

    def _read_job(self) -> tuple[dict, dict[str, bytes]]:
        found = read_record(self.stream)
        if found is None:  # a warm sandbox whose worker went away before giving it a job
            self.reference_child.end()
            self.submission_child.end()
            raise SystemExit(0)
        header, size = found
        if header.get("kind") != "job":
            raise ValueError("the stream must start with the job")
        job = json.loads(read_exact(self.stream, size))
        files = {}
        for _ in job["files"]:
            header, size = read_record(self.stream)
            path = str(header.get("path", ""))
            if header.get("kind") != "file" or path.startswith("/") or ".." in path.split("/") \
                    or path.split("/")[0] not in ("job", "ref"):
                raise ValueError(f"unexpected file record {header!r:.200}")
            files[path] = read_exact(self.stream, size)
        return job, files

    def next_input(self, phase: str, case: str, call: int) -> int:
        """The next inputs from stdin into a sealed memfd (the worker sends them in the order they are used)."""
        header, size = read_record(self.stream)
        if (header.get("kind"), header.get("phase"), header.get("case"), header.get("call")) != ("input", phase, case, call):
            raise ValueError(f"expected the inputs of {phase} {case} call {call}, got {header!r:.200}")
        fd = os.memfd_create("inputs", os.MFD_ALLOW_SEALING | os.MFD_CLOEXEC)
        os.ftruncate(fd, size)
        if size:
            with mmap.mmap(fd, size) as buffer:
                view, filled = memoryview(buffer), 0
                while filled < size:
                    n = self.stream.readinto(view[filled:])
                    if not n:
                        raise EOFError("inputs cut short")
                    filled += n
                view.release()
        fcntl.fcntl(fd, fcntl.F_ADD_SEALS, SEALS)
        return fd

    def start(self, role: str) -> Child:
        """A child under the role's uid; ``brief`` then tells it its job."""
        work = self.root / f"work-{role}"
        work.mkdir(mode=0o777)
        work.chmod(0o777)  # the child's own scratch space, whatever its uid
        env = {"PATH": "/usr/bin:/bin", "HOME": str(work), "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
        for name in ("LD_LIBRARY_PATH", "CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES", "NVIDIA_DRIVER_CAPABILITIES"):
            if name in os.environ:
                env[name] = os.environ[name]
        return Child(cwd=work, env=env, uid=self.uids.get(role))

    def brief(self, child: Child, role: str) -> None:
        """What the child runs: sent once the job's files are written (a path on sys.path before its
        folder exists would be cached as missing)."""
        paths = [str(self.root / "job" / "lib")] + ([str(self.root / "ref" / "lib")] if role == "reference" else [])
        spec = {key: self.job[key] for key in ("problem", "entry", "device", "forbidden_imports", "forbidden_names")}
        spec.update(role=role, paths=paths, reference=self.job["reference"] if role == "reference" else None,
                    submission=str(self.root / "job" / "submission.py"))
        child.send({"op": "job", "spec": spec})

    def call(self, child: Child, fd: int, deadline: float) -> tuple[float, float, int]:
        """One call on the parent's clock: from handing over the inputs to holding the sealed outputs.
        Returns (total, kernel, output fd); the kernel part (between the child's "loaded" and "computed")
        is believed for the reference only."""
        started = time.perf_counter()
        child.send({"op": "call"}, fd)
        child.expect("loaded", deadline)
        loaded = time.perf_counter()
        child.expect("computed", deadline)
        computed = time.perf_counter()
        out = child.expect("done", deadline, with_fd=True)
        try:
            fcntl.fcntl(out, fcntl.F_ADD_SEALS, SEALS)
            size = os.fstat(out).st_size
        except OSError as exc:
            os.close(out)
            raise ProtocolError(f"the outputs were not handed over as the harness's memfd ({exc.strerror})") from exc
        total = time.perf_counter() - started
        cap = max(OUTPUT_FLOOR, 4 * os.fstat(fd).st_size)
        if size > cap:
            os.close(out)
            raise ChildError({"status": "runtime_error",
                              "error": f"The outputs of one call are {size} bytes, more than the {cap} allowed."})
        return total, computed - loaded, out

    def run_reference(self, child: Child, bench: dict[tuple[str, int], int], started: float) -> dict:
        side = {"status": "ok", "error": "", "calls": {}}
        deadline = started + STARTUP_S + float(self.job["reference_s"])
        try:
            child.expect("started", deadline)
            child.expect("ready", deadline)
            cases = self.job["benchmarks"]
            for i, case in enumerate(cases, 1):
                progress(stage="timing the reference", case=i, of=len(cases), name=case)
                timed = side["calls"][case] = []
                for call in range(self.job["warmup"] + self.job["repeats"]):
                    total, kernel, out = self.call(child, bench[(case, call)], deadline)
                    os.close(out)
                    if call >= self.job["warmup"]:
                        timed.append([total, kernel])
            child.send({"op": "exit"})
        except (ChildError, ProtocolError, CallTimeout, EOFError) as exc:
            side.update(status="failed", error=_describe(exc))
        side["returncode"] = child.end()
        side["log"] = child.log.text
        shutil.rmtree(self.root / "ref", ignore_errors=True)  # gone before any submission code runs
        return side

    def run_submission(self, child: Child, bench: dict[tuple[str, int], int], reference: dict,
                       started: float) -> tuple[dict, dict]:
        """The import and the tests share ``time_limit_s`` of the submission's own time (reading inputs from
        stdin does not count); the benchmarks follow with a budget per call and ``bench.total_s`` in all."""
        job = self.job
        side: dict = {"status": "ok", "error": "", "case": None, "calls": {}, "too_slow": None}
        kept: dict[tuple[str, int], int] = {}
        where = None
        try:
            child.expect("started", started + STARTUP_S)
        except (ChildError, ProtocolError, CallTimeout, EOFError) as exc:  # ours: no submission code ran yet
            child.end()
            return {"status": "not_run", "error": f"the submission's process did not start: {_describe(exc)}",
                    "log": child.log.text}, kept
        try:
            began = time.monotonic()
            child.send({"op": "import"})
            child.expect("ready", began + float(job["time_limit_s"]))
            spent = time.monotonic() - began
            for i, case in enumerate(job["tests"], 1):
                where = case
                progress(stage="running tests", case=i, of=len(job["tests"]), name=case)
                fd = self.next_input("test", case, 0)
                began = time.monotonic()
                try:
                    _, _, kept[(case, 0)] = self.call(child, fd, began + float(job["time_limit_s"]) - spent)
                finally:
                    os.close(fd)
                spent += time.monotonic() - began
            bench_left = float(job["bench"]["total_s"])
            for i, case in enumerate(job["benchmarks"], 1):
                where = case
                progress(stage="timing", case=i, of=len(job["benchmarks"]), name=case)
                reference_s = statistics.median(t for t, _ in reference["calls"][case])
                budget = max(float(job["bench"]["budget_factor"]) * reference_s, float(job["bench"]["min_call_s"]))
                timed = side["calls"][case] = []
                for call in range(job["warmup"] + job["repeats"]):
                    began = time.monotonic()
                    try:
                        total, _, out = self.call(child, bench[(case, call)], began + min(budget, bench_left))
                    except CallTimeout:
                        side["too_slow"] = {"case": case, "call": call, "budget_s": budget,
                                            "reference_s": reference_s}
                        raise
                    bench_left -= time.monotonic() - began
                    if call >= job["warmup"]:
                        timed.append(total)
                    if call in job["checked"][case]:
                        kept[(case, call)] = out
                    else:
                        os.close(out)
            child.send({"op": "exit"})
            where = None
        except ChildError as exc:
            side.update(status=exc.status, error=exc.error)
        except ProtocolError as exc:
            side.update(status="runtime_error", error=f"The submission broke the grading protocol: {exc}")
        except CallTimeout:
            if side["too_slow"] is None:
                side.update(status="time_limit")
        except EOFError:
            side.update(status="exited")
        side["case"] = where
        side["returncode"] = child.end()
        side["log"], side["log_dropped_bytes"] = child.log.text, child.log.dropped
        if side["status"] == "exited" and side["returncode"] == -signal.SIGKILL:
            side["status"] = "memory_limit"  # the kernel's OOM killer: nothing else here sends SIGKILL
        return side, kept

    def run(self) -> None:
        started = time.monotonic()
        progress(stage="starting")
        cases, calls = self.job["benchmarks"], self.job["warmup"] + self.job["repeats"]
        cached = self.job.get("reference_calls")
        reference: dict = {"status": "ok", "error": "", "calls": cached or {}, "cached": bool(cached)}
        bench: dict[tuple[str, int], int] = {}
        submission_child, child = self.submission_child, self.reference_child
        if cases and not cached:  # the worker has no recent timing of the reference for these sizes
            self.brief(child, "reference")
        else:
            child.end()
        # The submission's child waits for "import" before it runs a line of the submission, which it gets
        # after the reference is done; it was forked, torch imported, before the job was read.
        self.brief(submission_child, "submission")
        if cases:
            bench = {(case, call): self.next_input("bench", case, call) for case in cases for call in range(calls)}
            if not cached:
                reference = self.run_reference(child, bench, started)
        shutil.rmtree(self.root / "ref", ignore_errors=True)  # gone before any submission code runs
        kept: dict = {}
        if reference["status"] == "ok":
            submission, kept = self.run_submission(submission_child, bench, reference, started)
        else:
            submission_child.end()
            submission = {"status": "not_run"}
        _close(bench.values())
        out = sys.stdout.buffer
        for (case, call), fd in kept.items():
            size = os.fstat(fd).st_size
            data = mmap.mmap(fd, size, prot=mmap.PROT_READ) if size else b""
            for part in record({"kind": "output", "case": case, "call": call}, data):
                out.write(part)
            del data
            os.close(fd)
        for part in record({"kind": "result"}, json.dumps({
                "reference": reference, "submission": submission, "wall_s": time.monotonic() - started}).encode()):
            out.write(part)
        out.flush()


def _describe(exc: BaseException) -> str:
    """What went wrong in a child of ours (the reference's, or the submission's before its code ran)."""
    if isinstance(exc, ChildError):
        return exc.error
    if isinstance(exc, CallTimeout):
        return "it did not answer in time"
    if isinstance(exc, EOFError):
        return "its process ended early"
    return str(exc)


def _become_child(sock_fd: int, log_fd: int, *, cwd: Path, env: dict, uid: int | None) -> None:
    """In a just-forked child: what a fresh process of its own would have (a session, the role's uid and no
    capability, only its socket and its log, the job's environment), then ``child``; it never returns into
    the parent's code. The first victim of the out-of-memory killer, not the parent."""
    code = 1
    try:
        os.setsid()
        null = os.open(os.devnull, os.O_RDWR)
        for fd, target in ((null, 0), (log_fd, 1), (log_fd, 2), (sock_fd, 3)):
            os.dup2(fd, target)
        os.closerange(4, os.sysconf("SC_OPEN_MAX"))
        with open("/proc/self/oom_score_adj", "w") as adj:
            adj.write("1000")
        if uid is not None:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
        _set_dumpable(1)  # as after an exec: its own uid may inspect it (the parent stays undumpable)
        os.chdir(cwd)
        os.environ.clear()
        os.environ.update(env)
        code = child(3) or 0
    except SystemExit as exc:  # the submission's sys.exit(), as a process of its own would exit with it
        code = 0 if exc.code is None else exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # noqa: BLE001 - an error of ours before or after the child's own reporting
        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BaseException:  # noqa: BLE001, S110 - a closed or broken stream: nothing more to say
                pass
        os._exit(code)


def _set_dumpable(value: int) -> None:
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(4, value, 0, 0, 0) != 0:  # PR_SET_DUMPABLE
        raise OSError(ctypes.get_errno(), f"prctl(PR_SET_DUMPABLE, {value}) failed")


def _not_dumpable() -> None:
    """PR_SET_DUMPABLE 0: no process can ptrace this one or open its /proc files (fds, memory, environ)."""
    _set_dumpable(0)


# ------------------------------------------------------------------------------------------ the children


class ForbiddenImport(ImportError):
    pass


class ImportBlocker:
    """Refuses a lab's forbidden top-level modules at import time: a hint for honest learners (the worker
    also reads the source), never a boundary; the boundaries are the uid and the container."""

    def __init__(self, forbidden: set[str]):
        self.forbidden = forbidden

    def find_spec(self, fullname, path=None, target=None):
        if fullname.split(".")[0] in self.forbidden:
            raise ForbiddenImport(f"import of {fullname!r} is not allowed in this lab")
        return None


def child(sock_fd: int) -> None:
    sock = socket.socket(fileno=sock_fd)

    def tell(op: str, fd: int | None = None, **fields) -> None:
        socket.send_fds(sock, [json.dumps({"op": op, **fields}).encode()], [fd] if fd is not None else [])

    def fail(status: str, error: str) -> None:
        tell("error", status=status, error=error[-TRACEBACK_CAP:])

    import importlib
    import importlib.util

    import torch

    torch.set_num_threads(max(int(os.environ.get("OMP_NUM_THREADS", "1")), 1))  # OpenMP read the parent's at import
    DTYPES()  # every dtype's name, before a lab hides some of them from torch
    message, fds, _, _ = socket.recv_fds(sock, MESSAGE_CAP, 1)  # the parent's "job", once its files are written
    if not message or fds or json.loads(message).get("op") != "job":
        return
    spec = json.loads(message)["spec"]
    sys.path[:0] = spec["paths"]
    device = torch.device(spec["device"])
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    # On a GPU every call starts with a cold L2: writing a buffer larger than any L2 evicts it.
    l2 = torch.empty(256 << 20, dtype=torch.uint8, device=device) if device.type == "cuda" else None
    problem = importlib.import_module(spec["problem"])
    tell("started")
    if spec["role"] == "reference":
        impl = importlib.import_module(spec["reference"])
    else:
        message, fds, _, _ = socket.recv_fds(sock, MESSAGE_CAP, 1)  # "import": the reference is done
        if not message or fds or json.loads(message).get("op") != "import":
            return
        sys.meta_path.insert(0, ImportBlocker(set(spec["forbidden_imports"])))
        for name in spec["forbidden_names"]:
            if hasattr(torch, name):
                delattr(torch, name)
        try:
            loader = importlib.util.spec_from_file_location("submission", spec["submission"])
            impl = importlib.util.module_from_spec(loader)
            loader.loader.exec_module(impl)
        except SyntaxError:
            return fail("syntax_error", _traceback())
        except ForbiddenImport:
            return fail("forbidden", _traceback())
        except BaseException:  # noqa: BLE001 - whatever the module does at import time is its error
            return fail("runtime_error", _traceback())
        missing = [name for name in spec["entry"] if not callable(getattr(impl, name, None))]
        if missing:
            return fail("runtime_error", f"The submission does not define {', '.join(missing)} (see the starter).")
    tell("ready")
    while True:
        message, fds, _, _ = socket.recv_fds(sock, MESSAGE_CAP, 1)
        if not message or json.loads(message).get("op") != "call":
            return
        try:
            # A private mapping: the tensors are views on it (no copy), and writes stay in this process.
            # It is unmapped when the last tensor on it goes, whoever keeps one.
            raw = mmap.mmap(fds[0], 0, access=mmap.ACCESS_COPY)
            os.close(fds[0])
            inputs = {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in unpack(raw).items()}
            del raw
            if l2 is not None:
                l2.zero_()
            sync()
            tell("loaded")
            outputs = problem.invoke(impl, inputs)
            sync()
            tell("computed")
            del inputs
            if not isinstance(outputs, dict):
                raise TypeError(f"invoke returned a {type(outputs).__name__}, not a dict")
            fd = pack_memfd(outputs)
            del outputs
            tell("done", fd)
            os.close(fd)
        except BaseException as exc:  # noqa: BLE001 - the submission's exception, reported as its error
            text = str(exc)
            oom = isinstance(exc, MemoryError) or "can't allocate memory" in text or "out of memory" in text
            return fail("memory_limit" if oom else "runtime_error", _traceback())


def _traceback() -> str:
    text = traceback.format_exc()
    return text if len(text) <= TRACEBACK_CAP else "...\n" + text[-TRACEBACK_CAP:]


def main() -> None:
    _not_dumpable()
    sys.dont_write_bytecode = True  # as root in the sandbox: nothing of ours is written beside the modules
    import torch  # noqa: F401 - once, for both children, which are forked with it

    parent = Parent(sys.stdin.buffer)
    parent.read_job()
    parent.run()
    sys.stderr.flush()
    os._exit(0)  # the result is out: tearing down an interpreter with torch in it took 0.4 s of the learner's wait


if __name__ == "__main__":
    main()
