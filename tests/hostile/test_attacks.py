"""Hostile submissions against the real docker sandbox, written the way an attacker would write them
(searching, hooking by strings, forging), not the way the defences expect. Each gets its expected
verdict; none earns speed it did not honestly spend; the worker and the host are unharmed (no container
left, no process left, no secret leaked, no connection reached the test's own listener).

The network attack connects only to a listener this test runs on the Docker bridge's host address."""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import socket
import statistics
import subprocess
import threading
import time
import uuid
from pathlib import Path

import docker
import pytest
from django.conf import settings

from content.labs import lab_folder_get
from labs.grading import grade, warm
from labs.grading.build import job_kind
from sandbox.docker_backend import OWNER_LABEL, RUN_LABEL, DockerBackend, owner, run_id

pytestmark = [pytest.mark.docker, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
CORRECT = (ROOT / "fixtures/labs/fp8-e4m3/solutions/correct/frexp_round.py").read_text()
SECRET = "canary-" + uuid.uuid4().hex
LABEL = "org.quantprep.sandbox.job"


def with_correct(prefix: str = "", encode_prefix: str = "", renamed: str = "") -> str:
    """The correct solution with attack code at import time and/or at the top of encode_e4m3; with
    ``renamed``, its encoder becomes ``_encode`` and the attack defines encode_e4m3 itself."""
    body = CORRECT
    if renamed:
        body = body.replace("def encode_e4m3(x):\n", "def _encode(x):\n", 1) + "\n\n" + renamed
    body = body.replace("def encode_e4m3(x):\n", "def encode_e4m3(x):\n" + encode_prefix, 1)
    return prefix + "\n" + body


@pytest.fixture(scope="module")
def lab():
    """The fp8 lab with tighter limits and one mid-sized benchmark, so that each attack ends in seconds."""
    lab = lab_folder_get("fp8-e4m3")
    return dataclasses.replace(
        lab, meta={**lab.meta, "limits": {"time_s": 8, "memory_mb": 2048}, "bench": {"warmup": 1, "repeats": 5}},
        cases={**lab.cases, "benchmarks": {"cpu": [{"name": "random-1M", "kind": "random", "shape": [1024, 1024]}]}})


@pytest.fixture(scope="module")
def engine():
    client = docker.from_env()
    client.ping()
    return client


NOISE = 4.0  # see honest()


@pytest.fixture(scope="module")
def honest(lab):
    """The honest solution's speedup on this machine now: what no attack may beat by more than the noise.
    The median of three runs. One run's speedup moves by 2.4x here: 0.10 to 0.21 in eight runs in a row,
    and 0.09 to 0.23 with the reference timed afresh in each job, so an honest-speed attack may look 2.4
    times as fast as the median; the bound is NOISE times it. An attack that moved the work out of the
    clock would answer from a lookup and look tens of times as fast."""
    speedups = []
    for _ in range(3):
        report = run(lab, CORRECT)
        assert report.verdict == "accepted" and report.speedup, report.diagnostics[:500]
        speedups.append(report.speedup)
    return statistics.median(speedups)


def bridge_host_address(engine) -> str:
    """The host's address on Docker's default bridge. A freshly started dockerd reports only the subnet
    (no Gateway) in IPAM.Config; the bridge (docker0) then holds the subnet's first host address."""
    config = engine.networks.get("bridge").attrs["IPAM"]["Config"][0]
    if config.get("Gateway"):
        return config["Gateway"]
    return str(next(ipaddress.ip_network(config["Subnet"]).hosts()))


@pytest.fixture
def bridge_listener(engine):
    """A TCP listener on the bridge's host address; records every connection it accepts."""
    server = socket.create_server((bridge_host_address(engine), 0))
    server.settimeout(0.2)
    accepted: list = []
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                accepted.append(server.accept())
            except OSError:
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[0], server.getsockname()[1], accepted
    stop.set()
    thread.join()
    server.close()


@pytest.fixture(scope="module", autouse=True)
def backend(lab):
    """The docker backend kept warm as a worker keeps it (sandbox.pool, labs.grading.warm): every attack
    meets the path production runs, a warm container with its inputs made ahead, and takes seconds."""
    warm.enable()
    BACKEND[0] = DockerBackend(image=settings.SANDBOX_IMAGE)
    BACKEND[0].keep_warm(job_kind(lab), 1)
    yield BACKEND[0]
    BACKEND[0].pool.close()
    warm.enable(False)


BACKEND: list = [None]


def run(lab, code: str):
    os.environ["QUANTPREP_TEST_SECRET"] = SECRET  # in the worker's environment: it must never leak
    return grade(lab, code, name=f"hostile-{uuid.uuid4().hex[:10]}", backend=BACKEND[0])


def assert_host_unharmed(engine):
    """No container this worker started is left but the warm ones waiting for the next job (none of which has
    had a job). Containers of other workers on the engine (a deploy smoke's, another pytest process's: each
    process is a run of its own) are theirs to remove."""
    pool = BACKEND[0].pool
    deadline = time.monotonic() + 60
    while any(pool.starting.values()) and time.monotonic() < deadline:
        time.sleep(0.2)  # a refill still starting: wait until it is up and counted as waiting
    waiting = {sandbox.container.id for kind in pool.ready.values() for sandbox in kind}
    ours = engine.containers.list(all=True, filters={"label": [LABEL, f"{OWNER_LABEL}={owner()}", f"{RUN_LABEL}={run_id()}"]},
                                   ignore_removed=True)
    assert [c.id for c in ours if c.id not in waiting] == []


# Shared by the attacks that try to do their work outside the timed window: a stash of answers keyed by
# the input's bytes, and an encoder that answers from it, or honestly but 50 ms late when it must compute.
STASH = '''
import hashlib, time
import torch
STASH = {}

def key(x):
    return hashlib.sha1(x.contiguous().view(torch.uint8).numpy().tobytes()[:65536]).hexdigest() + str(tuple(x.shape))
'''
FROM_STASH = '''
def encode_e4m3(x):
    found = STASH.get(key(x))
    if found is not None:
        return found
    time.sleep(0.25)
    return _encode(x)
'''

# The child's end of its socket to the parent, found as an attacker finds it: the process's one socket.
SOCKET = """import json, os, socket, stat


def _socket():
    for fd in range(64):
        try:
            if stat.S_ISSOCK(os.fstat(fd).st_mode):
                return socket.socket(fileno=fd)
        except OSError:
            pass


s = _socket()
"""

# The job (with the calls whose outputs are checked, in secret) as the parent reads it, looked for in the
# child's own memory, in whatever its descriptors hold, and on its stdin.
JOB_SEARCH = """import os, stat
_open = getattr(os, 'op' + 'en')
HEAD, TAIL = b'"checked": {"ran', b'dom-1M": ['  # never whole in this code


def _found() -> list:
    found = []
    for fd in sorted(int(n) for n in os.listdir('/proc/self/fd')):
        try:
            mode = os.fstat(fd).st_mode
        except OSError:
            continue  # the listing's own
        if fd > 2 and not stat.S_ISSOCK(mode):
            found.append(f'descriptor {fd}')
    if os.read(0, 1 << 16):
        found.append('stdin')
    maps = _open('/proc/self/maps', os.O_RDONLY)
    text = b''
    while chunk := os.read(maps, 1 << 16):
        text += chunk
    os.close(maps)
    mem = _open('/proc/self/mem', os.O_RDONLY)
    for line in text.decode().splitlines():
        field = line.split()
        if field[1][:2] != 'rw' or (len(field) > 5 and not field[5].startswith('[')):
            continue  # the anonymous, writable memory: the heap and what the allocators map
        lo, hi = (int(x, 16) for x in field[0].split('-'))
        try:
            data = os.pread(mem, hi - lo, lo)
        except OSError:
            continue
        at = data.find(HEAD)
        while at >= 0:
            if data[at + len(HEAD):at + len(HEAD) + len(TAIL)] == TAIL:
                found.append(f'memory at {lo + at:#x}')
            at = data.find(HEAD, at + 1)
    os.close(mem)
    return found


FOUND = _found()
if FOUND:
    raise RuntimeError('the job is readable: ' + ', '.join(FOUND))
"""

ATTACKS = {
    # --- the sandbox's own limits ----------------------------------------------------------------------
    "fork bomb": (with_correct("import os\nwhile True:\n    os.fork()\n"), {"runtime_error", "time_limit"}, None),
    "memory bomb": (with_correct("hog = []\nwhile True:\n    hog.append(b'x' * (64 << 20))\n"), {"memory_limit"}, None),
    "fill the disk": (with_correct("import torch\nfor i in range(10_000):\n"
                                   "    torch.save(torch.ones(1 << 22), f'/tmp/fill-{i}')\n"),
                      {"runtime_error", "memory_limit"}, None),
    "infinite loop": (with_correct("while True:\n    pass\n"), {"time_limit"}, None),
    "sleep past the limit": (with_correct("import time\ntime.sleep(10_000)\n"), {"time_limit"}, None),
    # --- the static hints ----------------------------------------------------------------------------------
    "import ctypes": (with_correct("import ctypes\n"), {"forbidden"}, "ctypes"),
    "import the reference": (with_correct("from kernels.fp8 import encode_e4m3 as ref\n"), {"forbidden"}, "kernels"),
    "import through __import__": (with_correct("m = __import__('kernels.fp8')\n"), {"forbidden"}, "__import__"),
    "float8 through getattr": (
        with_correct("import torch\nfp8 = getattr(torch, 'float8_' + 'e4m3fn')\n"), {"runtime_error"}, "float8_"),
    "read the reference source": (
        with_correct("src = open('/job/lib/kernels/fp8.py').read()\n"), {"forbidden"}, "open"),
    "walk the frames to the harness": (
        with_correct("import sys\nh = sys._getframe(1)\n"), {"forbidden"}, "_getframe"),
    # --- the boundaries: uid, process, container ---------------------------------------------------------
    "kill its parent": (with_correct("import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n"),
                        {"runtime_error"}, "Operation not permitted"),
    "stop its parent's clock": (with_correct("import os, signal\nos.kill(os.getppid(), signal.SIGSTOP)\n"),
                                {"runtime_error"}, "Operation not permitted"),
    "borrow the reference with runpy": (
        with_correct("import runpy\nref = runpy.run_path('/job/lib/kernels/fp8.py')\n"),
        {"runtime_error"}, "No such file"),
    "search the disk for the reference": (
        with_correct("import os, runpy\nref = None\nfor d, dirs, files in os.walk('/'):\n"
                     "    dirs[:] = [x for x in dirs if d != '/' or x not in ('proc', 'sys', 'dev')]\n"
                     "    for f in files:\n        if f.endswith('.py') and ('fp8' in f or 'kernels' in d):\n"
                     "            try:\n                ref = runpy.run_path(os.path.join(d, f))['encode_e4m3']\n"
                     "            except Exception:\n                pass\n"
                     "if ref is None:\n    raise LookupError('no reference anywhere')\n"),
        {"runtime_error"}, "no reference anywhere"),
    "borrow the reference from the loaded modules": (
        with_correct("import sys\nmods = getattr(sys, 'mod' + 'ules')\n"
                     "donors = [m for name, m in list(mods.items()) if name != 'submission'\n"
                     "          and callable(getattr(m, 'encode_e4m3', None))]\n"
                     "if not donors:\n    raise LookupError('no module with encode_e4m3')\n"),
        {"runtime_error"}, "no module with encode_e4m3"),
    "overwrite the harness and the reference's files": (
        with_correct("import glob, os, pathlib\n"
                     "targets = glob.glob('/tmp/*/job/*') + glob.glob('/tmp/*/ref/**/*', recursive=True) + \\\n"
                     "    glob.glob('/tmp/*/work-reference/*') + ['/tmp/harness.py']\n"
                     "for p in targets:\n    try:\n        pathlib.Path(p).write_text('pwned')\n"
                     "    except OSError as e:\n        print('refused', p, e)\n"),
        {"accepted"}, None),
    # --- the timing protocol -------------------------------------------------------------------------------
    "cache outputs between timed calls": (
        CORRECT.replace("def encode_e4m3(x):\n", "CACHE = {}\n\n\ndef encode_e4m3(x):\n"
                        "    if x.shape in CACHE:\n        return CACHE[x.shape]\n"
                        "    CACHE[x.shape] = _encode(x)\n    return CACHE[x.shape]\n\n\ndef _encode(x):\n", 1),
        {"wrong_answer"}, "A timed run gave a wrong result"),
    "garbage on exactly the calls that move the median": (
        with_correct("CALLS = [0]\n", "    if x.numel() > 100_000:\n        CALLS[0] += 1\n"
                     "        if CALLS[0] > 3:\n            return torch.zeros(x.shape, dtype=torch.uint8)\n"),
        {"wrong_answer"}, "A timed run gave a wrong result"),
    "monkeypatch the timer": (
        with_correct("import time\ntime.perf_counter = lambda: 0.0\ntime.monotonic = lambda: 0.0\n",
                     "    time.sleep(0.05)\n"), {"accepted"}, None),
    "search its memory and descriptors for the job": (  # it is read only after both children are forked
        with_correct(JOB_SEARCH), {"accepted"}, None),
    "forge protocol messages": (
        with_correct(SOCKET
                     + "s.send(json.dumps({'op': 'ready'}).encode())\n"
                     "s.send(json.dumps({'op': 'done', 'call': 6, 'elapsed': 1e-9, 'name': 'random-1M'}).encode())\n"),
        {"runtime_error"}, "broke the grading protocol"),
    "crash the relay with a progress message": (
        with_correct(SOCKET
                     + "s.send(json.dumps({'op': 'progress', 'role': 'submission', 'stage': 'x', 'clock': 'ready'}).encode())\n"),
        {"runtime_error"}, "broke the grading protocol"),
    "flood the socket": (
        with_correct(SOCKET
                     + "s.send(b'\\xff' * (128 << 10))\n"),
        {"runtime_error"}, "broke the grading protocol"),
    "hand over descriptors it should not": (
        with_correct(SOCKET
                     + "fd = getattr(os, 'op' + 'en')('/etc/passwd', 0)\n"
                     "socket.send_fds(s, [json.dumps({'op': 'ready'}).encode()], [fd] * 3)\n"),
        {"runtime_error"}, "broke the grading protocol"),
    "answer 'done' with a pipe instead of the outputs": (
        with_correct("import json, os, socket, sys\n_real = socket.send_fds\n"
                     "def send_fds(sock, buffers, fds, *a):\n"
                     "    if b'\"done\"' in buffers[0]:\n        fds = [os.pipe()[0]]\n"
                     "    return _real(sock, buffers, fds, *a)\nsocket.send_fds = send_fds\n"),
        {"runtime_error"}, "memfd"),
}


TIMED = {"monkeypatch the timer"}  # its speedup is asserted: it runs with the machine to itself
# Their wrong outputs come only from the later timed calls, which a loaded machine may never reach (a call
# past its budget, 20 times the reference's time, ends the timing: accepted, no speed points, nothing
# gained, but nothing caught either). They run with the machine to themselves too.
EVERY_CALL = {"cache outputs between timed calls", "garbage on exactly the calls that move the median"}


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.quiet) if n in TIMED | EVERY_CALL else n
                                  for n in ATTACKS])
