"""The CPU sandbox image (make sandbox-image) run the way the docker backend runs a job: no network, read-only
root, a small tmpfs at /tmp, user 65534, no capabilities, no-new-privileges, tini as PID 1.

One container answers every question (a probe script prints JSON), so the module costs one container start
and one ``import torch`` (a few seconds). These tests FAIL, they never skip, when docker or the image is
missing: the message says what to start or build."""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.docker

ROOT = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = ROOT / "sandbox" / "images" / "build_cpu.sh"
IMAGE = os.environ.get("SANDBOX_IMAGE", "quantprep-sandbox:cpu")
HOW_TO_BUILD = "build it with `make sandbox-image` (bash sandbox/images/build_cpu.sh)"

DOCKER_RUN = [
    "docker", "run", "--rm", "--network", "none", "--read-only", "--tmpfs", "/tmp:size=64m",
    "--user", "65534:65534", "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
    "--memory", "1g", "--pids-limit", "64",
]  # fmt: skip

PROBE = r"""
import errno, json, os, socket, sys

out = {"uid": os.getuid(), "euid": os.geteuid(), "gid": os.getgid(), "cwd": os.getcwd(),
       "executable": sys.executable, "prefix": sys.prefix,
       "dont_write_bytecode": sys.flags.dont_write_bytecode,
       "unbuffered_env": os.environ.get("PYTHONUNBUFFERED"),
       "pid1": open("/proc/1/cmdline", "rb").read().split(b"\0")[0].decode()}

import numpy, torch
a = torch.arange(6, dtype=torch.float32).reshape(2, 3)
b = torch.arange(6, dtype=torch.float32).reshape(3, 2)
out["torch"] = torch.__version__
out["numpy"] = numpy.__version__
out["cuda_build"] = torch.version.cuda
out["matmul"] = (a @ b).tolist()
out["numpy_matmul"] = (numpy.arange(6.0).reshape(2, 3) @ numpy.arange(6.0).reshape(3, 2)).tolist()

def try_write(path):
    try:
        with open(path, "w") as f:
            f.write("x")
        with open(path) as f:
            return "ok" if f.read() == "x" else "read back differs"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))

out["write_root"] = try_write("/probe-root")
out["write_opt_venv"] = try_write("/opt/venv/probe")
out["write_tmp"] = try_write("/tmp/probe-tmp")
out["sys_class_net"] = sorted(os.listdir("/sys/class/net"))
out["proc_net_dev"] = sorted(l.split(":")[0].strip() for l in open("/proc/net/dev").read().splitlines()[2:])
try:
    socket.create_connection(("1.1.1.1", 53), timeout=2).close()
    out["connect"] = "connected"
except OSError as e:
    out["connect"] = type(e).__name__ + ": " + str(e)
import importlib.util
out["has_pip"] = importlib.util.find_spec("pip") is not None
print("PROBE " + json.dumps(out))
"""


@functools.cache
def _docker_problem() -> str | None:
    if shutil.which("docker") is None:
        return "the docker CLI is not installed (apt-get install -y docker.io) and no engine can run the sandbox image"
    info = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=30)
    if info.returncode != 0:
        last = (info.stderr.strip().splitlines() or ["?"])[-1]
        return (
            f"no Docker engine answers ({last}); start one, e.g. `nohup dockerd >/var/log/dockerd.log 2>&1 &`"
        )
    inspect = subprocess.run(
        ["docker", "image", "inspect", IMAGE], capture_output=True, text=True, timeout=30
    )
    if inspect.returncode != 0:
        return f"the sandbox image {IMAGE} is not built; {HOW_TO_BUILD}"
    return None


def _require_docker() -> None:
    problem = _docker_problem()
    assert problem is None, problem


