"""The GPU path, checked in minutes on a machine with one NVIDIA GPU and PyTorch alone (no Django, no
Docker): the CUDA kernel tests, then per lab one correct solution (with the lab's GPU benchmarks) and one
wrong one (test cases only) through the real harness on the GPU, run by the local backend as the worker
would run it. One line per check; exit status 1 when any check failed.

    bash scripts/gpu_check.sh                # what docs/benchmarks.md records
    python3 scripts/gpu_check.py --labs fp8-e4m3,gptq
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
BUDGET_S = 7 * 60  # the checks stop starting past this, to finish inside 8 minutes
STARTED = time.monotonic()
failed = 0


def line(status: str, name: str, seconds: float, detail: str = "") -> None:
    global failed
    failed += status == "FAIL"
    print(f"{status:<4} {name:<34} {seconds:7.1f} s  {detail}", flush=True)


def children_uids(device: str) -> str:
    """Run the harness's children under uids of their own (as the docker backend does) when this is root
    and such a child can still use the device; else the worker's uid, and say so."""
    if os.geteuid() != 0:
        return f"the harness's children run as this user (uid {os.geteuid()}): not root"
    check = "torch.cuda.is_available()" if device == "cuda" else "True"
    try:
        probe = subprocess.run([sys.executable, "-c", f"import torch; print({check})"],
                               user=65534, group=65534, extra_groups=[], capture_output=True, text=True,
                               cwd=tempfile.gettempdir(), timeout=120)
        said = probe.stdout.strip() or probe.stderr.strip()[-200:]
    except OSError as exc:  # the interpreter itself is out of that uid's reach
        said = str(exc)
    if said == "True":
        os.environ["QUANTPREP_SANDBOX_UIDS"] = "65533:65534"
        return "the harness's children run as uids 65533 (reference) and 65534 (submission)"
    return f"the harness's children run as root: uid 65534 cannot use {device} here ({said})"


def kernel_tests() -> None:
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "pytest", "tests/kernels", "-k", "cuda", "--noconftest", "-q",
                           "-p", "no:cacheprovider", "-rs"], cwd=ROOT, capture_output=True, text=True)
    summary = (proc.stdout.strip().splitlines() or ["no output"])[-1]
    ok = proc.returncode == 0 and "skipped" not in summary and "passed" in summary
    line("PASS" if ok else "FAIL", "CUDA kernel tests", time.monotonic() - started, summary)
    if not ok:
        print(proc.stdout[-3000:] + proc.stderr[-2000:], flush=True)


def lab_checks(slug: str, device: str) -> None:
    from content.labs import lab_folder_get, solution_header
    from labs.grading import grade
    from sandbox.local import LocalBackend

    lab = lab_folder_get(slug)
    correct = sorted((lab.folder / "solutions/correct").glob("*.py"))[0]
    wrong = next(p for p in sorted((lab.folder / "solutions/wrong").glob("*.py"))
                 if solution_header(p)["expect"] == "wrong_answer")
    for path, expect, benchmarks in ((correct, "accepted", True), (wrong, "wrong_answer", False)):
        name = f"{slug} {path.parent.name}/{path.stem}"
        if time.monotonic() - STARTED > BUDGET_S:
            line("SKIP", name, 0, "out of time")
            continue
        run_lab = lab if benchmarks else dataclasses.replace(lab, cases={**lab.cases, "benchmarks": {}})
        started = time.monotonic()
        try:
            report = grade(run_lab, path.read_text(), name=f"gpu-{slug}-{path.stem}", backend=LocalBackend(),
                           device=device, gpus="all" if device == "cuda" else "", reference_device=device)
        except Exception as exc:  # noqa: BLE001 - one lab's failure must not hide the others'
            line("FAIL", name, time.monotonic() - started, f"{type(exc).__name__}: {exc}"[:300])
            continue
        ok = report.verdict == expect and (not benchmarks or "Too slow" not in report.diagnostics)
        speed = f"speedup {report.speedup}" if report.speedup is not None else "no speedup"
        first = report.diagnostics.splitlines()[:3] if report.diagnostics else []
        line("PASS" if ok else "FAIL", name, time.monotonic() - started,
             f"{report.verdict}, {speed}, score {report.score} | " + " | ".join(first)[:400])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labs", default="fp8-e4m3,gptq,hadamard,int8-asym,kivi,nvfp4")
    parser.add_argument("--device", choices=["cuda", "cpu"], default="cuda",
                        help="cpu: the same path without a GPU (to check this script itself)")
    args = parser.parse_args()
    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        line("FAIL", "CUDA", 0, f"torch {torch.__version__} sees no GPU")
        sys.exit(1)
    where = torch.cuda.get_device_name(0) if args.device == "cuda" else "the CPU"
    print(f"torch {torch.__version__} on {where}, python {sys.version.split()[0]}; {children_uids(args.device)}",
          flush=True)
    if args.device == "cuda":
        kernel_tests()
    for slug in args.labs.split(","):
        lab_checks(slug, args.device)
    line("FAIL" if failed else "PASS", "all checks", time.monotonic() - STARTED, f"{failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