def test_attack_gets_its_verdict_and_leaves_the_host_unharmed(lab, engine, name):
    code, verdicts, words = ATTACKS[name]
    report = run(lab, code)
    assert report.verdict in verdicts, f"{name}: {report.verdict}: {report.diagnostics[:500]}"
    if words:
        assert words in report.diagnostics, report.diagnostics[:1500]
    assert SECRET not in str(report.as_json())
    assert_host_unharmed(engine)
    if name == "monkeypatch the timer":
        # 50 ms of sleep in every call: the parent's clock sees it, whatever the child did to its own.
        assert report.speedup is not None and report.speedup < 0.5, report.speedup
    if name == "overwrite the harness and the reference's files":
        assert report.correct and report.score >= 80


@pytest.mark.quiet  # compared with the honest solution's speedup
def test_precomputing_from_whatever_it_can_read_gains_nothing(lab, engine, honest):
    """The attack that beat the old protocol: read every input it can find before the clock starts and
    answer from a stash. It looks where the job folder was, then everywhere else (the scratch space,
    shared memory, every process's open files). Nothing is there, so each call takes the slow path."""
    search = STASH + '''
import io, os, pathlib, stat, sys
def tensors_in(data):
    try:
        yield from (v for v in torch.load(io.BytesIO(data), weights_only=True).values() if torch.is_tensor(v))
    except Exception:
        pass
    if len(data) >= 4 << 20:  # raw float32 bytes, at any offset a bundle could use
        for offset in range(0, 4097, 64):
            n = (len(data) - offset) // 4
            if n >= 1 << 20:
                yield torch.frombuffer(bytearray(data[offset:offset + 4 * (1 << 20)]), dtype=torch.float32).reshape(1024, 1024)

roots = [os.path.dirname(a) for a in sys.argv if a.startswith('/')] + ['/job', '/tmp', '/dev/shm', '/run', '/var/tmp']
paths = []
for root in roots:
    for d, _, files in os.walk(root):
        paths += [os.path.join(d, f) for f in files]
for pid in os.listdir('/proc'):
    if pid.isdigit():
        try:
            paths += [os.path.join('/proc', pid, 'fd', fd) for fd in os.listdir(f'/proc/{pid}/fd')]
        except OSError:
            pass
for path in paths:
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):  # a pipe or a socket would block the read
            continue
        data = pathlib.Path(path).read_bytes()[:64 << 20]
    except OSError:
        continue
    for t in tensors_in(data):
        if t.dtype == torch.float32 and t.numel() >= 1 << 20:
            STASH[key(t)] = _encode(t)
'''
    report = run(lab, with_correct(search, renamed=FROM_STASH))
    assert report.verdict == "accepted", report.diagnostics[:1000]
    # Every call slept: had any stashed answer matched, the median call would have been far faster.
    assert report.speedup is not None and report.speedup < 0.7 * honest, (report.speedup, honest)
    assert_host_unharmed(engine)