@functools.cache
def _probe_run() -> tuple[int, str, str]:
    proc = subprocess.run(
        [*DOCKER_RUN, IMAGE, "/usr/bin/tini", "--", "/opt/venv/bin/python", "-c", PROBE],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    return proc.returncode, proc.stdout, proc.stderr


def probe() -> dict:
    _require_docker()
    rc, stdout, stderr = _probe_run()
    lines = [line for line in stdout.splitlines() if line.startswith("PROBE ")]
    assert rc == 0 and lines, f"the probe container failed (exit {rc}).\nstdout:\n{stdout}\nstderr:\n{stderr}"
    return json.loads(lines[-1].removeprefix("PROBE "))


def test_image_labels_match_the_current_inputs():
    _require_docker()
    labels = json.loads(
        subprocess.run(
            ["docker", "image", "inspect", "-f", "{{json .Config.Labels}}", IMAGE],
            capture_output=True, text=True, check=True, timeout=30,
        ).stdout
    )  # fmt: skip
    assert labels.get("org.quantprep.sandbox") == "cpu", (
        f"{IMAGE} lacks label org.quantprep.sandbox=cpu: {labels}"
    )
    expected = subprocess.run(
        ["bash", str(BUILD_SCRIPT), "--print-hash"], capture_output=True, text=True, check=True, timeout=30
    ).stdout.strip()
    assert labels.get("org.quantprep.sandbox.inputs") == expected, (
        f"{IMAGE} was built from other inputs than sandbox/images/ holds now "
        f"(label {labels.get('org.quantprep.sandbox.inputs')!r}, expected {expected!r}); {HOW_TO_BUILD}"
    )


def test_the_app_images_base_is_the_sandbox_images_first_stage():
    """quantprep-python-torch:cpu (the offline app image's base) is the sandbox image's own first stage: same
    inputs, and its layers are the sandbox image's first ones."""
    _require_docker()

    def inspect(image: str) -> dict:
        out = subprocess.run(["docker", "image", "inspect", image], capture_output=True, text=True, check=True,
                             timeout=30).stdout
        return json.loads(out)[0]

    torch_image, sandbox = inspect("quantprep-python-torch:cpu"), inspect(IMAGE)
    assert torch_image["Config"]["Labels"]["org.quantprep.sandbox.inputs"] == \
        sandbox["Config"]["Labels"]["org.quantprep.sandbox.inputs"]
    base_layers = torch_image["RootFS"]["Layers"]
    assert sandbox["RootFS"]["Layers"][:len(base_layers)] == base_layers
    assert torch_image["Config"].get("User", "") == ""  # root: the app image's build installs into /opt/venv


def test_torch_and_numpy_import_and_compute():
    p = probe()
    assert p["executable"] == "/opt/venv/bin/python" and p["prefix"] == "/opt/venv", p
    assert p["torch"].startswith("2.13.0"), p["torch"]
    assert p["cuda_build"] is None, f"the CPU image carries a CUDA build of torch ({p['cuda_build']})"
    assert p["numpy"] == "2.4.6", p["numpy"]
    assert p["matmul"] == [[10.0, 13.0], [28.0, 40.0]], p["matmul"]
    assert p["numpy_matmul"] == [[10.0, 13.0], [28.0, 40.0]], p["numpy_matmul"]


def test_runs_as_nobody_under_tini():
    p = probe()
    assert (p["uid"], p["euid"], p["gid"]) == (65534, 65534, 65534), p
    assert p["pid1"] == "/usr/bin/tini", f"PID 1 is {p['pid1']!r}, not tini"
    assert p["cwd"] == "/tmp", p["cwd"]
    assert p["dont_write_bytecode"] == 1 and p["unbuffered_env"] == "1", p
    assert p["has_pip"] is False, "pip is still installed in /opt/venv"


def test_root_is_read_only_and_tmp_is_writable():
    p = probe()
    assert p["write_root"] in {"EROFS", "EACCES"}, f"writing to / gave {p['write_root']!r}"
    assert p["write_opt_venv"] in {"EROFS", "EACCES"}, f"writing to /opt/venv gave {p['write_opt_venv']!r}"
    assert p["write_tmp"] == "ok", f"writing to /tmp gave {p['write_tmp']!r}"


def test_no_network_but_loopback():
    p = probe()
    assert p["sys_class_net"] == ["lo"], f"/sys/class/net lists {p['sys_class_net']}"
    assert p["proc_net_dev"] == ["lo"], f"/proc/net/dev lists {p['proc_net_dev']}"
    assert p["connect"] != "connected", "a TCP connection out of the sandbox succeeded"
