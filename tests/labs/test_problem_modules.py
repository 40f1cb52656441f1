"""Each lab folder against its problem module, in-process: every known-correct solution passes every test
case through make_inputs -> invoke -> check, every known-wrong one fails with the feedback its header
promises, and check() answers hostile outputs with a failed CaseCheck instead of raising. (The lead's
sandbox tests run the same solutions through grade_lab.)"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import tomllib
from pathlib import Path

import pytest
import torch
import yaml

from content.labs import solution_header
from graders.labs import CaseCheck, problem_module

ROOT = Path(__file__).resolve().parents[2]
LABS = ("fp8-e4m3", "gptq", "kivi", "nvfp4", "int8-asym", "hadamard")
SEED = 1234
ALWAYS_FORBIDDEN = {"kernels", "graders", "sandbox"}
LAB_KEYS = {"slug", "title", "summary", "reference", "problem", "entry", "forbidden_imports", "forbidden_names",
            "points", "speed_points", "speed_cap", "limits", "accuracy", "bench"}


def lab(slug: str) -> dict:
    folder = ROOT / "fixtures" / "labs" / slug
    meta = tomllib.loads((folder / "lab.toml").read_text())
    cases = yaml.safe_load((folder / "cases.yml").read_text())
    return {"folder": folder, "meta": meta, "cases": cases, "problem": problem_module(meta["problem"]),
            "reference": importlib.import_module(meta["reference"])}


def load(path: Path):
    spec = importlib.util.spec_from_file_location(f"solution_{path.parent.parent.parent.name}_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def solutions(kind: str) -> list:
    return [pytest.param(slug, p, id=f"{slug}/{p.stem}")
            for slug in LABS for p in sorted((ROOT / "fixtures/labs" / slug / "solutions" / kind).glob("*.py"))]


def run_case(info: dict, impl, case: dict) -> CaseCheck:
    """Fresh inputs for each side, as worker and sandbox have: a solution that mutates its inputs can't
    change what it is checked against."""
    p = info["problem"]
    expected = p.invoke(info["reference"], p.make_inputs(case, SEED))
    got = p.invoke(impl, p.make_inputs(case, SEED))
    return p.check(p.make_inputs(case, SEED), expected, got, info["meta"].get("accuracy", {}))


@pytest.mark.parametrize("slug", LABS)
def test_lab_folder_is_complete(slug):
    info = lab(slug)
    meta, folder, p = info["meta"], info["folder"], info["problem"]
    assert set(meta) == LAB_KEYS and meta["slug"] == slug
    assert meta["problem"] == "graders.labs." + slug.replace("-", "_")
    assert tuple(meta["entry"]) == p.ENTRY
    assert all(callable(getattr(info["reference"], name)) for name in p.ENTRY)
    assert 0 <= meta["speed_points"] <= meta["points"] and meta["speed_cap"] > 1
    assert {"time_s", "memory_mb"} <= set(meta["limits"]) <= {"time_s", "memory_mb", "gpu_memory_mb", "bench_s"}
    assert {"repeats", "warmup"} <= set(meta["bench"]) <= {"repeats", "warmup", "budget", "plausible_speedup"}
    for name in ("statement.md", "starter.py"):
        assert (folder / name).read_text().strip()
    assert "score" in (folder / "statement.md").read_text().lower()
    starter = load(folder / "starter.py")
    for name in p.ENTRY:
        with pytest.raises(NotImplementedError):
            getattr(starter, name)(*[None] * getattr(starter, name).__code__.co_argcount)
    assert len(list((folder / "solutions/correct").glob("*.py"))) >= 2
    assert list((folder / "solutions/wrong").glob("*.py"))
    assert list((folder / "solutions/slow").glob("*.py"))  # correct, too slow to time: no speed points
    cases = info["cases"]
    names = [c["name"] for c in cases["tests"]]
    assert len(names) == len(set(names))
    assert cases["benchmarks"]["cpu"] and cases["benchmarks"]["gpu"]


@pytest.mark.parametrize("slug", LABS)
def test_make_inputs_is_deterministic_in_the_seed(slug):
    p = lab(slug)["problem"]
    case = lab(slug)["cases"]["tests"][1]
    a, b, c = p.make_inputs(case, 5), p.make_inputs(case, 5), p.make_inputs(case, 6)
    assert a.keys() == b.keys()
    for key in a:
        if isinstance(a[key], torch.Tensor):
            assert torch.equal(a[key].view(torch.uint8) if a[key].is_floating_point() else a[key],
                               b[key].view(torch.uint8) if b[key].is_floating_point() else b[key])
        else:
            assert a[key] == b[key]
    assert any(isinstance(a[k], torch.Tensor) and not torch.equal(a[k], c[k]) for k in a)


# The slow solutions are correct too; the grading path runs them over every test case in
# test_every_solution's slow test (accepted and correct), so they are not run a second time here.
@pytest.mark.parametrize(("slug", "path"), solutions("correct"))
def test_correct_solution_passes_every_test_case(slug, path):
    info = lab(slug)
    impl = load(path)
    for case in info["cases"]["tests"]:
        result = run_case(info, impl, case)
        assert result.passed, f"{case['name']}: {result.message}"


@pytest.mark.parametrize(("slug", "path"), solutions("wrong"))
def test_wrong_solution_fails_with_its_feedback(slug, path):
    info = lab(slug)
    head = solution_header(path)
    assert {"expect", "feedback", "mistake"} <= head.keys() and head["feedback"] and head["mistake"]
    if head["expect"] == "forbidden":
        found = forbidden_uses(path, info["meta"])
        assert found, "a forbidden solution must use a forbidden import or name"
        assert any(head["feedback"] in name for name in found)
        return
    assert head["expect"] == "wrong_answer", head["expect"]
    impl = load(path)
    messages = []
    for case in info["cases"]["tests"]:
        result = run_case(info, impl, case)
        assert "could not compare" not in result.message, result.message
        if not result.passed:
            messages.append(f"{case['name']}: {result.message}")
            if head["feedback"] in result.message:
                return
    raise AssertionError(f"no failing case says {head['feedback']!r}; failures: {messages}")


def forbidden_uses(path: Path, meta: dict) -> set[str]:
    """Forbidden imports and attribute names in a solution's source (what the sandbox rejects statically)."""
    modules = ALWAYS_FORBIDDEN | set(meta["forbidden_imports"])
    names = set(meta["forbidden_names"])
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] in modules}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in modules:
            found.add(node.module)
        elif isinstance(node, ast.Attribute) and node.attr in names:
            found.add(node.attr)
    return found


