"""Hostile submissions against the real docker sandbox: each attack gets its expected verdict, and the
worker and the host are unharmed (no container left, no process left, no secret leaked, no connection
reached the test's own listener).

The network attack connects only to a listener this test runs on the Docker bridge's host address."""

from __future__ import annotations

import dataclasses
import os
import socket
import subprocess
import threading
import uuid
from pathlib import Path

import docker
import pytest

from labs.content import lab_folder_get
from labs.pipeline import grade

pytestmark = [pytest.mark.docker, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
CORRECT = (ROOT / "fixtures/labs/fp8-e4m3/solutions/correct/frexp_round.py").read_text()
SECRET = "canary-" + uuid.uuid4().hex
LABEL = "org.quantprep.sandbox.job"


def with_correct(prefix: str = "", encode_prefix: str = "") -> str:
    """The correct solution with attack code at import time and/or at the top of encode_e4m3."""
    body = CORRECT.replace("def encode_e4m3(x):\n", "def encode_e4m3(x):\n" + encode_prefix, 1)
    return prefix + "\n" + body


@pytest.fixture(scope="module")
def lab():
    """The fp8 lab with tighter limits, so time and memory attacks end in seconds."""
    lab = lab_folder_get("fp8-e4m3")
    return dataclasses.replace(lab, meta={**lab.meta, "limits": {"time_s": 8, "memory_mb": 2048}})


@pytest.fixture(scope="module")
def engine():
    client = docker.from_env()
    client.ping()
    return client


@pytest.fixture
def bridge_listener(engine):
    """A TCP listener on the bridge's host address; records every connection it accepts."""
    gateway = engine.networks.get("bridge").attrs["IPAM"]["Config"][0]["Gateway"]
    server = socket.create_server((gateway, 0))
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
    yield gateway, server.getsockname()[1], accepted
    stop.set()
    thread.join()
    server.close()


def run(lab, code: str):
    os.environ["QUANTPREP_TEST_SECRET"] = SECRET  # in the worker's environment: it must never leak
    return grade(lab, code, name=f"hostile-{uuid.uuid4().hex[:10]}", backend="docker")


def assert_host_unharmed(engine):
    assert engine.containers.list(all=True, filters={"label": LABEL}) == []


ATTACKS = {
    "fork bomb": (with_correct("import os\nwhile True:\n    os.fork()\n"), {"runtime_error", "time_limit"}, None),
    "memory bomb": (with_correct("hog = []\nwhile True:\n    hog.append(b'x' * (64 << 20))\n"), {"memory_limit"}, None),
    "fill the disk": (with_correct("import torch\nfor i in range(10_000):\n"
                                   "    torch.save(torch.ones(1 << 22), f'/tmp/fill-{i}')\n"),
                      {"runtime_error", "memory_limit"}, None),
    "infinite loop": (with_correct("while True:\n    pass\n"), {"time_limit"}, None),
    "sleep past the limit": (with_correct("import time\ntime.sleep(10_000)\n"), {"time_limit"}, None),
    "import ctypes": (with_correct("import ctypes\n"), {"forbidden"}, "ctypes"),
    "import the reference": (with_correct("from kernels.fp8 import encode_e4m3 as ref\n"), {"forbidden"}, "kernels"),
    "import through __import__": (with_correct("m = __import__('kernels.fp8')\n"), {"forbidden"}, "__import__"),
    "float8 through getattr": (
        with_correct("import torch\nfp8 = getattr(torch, 'float8_' + 'e4m3fn')\n"), {"runtime_error"}, "float8_"),
    "read the reference source": (
        with_correct("src = open('/job/lib/kernels/fp8.py').read()\n"), {"forbidden"}, "open"),
    "walk the frames to the harness": (
        with_correct("import sys\nh = sys._getframe(1)\n"), {"forbidden"}, "_getframe"),
    "kill its parent": (with_correct("import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n"),
                        {"runtime_error"}, "killed"),
    "overwrite the result files": (
        with_correct("import pathlib\nfor p in ['/job/job.json', '/job/harness/main.py']:\n"
                     "    try:\n        pathlib.Path(p).write_text('pwned')\n    except OSError as e:\n"
                     "        print('refused', p, e)\n"
                     "pathlib.Path('../reference/status.json').write_text('{\"status\": \"ok\", \"timings\": {}}')\n"),
        {"accepted"}, None),
    "cache outputs between timed calls": (
        CORRECT.replace("def encode_e4m3(x):\n", "CACHE = {}\n\n\ndef encode_e4m3(x):\n"
                        "    if x.shape in CACHE:\n        return CACHE[x.shape]\n"
                        "    CACHE[x.shape] = _encode(x)\n    return CACHE[x.shape]\n\n\ndef _encode(x):\n", 1),
        {"wrong_answer"}, "A timed run gave a wrong result"),
    "monkeypatch the timer": (
        with_correct("import time\ntime.perf_counter = lambda: 0.0\ntime.monotonic = lambda: 0.0\n",
                     "    time.sleep(0.05)\n"), {"accepted"}, None),
}


@pytest.mark.parametrize("name", list(ATTACKS))
def test_attack_gets_its_verdict_and_leaves_the_host_unharmed(lab, engine, name):
    code, verdicts, words = ATTACKS[name]
    report = run(lab, code)
    assert report.verdict in verdicts, f"{name}: {report.verdict}: {report.diagnostics[:500]}"
    if words:
        assert words in report.diagnostics, report.diagnostics[:500]
    assert SECRET not in str(report.as_json())
    assert_host_unharmed(engine)
    if name == "monkeypatch the timer":
        # 50 ms of sleep in every call: the parent's clock sees it, whatever the child did to its own.
        assert report.speedup is not None and report.speedup < 0.5, report.speedup
    if name == "overwrite the result files":
        assert report.correct and report.score >= 80


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
             "for p in ['/proc/1/environ', '/work/main/config/settings/base.py', '/etc/shadow']:\n"
             "    try:\n        found[p] = pathlib.Path(p).read_bytes()[:200]\n"
             "    except OSError as e:\n        found[p] = repr(e)\n"
             "raise RuntimeError(repr(found))\n")
    report = run(lab, with_correct(probe))
    assert report.verdict == "runtime_error"
    assert SECRET not in report.diagnostics and "SECRET_KEY" not in report.diagnostics
    assert "No such file" in report.diagnostics  # the host's files are not in the container at all
    assert_host_unharmed(engine)


def test_expected_outputs_never_enter_the_sandbox(lab, engine):
    probe = ("import os\nfiles = sorted(os.path.join(d, f) for d, _, fs in os.walk('/job') for f in fs)\n"
             "raise RuntimeError('FILES:' + ' '.join(files))\n")
    report = run(lab, with_correct(probe))
    listed = report.diagnostics.rsplit("RuntimeError: FILES:", 1)[1].split("\n", 1)[0].split()
    assert listed and all(
        path.startswith(("/job/inputs/", "/job/bench/", "/job/lib/", "/job/harness/"))
        or path in ("/job/job.json", "/job/submission.py") for path in listed), listed
    assert not any("expected" in path for path in listed)


def test_a_background_process_does_not_outlive_the_run(lab, engine):
    code = with_correct("import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
                        "        time.sleep(600)\n    os._exit(0)\n")
    report = run(lab, code)
    assert report.verdict == "accepted", report.diagnostics[:500]
    assert_host_unharmed(engine)
    ps = subprocess.run(["ps", "-eo", "user,args"], capture_output=True, text=True).stdout
    assert not [line for line in ps.splitlines() if line.startswith("nobody") and "sleep" in line]


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
