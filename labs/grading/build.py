"""Building a job: every input from a fresh secret seed, the expected outputs of the calls that will be
checked (computed here, with the reference, and kept here), and the stream the harness reads on stdin.
The sandbox receives inputs and public code only: never an expected output, never the seed."""

from __future__ import annotations

import dataclasses
import importlib
import json
import queue
import random
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

from content.labs import LabFolder
from graders.labs import problem_module
from labs.grading import warm
from labs.grading.rules import ALWAYS_FORBIDDEN, REFERENCE_S, RunLimits
from sandbox import harness, pool
from sandbox.job import Job, Limits

ROOT = Path(__file__).resolve().parents[2]
_SOURCE = (ROOT / "sandbox" / "harness.py").read_bytes()
PRELUDE = f"{len(_SOURCE)}\n".encode() + _SOURCE  # what BOOTSTRAP reads first: the same for every job


class Plan:
    """What the worker keeps to judge the run. The inputs and expected outputs are made in a thread while
    the container starts, and each input record goes into the stream as soon as it is made, so that making
    the next one overlaps sending this one. ``wait()`` joins the thread and re-raises what failed there."""

    def __init__(self, problem: ModuleType, limits: RunLimits, benchmarks: list[dict]):
        self.problem, self.limits, self.benchmarks = problem, limits, benchmarks
        self.tests: list[tuple[dict, dict, dict]] = []  # (case, inputs, expected)
        self.checked: dict[str, dict[int, tuple[dict, dict]]] = {}  # case name -> call -> (inputs, expected)
        self._records: queue.SimpleQueue = queue.SimpleQueue()
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self.made_s = 0.0  # how long making the inputs and expected outputs took (overlapping the run)
        self.done_at: float | None = None  # when they were all made (monotonic)
        self.checked_calls: dict[str, list[int]] = {}  # case name -> the calls checked, drawn in secret
        self.taken_at = 0.0  # when a job took this plan (it may have been made ahead)
        self.timing_key: tuple = ()
        self.reference_calls: dict | None = None  # the worker's recent timing of the reference, if any
        self.reference_age_s = 0.0

    def make(self, work: Callable[[Callable[[list[bytes]], None]], None]) -> None:
        def run() -> None:
            started = time.monotonic()
            try:
                work(self._records.put)
            except BaseException as exc:  # noqa: BLE001 - re-raised by wait() and, as the stream's end, by records()
                self._error = exc
            finally:
                self.done_at = time.monotonic()
                self.made_s = self.done_at - started
                self._records.put(None)

        self._thread = threading.Thread(target=run, name="inputs", daemon=True)
        self._thread.start()

    def records(self) -> Iterator[bytes]:
        while (chunks := self._records.get()) is not None:
            yield from chunks
        if self._error is not None:
            raise self._error

    def wait(self) -> None:
        self._thread.join()
        if self._error is not None:
            raise self._error

    @property
    def waited_s(self) -> float:
        """How long the job waited for its inputs: none when they were made ahead."""
        return max((self.done_at or self.taken_at) - self.taken_at, 0.0)


def plan_make(lab: LabFolder, *, device: str = "cpu", reference_device: str = "cpu", ahead: bool = False) -> Plan:
    """A fresh secret seed and secretly drawn checked calls; the inputs and expected outputs are made in a
    thread from now on. ``reference_device`` is where the worker computes expected outputs (a GPU check
    uses its GPU). A plan made ``ahead`` waits while a job of this process is being timed (sandbox.pool.quiet).
    It runs at the worker's own priority: a thread at nice 19 that holds the GIL while the cores are busy
    starves every other thread of its process (a worker stopped under load took over a minute to exit)."""
    import torch  # here, not at the top: every Django process imports this package (labs.models reads its
    # verdicts) and only workers make inputs. At the top, it cost each web process and manage.py command
    # 1.6 s of CPU and 250 MB at start (0.9 s and 77 MB without it).

    problem = problem_module(lab.meta["problem"])
    reference = importlib.import_module(lab.meta["reference"])
    limits = RunLimits.of(lab.meta, device)
    benchmarks = lab.cases.get("benchmarks", {}).get(device, [])
    tests = lab.cases["tests"]
    seed = secrets.randbits(31)
    draw = random.Random(secrets.randbits(64))
    calls = limits.warmup + limits.repeats
    # The calls whose outputs are checked: a majority of the timed ones, drawn here in secret.
    checked = {case["name"]: sorted(draw.sample(range(limits.warmup, calls), limits.checked)) for case in benchmarks}
    plan = Plan(problem, limits, benchmarks)
    plan.checked_calls = checked

    truth = getattr(problem, "truth", None)

    def expected_of(inputs: dict) -> dict:
        on_device = {k: v.to(reference_device) if isinstance(v, torch.Tensor) else v for k, v in inputs.items()}
        out = problem.invoke(reference, on_device)
        expected = {k: v.cpu() if isinstance(v, torch.Tensor) else v for k, v in out.items()}
        return {**expected, **truth(inputs, expected)} if truth else expected

    def make_inputs(send: Callable[[list[bytes]], None]) -> None:
        # The tests first, kept back: when the last benchmark input has gone out, all the worker's work
        # is done, so none of it runs beside the reference's timed calls.
        tests_out = []
        for i, case in enumerate(tests):
            if ahead:
                pool.quiet.wait(pool.QUIET_WAIT_S)
            inputs = problem.make_inputs(case, seed + i)
            tests_out += harness.record({"kind": "input", "phase": "test", "case": case["name"], "call": 0},
                                        harness.pack(inputs))
            plan.tests.append((case, inputs, expected_of(_clone(inputs))))
        for i, case in enumerate(benchmarks):  # timed for the reference and then the submission, alike
            plan.checked[case["name"]] = {}
            for call in range(calls):
                if ahead:
                    pool.quiet.wait(pool.QUIET_WAIT_S)  # never beside another job's timed calls
                inputs = problem.make_inputs(case, seed + 1000 * (i + 1) + call)
                if call in checked[case["name"]]:
                    plan.checked[case["name"]][call] = (inputs, expected_of(_clone(inputs)))
                send(harness.record({"kind": "input", "phase": "bench", "case": case["name"], "call": call},
                                    harness.pack(inputs)))
        send(tests_out)

    plan.make(make_inputs)
    return plan