@pytest.mark.quiet  # compared with the honest solution's speedup
def test_hooking_the_harness_loader_moves_no_work_out_of_the_clock(lab, engine, honest):
    """Reached by strings, past the static hints: wrap the harness's own input loader (and torch.load,
    which the old protocol used) to encode each input the moment it arrives, before the call "starts". The
    loader is found where the child's code runs from, up the call stack (whatever module or namespace holds
    it). The clock started when the inputs were handed over, so the work is timed all the same."""
    hook = STASH + '''
import sys
frame = getattr(sys, '_get' + 'frame')()
while 'un' + 'pack' not in getattr(frame, 'f_glo' + 'bals'):
    frame = getattr(frame, 'f_ba' + 'ck')
harness = getattr(frame, 'f_glo' + 'bals')
real_unpack, real_load = harness['un' + 'pack'], torch.load

def eager(values):
    for v in values.values():
        if torch.is_tensor(v) and v.dtype == torch.float32 and v.numel() >= 1 << 20:
            STASH[key(v)] = _encode(v)
    return values

harness['un' + 'pack'] = lambda *a, **k: eager(real_unpack(*a, **k))
torch.load = lambda *a, **k: eager(real_load(*a, **k))
'''
    report = run(lab, with_correct(hook, renamed=FROM_STASH))
    assert report.verdict == "accepted", report.diagnostics[:1000]
    assert not report.needs_review
    assert report.speedup is not None and report.speedup < NOISE * honest, (report.speedup, honest)
    assert_host_unharmed(engine)