def hostile_variants(expected: dict):
    """Outputs a submission could return: each is checked, none may make check() raise."""
    yield "nothing", {}
    yield "not a dict", None
    yield "a list", [1, 2, 3]
    for name, t in expected.items():
        if not isinstance(t, torch.Tensor) or name.startswith("cache."):
            continue
        for label, bad in [
            ("missing", None),
            ("a float", 0.5),
            ("a string", "codes"),
            ("a list", t.tolist() if t.numel() < 10_000 else [0]),
            ("float64", t.to(torch.float64)),
            ("int64", t.to(torch.int64)),
            ("flattened", t.reshape(-1)),
            ("one more row", torch.cat([t.reshape(-1), t.reshape(-1)[:1]])),
            ("empty", t.reshape(-1)[:0]),
            ("meta device", torch.empty(t.shape, dtype=t.dtype, device="meta")),
            ("all NaN", torch.full(t.shape, float("nan")) if t.is_floating_point() else t),
            ("all inf", torch.full(t.shape, float("inf")) if t.is_floating_point() else t),
            ("sparse", t.to_sparse() if t.dim() else t),
            ("a Parameter", torch.nn.Parameter(t, requires_grad=False)),
        ]:
            got = dict(expected)
            if bad is None:
                del got[name]
            else:
                got[name] = bad
            yield f"{name}: {label}", got


@pytest.mark.parametrize("slug", [slug for slug in LABS if hasattr(lab(slug)["problem"], "truth")])
def test_the_truth_made_with_the_plan_is_the_one_check_would_make_itself(slug):
    """``truth`` moves work off the learner's wait (the worker makes it with the expected outputs, ahead of
    the job): with it or without it, every known correct and wrong solution gets the same check, word for
    word. The slow ones, correct outputs made slowly, take no path the correct ones do not."""
    from content.labs import lab_folder_get
    from labs.grading.build import plan_make

    info = lab(slug)
    p, accuracy = info["problem"], info["meta"].get("accuracy", {})
    plan = plan_make(lab_folder_get(slug))
    plan.wait()
    _, inputs, expected = plan.tests[0]
    made = p.invoke(info["reference"], inputs)
    assert expected.keys() - made.keys() == p.truth(inputs, made).keys()
    impls = []
    for path in sorted((info["folder"] / "solutions").glob("*/*.py")):
        if path.parent.name == "slow":
            continue
        try:
            impls.append(load(path))
        except ImportError:  # a solution that uses a package the worker lacks: the sandbox's import fails
            pass
    for case in info["cases"]["tests"]:
        inputs = p.make_inputs(case, SEED)
        expected = p.invoke(info["reference"], p.make_inputs(case, SEED))
        with_truth = {**expected, **p.truth(p.make_inputs(case, SEED), expected)}
        for impl in impls:
            got = p.invoke(impl, p.make_inputs(case, SEED))
            said = [(c.passed, c.message, repr(c.metrics)) for c in (p.check(inputs, with_truth, got, accuracy),
                                                                      p.check(inputs, expected, got, accuracy))]
            assert said[0] == said[1], (case["name"], impl.__name__)