def job_build(lab: LabFolder, code: str, *, name: str, device: str = "cpu", gpus: str = "",
              reference_device: str = "cpu") -> tuple[Job, Plan]:
    """The job for one submission, on a plan made ahead for this lab when the worker has one (labs.grading.warm),
    else on a new one; with the reference's recent timing when the worker has one, else the harness
    measures it."""
    lab_version = lab.content_hash
    plan_key = (lab.slug, device, reference_device)
    plan = warm.plan_take(plan_key, lab_version) or plan_make(lab, device=device, reference_device=reference_device)
    # The next job's plan, made while this one runs, at the lowest priority (when the worker keeps warm).
    warm.plan_keep(plan_key, lab_version,
                   lambda: plan_make(lab, device=device, reference_device=reference_device, ahead=True))
    plan.taken_at = time.monotonic()
    plan.timing_key = (lab.slug, device, gpus, lab_version)
    plan.reference_calls, plan.reference_age_s = warm.reference_calls(plan.timing_key)
    limits, benchmarks, tests, checked = plan.limits, plan.benchmarks, lab.cases["tests"], plan.checked_calls
    files = _files(lab, code, reference=not plan.reference_calls)
    spec = {
        "files": list(files), "problem": lab.meta["problem"], "reference": lab.meta["reference"],
        "entry": list(plan.problem.ENTRY), "device": device,
        "forbidden_imports": sorted(set(ALWAYS_FORBIDDEN) | set(lab.meta.get("forbidden_imports", []))),
        "forbidden_names": list(lab.meta.get("forbidden_names", [])),
        "tests": [case["name"] for case in tests], "benchmarks": [case["name"] for case in benchmarks],
        "warmup": limits.warmup, "repeats": limits.repeats, "checked": checked,
        "time_limit_s": limits.time_s, "reference_s": REFERENCE_S,
        "bench": {"budget_factor": limits.budget, "min_call_s": limits.min_call_s, "total_s": limits.bench_s},
    }
    if plan.reference_calls:
        spec["reference_calls"] = plan.reference_calls
    head = harness.record({"kind": "job"}, json.dumps(spec).encode())
    for path, data in files.items():
        head += harness.record({"kind": "file", "path": path}, data)

    def stream():
        yield from head
        yield from plan.records()

    return dataclasses.replace(job_kind(lab, device=device, gpus=gpus), name=name, stdin=stream()), plan


def job_kind(lab: LabFolder, *, device: str = "cpu", gpus: str = "") -> Job:
    """A job without its stdin: what a warm sandbox is started for (sandbox.pool.kind_of)."""
    limits = RunLimits.of(lab.meta, device)
    return Job(name="warm", argv=("{python}", "-I", "-c", harness.BOOTSTRAP), prelude=PRELUDE,
               limits=Limits(wall_s=limits.wall_s, memory_mb=limits.memory_mb,
                             scratch_mb=min(1024, limits.memory_mb // 2),
                             stdout_bytes=(640 if device == "cpu" else 4096) * 1024 * 1024), gpus=gpus)


def _files(lab: LabFolder, code: str, *, reference: bool = True) -> dict[str, bytes]:
    """What the children import: the problem module beside the submission; the reference kernels apart
    (``ref/``, only when the reference is timed), deleted by the harness before the submission's child starts."""
    problem_path = ROOT / (lab.meta["problem"].replace(".", "/") + ".py")
    files = {"job/submission.py": code.encode(),
             "job/lib/graders/__init__.py": (ROOT / "graders/__init__.py").read_bytes(),
             "job/lib/graders/labs/__init__.py": (ROOT / "graders/labs/__init__.py").read_bytes(),
             f"job/lib/{problem_path.relative_to(ROOT)}": problem_path.read_bytes()}
    for kernel in sorted((ROOT / "kernels").glob("*.py")) if reference else ():
        files[f"ref/lib/kernels/{kernel.name}"] = kernel.read_bytes()
    return files


def _clone(inputs: dict) -> dict:
    import torch

    return {k: v.clone() if isinstance(v, torch.Tensor) else v for k, v in inputs.items()}