@pytest.mark.quiet  # compared with the honest solution's speedup
def test_forging_a_result_on_the_containers_stdout_is_refused(lab, engine, honest):
    """The harness's result goes out on the container's stdout. A child that could write there (PID 1's
    or its parent's descriptor) could forge timings; it runs under another uid, so it cannot."""
    forge = '''
import io, json, os, struct
payload = json.dumps({"reference": {"status": "ok", "calls": {"random-1M": [[1.0, 0.9]] * 5}},
                      "submission": {"status": "ok", "calls": {"random-1M": [1e-6] * 5}}, "wall_s": 1.0}).encode()
head = json.dumps({"kind": "result", "size": len(payload)}).encode()
forged = struct.pack(">I", len(head)) + head + payload
refused = []
for target in ("/proc/1/fd/1", "/proc/%d/fd/1" % os.getppid()):
    try:
        with getattr(io, "op" + "en")(target, "wb") as out:  # past the static hint, by strings
            out.write(forged)
    except OSError as e:
        refused.append(e.strerror)
if len(refused) != 2:
    raise SystemExit("FORGED")
'''
    report = run(lab, with_correct(forge))
    assert report.verdict == "accepted", report.diagnostics[:1000]
    assert report.speedup is not None and report.speedup < NOISE * honest and not report.needs_review
    assert_host_unharmed(engine)


