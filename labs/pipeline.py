"""Grading one lab submission, the same way for the Celery worker and ``manage.py grade_lab``.

The worker side of the harness protocol (docs/labs.md, docs/sandbox.md): inputs are made here from a
secret per-run seed, expected outputs are computed here and never enter the sandbox, the sandbox runs
the harness (``sandbox/harness/main.py``), and what comes back is checked here, trusting none of it.
No queries: the caller records the report.
"""

from __future__ import annotations

import ast
import io
import json
import logging
import secrets
import tarfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from django.conf import settings

from graders.labs import CaseCheck, problem_module
from graders.labs.score import lab_score, speedup
from labs.content import LabFolder
from labs.models import Submission
from sandbox import Job, RunResult
from sandbox import run as sandbox_run
from sandbox.job import Limits

log = logging.getLogger("labs")
ROOT = Path(settings.BASE_DIR)
ALWAYS_FORBIDDEN = ("kernels", "graders", "sandbox", "labs", "config", "importlib", "ctypes", "__main__", "builtins",
                    "inspect", "gc")
# Names a kernel has no use for that reach the file system, other code, or the harness around it.
FORBIDDEN_NAMES = ("exec", "eval", "compile", "open", "__import__", "globals", "locals", "vars", "breakpoint",
                   "__builtins__", "__subclasses__", "__globals__", "__code__", "__closure__", "__dict__",
                   "__class__", "__bases__", "__mro__", "__getattribute__", "__loader__", "__spec__",
                   "_getframe", "f_back", "f_globals", "f_locals", "gi_frame", "tb_frame", "settrace",
                   "setprofile", "modules")
MAX_CODE_BYTES = 256 * 1024
STARTUP_MARGIN_S = 60  # two interpreters importing torch, outside the lab's own time limit


Verdict = Submission.Verdict  # one list of verdicts: the model's choices


@dataclass
class GradeReport:
    verdict: str
    score: float = 0.0
    correct: bool = False
    cases: list[dict] = field(default_factory=list)
    speedup: float | None = None
    diagnostics: str = ""
    wall_s: float = 0.0
    backend: str = ""

    def as_json(self) -> dict:
        """The fields of the grade_lab contract, in its order."""
        data = asdict(self)
        return {key: data[key] for key in ("verdict", "score", "correct", "cases", "speedup", "diagnostics",
                                           "wall_s")}


def forbidden_use(code: str, lab: LabFolder) -> str | None:
    """The static half of the import rule (the harness refuses the same imports at run time)."""
    tree = ast.parse(code)
    modules = set(ALWAYS_FORBIDDEN) | set(lab.meta.get("forbidden_imports", []))
    names = set(lab.meta.get("forbidden_names", []))
    reserved = set(FORBIDDEN_NAMES)
    for node in ast.walk(tree):
        imported = []
        if isinstance(node, ast.Import):
            imported = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            imported = [node.module or ""] if node.level == 0 else []
        for module in imported:
            if module.split(".")[0] in modules:
                return f"line {node.lineno}: importing {module!r} is not allowed in this lab."
        used = (node.attr if isinstance(node, ast.Attribute) else node.id if isinstance(node, ast.Name)
                else node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None)
        if used is not None and any(name in used for name in names):
            return f"line {node.lineno}: {used!r} is not allowed in this lab ({', '.join(sorted(names))})."
        if isinstance(node, ast.Name | ast.Attribute) and used in reserved:
            return f"line {node.lineno}: {used!r} is not allowed in a submission (kernels need no {used})."
    return None


