"""The local backend's processes, forked by its zygote (sandbox/zygote.py), seen from inside and from
outside: each is what an exec'd ``python -I -c CODE`` with the job's limits was (its own session, the job's
rlimits, environment and directory, descriptors 0-2 only, no network), its exit status is its code's, and a
zygote that dies is replaced."""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time
from pathlib import Path

from sandbox import zygote
from sandbox.job import Job, Limits
from sandbox.local import LocalBackend

ROOT = Path(__file__).resolve().parents[2]
LIMITS = Limits(wall_s=20, memory_mb=1024, open_files=77, scratch_mb=5)

SELF_REPORT = r"""
import json, os, resource, sys
facts = {
    "torch_already_imported": "torch" in sys.modules,
    "pid": os.getpid(), "sid": os.getsid(0), "pgid": os.getpgid(0),
    "fds": sorted(int(fd) for fd in os.listdir("/proc/self/fd")),
    "env": dict(os.environ), "cwd": os.getcwd(), "path": sys.path, "argv": sys.argv,
    "nofile": resource.getrlimit(resource.RLIMIT_NOFILE), "fsize": resource.getrlimit(resource.RLIMIT_FSIZE),
    "cpu": resource.getrlimit(resource.RLIMIT_CPU), "as": resource.getrlimit(resource.RLIMIT_AS),
    "stdin": sys.stdin.read(),
}
print(json.dumps(facts))
"""


def run(code: str, stdin: bytes = b"", limits: Limits = LIMITS):
    job = Job(name="local-test", argv=("{python}", "-I", "-c", code), stdin=[stdin] if stdin else [], limits=limits)
    return LocalBackend().run(job)


def test_a_forked_process_is_what_an_execd_one_was():
    result = run(SELF_REPORT, stdin=b"the job's stdin")
    assert result.exit_code == 0, result.stderr
    facts = json.loads(result.stdout)
    assert facts["torch_already_imported"]  # forked by the zygote, not exec'd
    assert facts["sid"] == facts["pgid"] == facts["pid"]  # a session of its own
    fds = facts["fds"]  # 0-2, and the one listdir held open while it read the folder
    assert fds[:3] == [0, 1, 2] and len(fds) == 4, fds
    assert set(facts["env"]) == {"PATH", "HOME", "OMP_NUM_THREADS"}, facts["env"]
    assert facts["cwd"] == facts["env"]["HOME"] and "quantprep-local-test-" in facts["cwd"]
    assert not any(part in ("", ".", str(ROOT), str(ROOT / "sandbox")) for part in facts["path"]), facts["path"]
    assert facts["argv"] == ["-c"]
    assert facts["nofile"] == [77, 77] and facts["fsize"] == [5 * 1024 * 1024] * 2
    assert facts["cpu"] == [25, 25] and facts["as"] == [(1024 + 6144) * 1024 * 1024] * 2
    assert facts["stdin"] == "the job's stdin"
    assert not os.path.exists(facts["cwd"])  # the scratch directory goes with the run


def test_its_exit_status_and_output_are_its_codes():
    assert run("import sys; print('out'); sys.exit(3)").exit_code == 3
    said = run("import sys; sys.exit('a message')")
    assert said.exit_code == 1 and b"a message" in said.stderr
    raised = run("print('before'); raise ValueError('boom')")
    assert raised.exit_code == 1 and raised.stdout == b"before\n"
    assert b"Traceback" in raised.stderr and b"ValueError: boom" in raised.stderr
    assert run("import os; os._exit(7)").exit_code == 7
    killed = run("import os, signal; os.kill(os.getpid(), signal.SIGKILL)")
    assert killed.exit_code == -signal.SIGKILL


def test_it_reaches_no_listener_on_this_machine():
    """The loopback of its own network namespace is down: a listener of this test's is out of reach."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        accepted = []
        listener.settimeout(3)
        threading.Thread(target=lambda: accepted.append(_accept(listener)), daemon=True).start()
        result = run(f"import socket\ntry:\n    socket.create_connection(('127.0.0.1', {port}), timeout=2)\n"
                     "    print('connected')\nexcept OSError as exc:\n    print('refused', exc)\n")
    assert result.stdout.startswith(b"refused"), result.stdout + result.stderr
    assert b"network namespace unavailable" not in result.stderr


def _accept(listener):
    try:
        return listener.accept()
    except OSError:
        return None


def test_past_its_wall_limit_it_is_killed_with_what_it_started():
    code = ("import subprocess, sys, time\n"
            "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
            "print(child.pid, flush=True)\ntime.sleep(60)\n")
    result = run(code, limits=Limits(wall_s=2))
    assert result.timed_out
    grandchild = int(result.stdout.split()[0])
    deadline = time.monotonic() + 10
    while _running(grandchild) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _running(grandchild)


def _running(pid: int) -> bool:
    """Alive and not a zombie waiting for whoever adopted it to reap it."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_a_zygote_that_dies_is_replaced_and_no_job_is_lost():
    run("pass")
    first = zygote.zygote({})
    os.kill(first.proc.pid, signal.SIGKILL)
    first.proc.wait()
    result = run(SELF_REPORT)
    assert result.exit_code == 0 and json.loads(result.stdout)["torch_already_imported"]
    assert zygote.zygote({}) is not first


def test_another_argv_is_execd_as_before():
    job = Job(name="local-exec", argv=("{python}", "-c", "import sys; print('torch' in sys.modules)"), limits=LIMITS)
    result = LocalBackend().run(job)
    assert result.exit_code == 0 and result.stdout == b"False\n"