def test_no_network_reaches_the_host(lab, engine, bridge_listener):
    host, port, accepted = bridge_listener
    code = with_correct(f"import socket\ns = socket.create_connection(({host!r}, {port}), timeout=3)\n")
    report = run(lab, code)
    assert report.verdict == "runtime_error", report.diagnostics[:500]
    assert "Network is unreachable" in report.diagnostics or "OSError" in report.diagnostics
    assert accepted == []
    assert_host_unharmed(engine)


def test_reading_secrets_and_host_files_finds_nothing(lab, engine):
    probe = ("import os, pathlib\nfound = {k: v for k, v in os.environ.items()}\n"
             "for p in ['/proc/1/environ', '/proc/%d/environ' % os.getppid(), '/work/main/config/settings/base.py',\n"
             "          '/etc/shadow']:\n"
             "    try:\n        found[p] = pathlib.Path(p).read_bytes()[:200]\n"
             "    except OSError as e:\n        found[p] = repr(e)\n"
             "raise RuntimeError(repr(found))\n")
    report = run(lab, with_correct(probe))
    assert report.verdict == "runtime_error"
    assert SECRET not in report.diagnostics and "SECRET_KEY" not in report.diagnostics
    assert "No such file" in report.diagnostics  # the host's files are not in the container at all
    assert "Permission denied" in report.diagnostics  # the parent's and PID 1's environments are not readable
    assert_host_unharmed(engine)