def grade(lab: LabFolder, code: str, *, name: str, backend: str | None = None, device: str = "cpu",
          on_progress: Callable[[dict], None] | None = None) -> GradeReport:
    tell = on_progress or (lambda fields: None)
    if len(code.encode()) > MAX_CODE_BYTES:
        return GradeReport(Verdict.SYNTAX_ERROR, diagnostics=f"The file is larger than {MAX_CODE_BYTES} bytes.")
    try:
        refusal = forbidden_use(code, lab)
    except SyntaxError as exc:
        return GradeReport(Verdict.SYNTAX_ERROR, diagnostics=f"SyntaxError on line {exc.lineno}: {exc.msg}")
    if refusal:
        return GradeReport(Verdict.FORBIDDEN, diagnostics=refusal)

    tell({"stage": "preparing"})
    problem = problem_module(lab.meta["problem"])
    reference = __import__(lab.meta["reference"], fromlist=["_"])
    seed = secrets.randbits(31)
    tests = lab.cases["tests"]
    benchmarks = lab.cases.get("benchmarks", {}).get(device, [])
    files: dict[str, bytes] = {"submission.py": code.encode(), **_harness_files(lab)}
    checks = []
    for i, case in enumerate(tests):
        inputs = problem.make_inputs(case, seed + i)
        files[f"inputs/{case['name']}.pt"] = _save(inputs)
        expected = problem.invoke(reference, _clone(inputs))
        checks.append((case, inputs, expected))
    bench = lab.meta.get("bench", {})
    warmup, repeats = int(bench.get("warmup", 2)), int(bench.get("repeats", 5))
    for i, case in enumerate(benchmarks):
        for call in range(warmup + repeats):
            files[f"bench/{case['name']}/{call}.pt"] = _save(problem.make_inputs(case, _bench_seed(seed, i, call)))
    time_limit = float(lab.meta["limits"]["time_s"])
    files["job.json"] = json.dumps({
        "problem": lab.meta["problem"], "reference": lab.meta["reference"], "entry": list(problem.ENTRY),
        "tests": [c["name"] for c in tests], "benchmarks": [c["name"] for c in benchmarks],
        "forbidden_imports": sorted(set(ALWAYS_FORBIDDEN) | set(lab.meta.get("forbidden_imports", []))),
        "forbidden_names": list(lab.meta.get("forbidden_names", [])),
        "warmup": warmup, "repeats": repeats, "time_limit_s": time_limit, "device": device,
    }).encode()
    memory = int(lab.meta["limits"]["memory_mb"])
    limits = Limits(wall_s=time_limit + STARTUP_MARGIN_S, memory_mb=memory, scratch_mb=min(1024, memory // 2))
    job = Job(name=name, files=files, argv=("{python}", "-I", "{job}/harness/main.py", "{job}"), limits=limits,
              gpus=settings.SANDBOX_GPUS if device == "cuda" else "")

    def relay(line: str) -> None:
        try:
            tell(json.loads(line.removeprefix("@@progress ")))
        except ValueError:
            pass

    run = sandbox_run(job, backend=backend, on_stderr_line=relay)
    tell({"stage": "scoring"})
    bench_checks = [(i, case) for i, case in enumerate(benchmarks)]
    report = _judge(lab, problem, reference, checks, bench_checks, seed, run, warmup + repeats)
    report.wall_s, report.backend = round(run.wall_s, 3), run.backend
    return report


def _bench_seed(seed: int, case_index: int, call: int) -> int:
    return seed + 1000 * (case_index + 1) + call


def _judge(lab: LabFolder, problem, reference, checks: list, bench_checks: list, seed: int, run: RunResult,
           calls_per_bench: int) -> GradeReport:
    if run.timed_out:
        return GradeReport(Verdict.TIME_LIMIT, diagnostics=f"The run took longer than {run.wall_s:.0f} s.")
    members = _unpack(run.stdout) if not run.stdout_truncated else None
    result = _result_json(members)
    if result is None:
        if run.oom_killed:
            return GradeReport(Verdict.MEMORY_LIMIT, diagnostics="The sandbox ran out of memory.")
        if run.exit_code is not None and (run.exit_code < 0 or run.exit_code > 128):
            # The harness itself died by a signal: only code inside the sandbox can send it one.
            return GradeReport(Verdict.RUNTIME_ERROR, diagnostics="The grading harness was killed from inside "
                               f"the sandbox (signal {abs(run.exit_code) % 128}): a submission may not signal "
                               "other processes.")
        stderr = run.stderr.decode("utf-8", "replace")[-2000:]
        log.error("harness gave no result (exit %s): %s", run.exit_code, stderr)
        return GradeReport(Verdict.INTERNAL_ERROR, diagnostics="The grader failed to run; it will be retried.")
    sub = result.get("submission") or {}
    status, error, where = sub.get("status"), str(sub.get("error") or ""), sub.get("case")
    printed = str(sub.get("log") or "")[-4000:]
    limit = lab.meta["limits"]
    if sub.get("timed_out"):
        return GradeReport(Verdict.TIME_LIMIT, diagnostics=f"Time limit of {limit['time_s']} s exceeded"
                           + (f" on case {where}." if where else "."))
    if run.oom_killed or status == "memory_limit" or (status is None and sub.get("returncode") == -9):
        return GradeReport(Verdict.MEMORY_LIMIT, diagnostics=f"Memory limit of {limit['memory_mb']} MB exceeded"
                           + (f" on case {where}." if where else "."))
    if status == "syntax_error":
        return GradeReport(Verdict.SYNTAX_ERROR, diagnostics=error)
    if status == "import_error":
        verdict = Verdict.FORBIDDEN if "is not allowed in this lab" in error else Verdict.SYNTAX_ERROR
        return GradeReport(verdict, diagnostics=error)
    if status == "runtime_error":
        return GradeReport(Verdict.RUNTIME_ERROR, diagnostics=(f"On case {where}:\n" if where else "") + error
                           + (f"\n--- output ---\n{printed}" if printed else ""))
    if status != "ok":
        return GradeReport(Verdict.RUNTIME_ERROR, diagnostics=f"The submission's process ended with code "
                           f"{sub.get('returncode')} before reporting.\n{printed}")

    cases = []
    for case, inputs, expected in checks:
        got = _load_output(members, case["name"])
        verdict = (CaseCheck(False, "No output was produced for this case.") if got is None
                   else problem.check(inputs, expected, got, lab.meta.get("accuracy", {})))
        cases.append({"name": case["name"], "passed": verdict.passed, "message": verdict.message,
                      "metrics": _plain(verdict.metrics)})
    kept = sub.get("kept_call") if isinstance(sub.get("kept_call"), dict) else {}
    for i, case in bench_checks:
        # One timed call per benchmark, drawn by the harness after the call, is checked like a test case.
        call = kept.get(case["name"])
        got = _load_output(members, f"bench-{case['name']}") if isinstance(call, int) else None
        if got is None:
            verdict = CaseCheck(False, "No checked output came back from the timed runs.")
        else:
            inputs = problem.make_inputs(case, _bench_seed(seed, i, call))
            verdict = problem.check(inputs, problem.invoke(reference, _clone(inputs)), got, lab.meta.get("accuracy", {}))
        if not verdict.passed:
            cases.append({"name": f"benchmark {case['name']}", "passed": False,
                          "message": "A timed run gave a wrong result: " + verdict.message, "metrics": {}})
    all_passed = all(c["passed"] for c in cases)
    ratio = speedup(_timings(result.get("reference")), _timings(sub))
    notes = []
    spent = sum(_timings(sub).values()) * calls_per_bench
    if ratio is not None and spent > run.wall_s:  # the worker's own clock, which the sandbox cannot touch
        notes.append("The submission's timings are inconsistent with the run's wall time: no speed points.")
        ratio = None
    score = lab_score(all_passed=all_passed, points=lab.meta["points"], speed_points=lab.meta["speed_points"],
                      speed_cap=lab.meta["speed_cap"], speedup=ratio)
    if all_passed:
        base, speed, cap = lab.meta["points"] - lab.meta["speed_points"], lab.meta["speed_points"], lab.meta["speed_cap"]
        shown = "no usable timing" if ratio is None else f"speedup s = {ratio:.2f}"
        notes.append(f"Score = {base} base points + {speed} speed points × min(1, log(max(s, 1)) / log({cap})) "
                     f"with {shown} = {score}.")
    failed = [c for c in cases if not c["passed"]]
    if failed:
        notes.insert(0, f"{len(failed)} of {len(cases)} cases failed. First: {failed[0]['name']}: "
                        f"{failed[0]['message']}")
    elif ratio is not None:
        notes.insert(0, f"All {len(cases)} cases passed; speedup over the reference {ratio:.2f}x "
                        f"(geometric mean over {len(_timings(sub))} benchmark cases).")
    else:
        notes.insert(0, f"All {len(cases)} cases passed.")
    return GradeReport(Verdict.ACCEPTED if all_passed else Verdict.WRONG_ANSWER, score=score,
                       correct=all_passed, cases=cases, speedup=None if ratio is None else round(ratio, 4),
                       diagnostics="\n".join(notes))


def _harness_files(lab: LabFolder) -> dict[str, bytes]:
    problem_path = ROOT / (lab.meta["problem"].replace(".", "/") + ".py")
    files = {"harness/main.py": (ROOT / "sandbox/harness/main.py").read_bytes(),
             "lib/graders/__init__.py": (ROOT / "graders/__init__.py").read_bytes(),
             "lib/graders/labs/__init__.py": (ROOT / "graders/labs/__init__.py").read_bytes(),
             f"lib/{problem_path.relative_to(ROOT)}": problem_path.read_bytes()}
    for kernel in (ROOT / "kernels").glob("*.py"):
        files[f"lib/kernels/{kernel.name}"] = kernel.read_bytes()
    return files


def _save(inputs: dict) -> bytes:
    buffer = io.BytesIO()
    torch.save(inputs, buffer)
    return buffer.getvalue()


def _clone(inputs: dict) -> dict:
    return {k: v.clone() if isinstance(v, torch.Tensor) else v for k, v in inputs.items()}


def _unpack(archive: bytes) -> dict[str, bytes] | None:
    """Regular members only, by name; links and anything else are ignored, never followed."""
    try:
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:") as tar:
            return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isreg()}
    except (tarfile.TarError, OSError, EOFError):
        return None


def _result_json(members: dict | None) -> dict | None:
    try:
        value = json.loads(members["result.json"])
        return value if isinstance(value, dict) else None
    except (TypeError, KeyError, ValueError):
        return None


def _load_output(members: dict, name: str):
    data = members.get(f"out/{name}.pt")
    if data is None:
        return None
    try:
        value = torch.load(io.BytesIO(data), weights_only=True)  # no pickled code from the sandbox
    except Exception as exc:  # noqa: BLE001 - any malformed file is the submission's failure
        return {"__unreadable__": str(exc)[:200]}
    return value if isinstance(value, dict) else {"__unreadable__": f"outputs are a {type(value).__name__}"}


def _timings(side) -> dict[str, float]:
    raw = side.get("timings") if isinstance(side, dict) else None
    if not isinstance(raw, dict):
        return {}
    return {str(k): float(v) for k, v in raw.items() if isinstance(v, int | float) and v == v and v >= 0}


def _plain(metrics: dict) -> dict:
    return {str(k): (v if isinstance(v, int | float | str | bool) or v is None else str(v)) for k, v in metrics.items()}