@pytest.mark.parametrize("slug", LABS)
def test_check_survives_hostile_outputs(slug):
    info = lab(slug)
    p, accuracy = info["problem"], info["meta"].get("accuracy", {})
    case = info["cases"]["tests"][1]
    inputs = p.make_inputs(case, SEED)
    expected = p.invoke(info["reference"], inputs)
    assert p.check(inputs, expected, expected, accuracy).passed
    for label, got in hostile_variants(expected):
        result = p.check(inputs, expected, got, accuracy)
        assert isinstance(result, CaseCheck) and isinstance(result.message, str) and result.message, label
        unchanged = isinstance(got, dict) and got.keys() == expected.keys() and all(
            got[k] is expected[k] for k in expected)  # e.g. "all NaN" of an integer tensor is the tensor itself
        assert result.passed == unchanged, f"{label}: {result}"


@pytest.mark.parametrize("slug", ["kivi"])
def test_kivi_check_survives_hostile_caches(slug):
    info = lab(slug)
    p, accuracy = info["problem"], info["meta"]["accuracy"]
    inputs = p.make_inputs(info["cases"]["tests"][0], SEED)
    expected = p.invoke(info["reference"], inputs)
    for bad in ([1, 2], {"a": 1}, object(), torch.zeros(10**6)):
        got = dict(expected, **{"cache.extra": bad})
        result = p.check(inputs, expected, got, accuracy)
        assert not result.passed and "packing" in result.message


@pytest.fixture(scope="module")
def sandbox_side(tmp_path_factory) -> dict:
    """Each lab's problem module imported, and ``invoke`` called on a case's inputs, as the harness does beside
    the submission: in a process where ``kernels`` cannot be imported, forked for each lab from one that has
    imported torch and the harness, as the harness forks its children (an interpreter each would import
    torch six times). Per lab: the error, or the ``kernels`` modules loaded."""
    import json
    import subprocess
    import sys

    from sandbox import harness

    folder = tmp_path_factory.mktemp("sandbox-side")
    jobs = {}
    for slug in LABS:
        info = lab(slug)
        (folder / slug).write_bytes(harness.pack(info["problem"].make_inputs(info["cases"]["tests"][0], SEED)))
        solution = sorted((info["folder"] / "solutions/correct").glob("*.py"))[0]
        jobs[slug] = {"problem": info["meta"]["problem"], "solution": str(solution), "inputs": str(folder / slug)}
    code = f"""
import importlib, importlib.util, json, os, pathlib, sys, traceback
class NoKernels:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "kernels":
            raise ImportError("kernels are not in the sandbox")
sys.meta_path.insert(0, NoKernels())
sys.path.insert(0, {str(ROOT)!r})
import torch
from sandbox import harness
said = {{}}
for slug, job in json.loads(sys.argv[1]).items():
    read, write = os.pipe()
    if os.fork() == 0:
        os.close(read)
        try:
            problem = importlib.import_module(job["problem"])
            spec = importlib.util.spec_from_file_location("submission", job["solution"])
            impl = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(impl)
            outputs = problem.invoke(impl, harness.unpack(bytearray(pathlib.Path(job["inputs"]).read_bytes())))
            assert outputs and isinstance(outputs, dict), outputs
            result = sorted(name for name in sys.modules if name.split(".")[0] == "kernels")
        except BaseException:
            result = traceback.format_exc()
        os.write(write, json.dumps(result).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        said[slug] = json.loads(pipe.read() or b'"the child said nothing"')
    os.wait()
print(json.dumps(said))
"""
    proc = subprocess.run([sys.executable, "-c", code, json.dumps(jobs)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("slug", LABS)
def test_the_sandbox_side_of_a_problem_module_carries_no_reference(slug, sandbox_side):
    """The harness imports the problem module beside the submission, from a folder without ``kernels``:
    importing it and calling ``invoke`` on a case's inputs must need no kernel, so none can be borrowed
    from it. Simulated here: inputs made outside, then the module imported where ``kernels`` fails."""
    assert sandbox_side[slug] == [], sandbox_side[slug]