def test_no_input_expected_output_or_reference_is_readable(lab, engine):
    """Everything the submission can read that is not part of the image: the harness, the problem module
    and its own file. No input of any call, no expected output, no reference kernel."""
    probe = ("import os\nfiles = []\nfor root in ['/tmp', '/dev/shm', '/run', '/var/tmp', '/job']:\n"
             "    for d, _, fs in os.walk(root):\n"
             "        files += [os.path.join(d, f) for f in fs if os.access(os.path.join(d, f), os.R_OK)]\n"
             "for pid in filter(str.isdigit, os.listdir('/proc')):\n"
             "    try:\n        files += ['fd:' + os.readlink(f'/proc/{pid}/fd/{fd}') for fd in os.listdir(f'/proc/{pid}/fd')]\n"
             "    except OSError:\n        pass\n"
             "raise RuntimeError('FILES:' + ' '.join(sorted(files)))\n")
    report = run(lab, with_correct(probe))
    listed = report.diagnostics.rsplit("RuntimeError: FILES:", 1)[1].split("\n", 1)[0].split()
    readable = [p for p in listed if not p.startswith("fd:")]
    assert readable and all(p.endswith(("/job/harness.py", "/job/submission.py", "/graders/__init__.py",
                                         "/graders/labs/__init__.py", "/graders/labs/fp8_e4m3.py"))
                            for p in readable), readable
    descriptors = [p for p in listed if p.startswith("fd:")]
    assert not any("memfd:inputs" in p for p in descriptors), descriptors  # only its own, and none of the parent's


def test_a_background_process_does_not_outlive_the_run(lab, engine):
    """A daemon (its own session, its parent gone), marked so that this test finds its own: the host's
    process list also shows other tests' sandboxes, a warm-pool attack's lurker among them."""
    marker = f"outlive-{uuid.uuid4().hex[:8]}"
    code = with_correct("import os, sys\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
                        "        os.execv(sys.executable, [sys.executable, '-c', 'import time; time.sleep(600)', "
                        f"'{marker}'])\n    os._exit(0)\n")
    report = run(lab, code)
    assert report.verdict == "accepted", report.diagnostics[:500]
    assert_host_unharmed(engine)
    ps = subprocess.run(["ps", "-eo", "user,args"], capture_output=True, text=True).stdout
    assert not [line for line in ps.splitlines() if marker in line]


def test_a_stdout_flood_is_capped_and_stored_nowhere(lab, engine):
    code = with_correct("import sys\nfor _ in range(200):\n    sys.stdout.write('x' * (1 << 20))\n")
    report = run(lab, code)
    assert report.verdict == "accepted", report.diagnostics[:500]
    assert len(str(report.as_json())) < 200_000
    assert_host_unharmed(engine)


def test_a_huge_output_tensor_is_refused_not_loaded(lab, engine):
    code = with_correct("", "    return torch.zeros(30_000_000, dtype=torch.uint8)\n")
    report = run(lab, code)
    assert report.verdict in {"wrong_answer", "runtime_error", "memory_limit"}, report.diagnostics[:500]
    assert report.score == 0
