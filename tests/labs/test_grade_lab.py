"""``manage.py grade_lab``: the worker's path, synchronously, with the exact JSON contract, on both
sandbox backends."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FP8 = ROOT / "fixtures/labs/fp8-e4m3/solutions"
KEYS = ["verdict", "score", "correct", "cases", "speedup", "diagnostics", "wall_s", "timings"]  # the contract, then timings
STAGES = ["inputs_s", "container_start_s", "imports_s", "reference_timing_s", "tests_s", "submission_timing_s",
          "scoring_s"]


def grade_lab(*args: str) -> tuple[int, dict | str]:
    proc = subprocess.run([sys.executable, "manage.py", "grade_lab", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    try:
        return proc.returncode, json.loads(proc.stdout)
    except ValueError:
        return proc.returncode, proc.stdout + proc.stderr


def expected_verdict(path: Path) -> str:
    return path.read_text().splitlines()[0].removeprefix("# expect:").strip()


@pytest.mark.quiet
@pytest.mark.parametrize("backend", ["local", pytest.param("docker", marks=pytest.mark.docker)])
def test_a_correct_fp8_solution_is_accepted_with_a_speedup(backend):
    code, report = grade_lab("fp8-e4m3", str(FP8 / "correct/bit_twiddling.py"), "--backend", backend, "--json")
    assert code == 0 and isinstance(report, dict), report
    assert list(report) == KEYS
    assert report["verdict"] == "accepted" and report["correct"] is True, report["diagnostics"]
    assert all(case["passed"] for case in report["cases"]) and len(report["cases"]) == 12
    assert report["speedup"] is not None and report["speedup"] > 0
    assert 80 <= report["score"] <= 100 and report["wall_s"] > 0
    assert "Score = 80 base points + 20 speed points" in report["diagnostics"]
    timings = report["timings"]
    assert list(timings) == STAGES and all(seconds >= 0 for seconds in timings.values()), timings
    # the harness's stages happen inside its wall time (the worker hears of them a little later)
    inside = sum(timings[k] for k in ("imports_s", "reference_timing_s", "tests_s", "submission_timing_s"))
    assert inside <= report["wall_s"] + 1.0, timings


def one_per_verdict(paths: list[Path]) -> list[Path]:
    """The first file (by name) of each verdict class the files promise."""
    first: dict[str, Path] = {}
    for path in sorted(paths):
        first.setdefault(expected_verdict(path), path)
    return sorted(first.values())


@pytest.mark.docker
@pytest.mark.parametrize("path", one_per_verdict(list((FP8 / "wrong").glob("*.py"))), ids=lambda p: p.stem)
def test_a_known_wrong_fp8_solution_of_each_verdict_class_gets_it_in_docker(path):
    """One docker run per verdict class (each is a cold container, seconds each); every known solution of
    every lab gets its verdict on the local backend in tests/labs/test_every_solution.py."""
    code, report = grade_lab("fp8-e4m3", str(path), "--backend", "docker", "--json")
    assert code == 0 and isinstance(report, dict), report
    assert report["verdict"] == expected_verdict(path), report["diagnostics"]
    assert report["score"] == 0 and report["correct"] is False


@pytest.mark.parametrize("source, verdict, words", [
    ("def encode_e4m3(x:\n", "syntax_error", "SyntaxError"),
    ("import kernels.fp8\n", "forbidden", "not allowed"),
    ("__import__('kernels')\ndef encode_e4m3(x): pass\ndef decode_e4m3(b): pass\n", "forbidden", "not allowed"),
    ("def encode_e4m3(x):\n    raise ValueError('boom')\ndef decode_e4m3(b):\n    return b\n", "runtime_error", "boom"),
    ("def encode_e4m3(x):\n    return x\n", "runtime_error", "decode_e4m3"),
])
def test_broken_submissions_get_the_verdict_that_says_why(tmp_path, source, verdict, words):
    path = tmp_path / "submission.py"
    path.write_text(source)
    code, report = grade_lab("fp8-e4m3", str(path), "--backend", "local", "--json")
    assert code == 0 and report["verdict"] == verdict and words in report["diagnostics"], report


def test_usage_errors_exit_non_zero(tmp_path):
    assert grade_lab("no-such-lab", __file__, "--json")[0] != 0
    assert grade_lab("fp8-e4m3", str(tmp_path / "missing.py"), "--json")[0] != 0
