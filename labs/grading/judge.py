"""Judging a run: the harness's statuses to verdicts, every test case and every checked benchmark call
through the lab's ``check()``, then speed and score. Pure: no queries, no I/O."""

from __future__ import annotations

import logging

from graders.labs import CaseCheck
from graders.labs.score import case_seconds, lab_score, speedup
from labs.grading.build import Plan
from labs.grading.report import GradeReport, Verdict
from labs.grading.result import HarnessResult
from sandbox import harness
from sandbox.job import RunResult

log = logging.getLogger("labs")


def judge(meta: dict, plan: Plan, run: RunResult, result: HarnessResult | None) -> GradeReport:
    limits = plan.limits
    if run.timed_out:
        return GradeReport(Verdict.TIME_LIMIT, diagnostics=f"The run took longer than {run.wall_s:.0f} s.")
    if result is None:
        return _no_result(run)
    sub = result.submission
    if result.reference.status != "ok":
        log.error("the reference could not be timed: %s", result.reference.error)
        return GradeReport(Verdict.INTERNAL_ERROR, diagnostics="The reference could not be timed; it will be retried.")
    where = f" on case {sub.case}" if sub.case else ""
    printed = f"\n--- output ---\n{sub.log[-4000:]}" if sub.log else ""
    # What the harness saw first decides: a fork bomb that reported its BlockingIOError and then took the
    # container's memory is a runtime error; a child that vanished while the container ran out is memory.
    if sub.status == "memory_limit" or (run.oom_killed and sub.status == "exited"):
        return GradeReport(Verdict.MEMORY_LIMIT, diagnostics=f"Memory limit of {limits.memory_mb} MB exceeded{where}.")
    if sub.status == "time_limit":
        return GradeReport(Verdict.TIME_LIMIT, diagnostics=f"Time limit of {limits.time_s:g} s for the import and the "
                           f"test cases exceeded{where}.")
    if sub.status in ("syntax_error", "forbidden"):
        return GradeReport(Verdict(sub.status), diagnostics=sub.error)
    if sub.status == "runtime_error":
        return GradeReport(Verdict.RUNTIME_ERROR, diagnostics=(f"On case {sub.case}:\n" if sub.case else "")
                           + sub.error + printed)
    if sub.status == "exited":
        return GradeReport(Verdict.RUNTIME_ERROR, diagnostics=f"The submission's process ended (code "
                           f"{sub.returncode}){where} before it reported anything.{printed}")
    if sub.status != "ok":  # not_run: the reference failed, or the submission's process did not start
        log.error("the submission was not run: %s %s", sub.error, sub.log[-2000:])
        return GradeReport(Verdict.INTERNAL_ERROR, diagnostics="The grader failed to run; it will be retried.")
    return _checked(meta, plan, result)


def _no_result(run: RunResult) -> GradeReport:
    if run.stdout_truncated:
        return GradeReport(Verdict.RUNTIME_ERROR, diagnostics="The outputs the submission returned are too large "
                           "to be checked.")
    if run.oom_killed:
        return GradeReport(Verdict.MEMORY_LIMIT, diagnostics="The sandbox ran out of memory.")
    if run.exit_code is not None and (run.exit_code < 0 or run.exit_code > 128):
        # The harness itself died by a signal: in the local backend a submission of the same uid can send one.
        return GradeReport(Verdict.RUNTIME_ERROR, diagnostics="The grading harness was killed from inside the "
                           f"sandbox (signal {abs(run.exit_code) % 128}): a submission may not signal other processes.")
    log.error("harness gave no result (exit %s): %s", run.exit_code, run.stderr.decode("utf-8", "replace")[-2000:])
    return GradeReport(Verdict.INTERNAL_ERROR, diagnostics="The grader failed to run; it will be retried.")


def _checked(meta: dict, plan: Plan, result: HarnessResult) -> GradeReport:
    sub, accuracy = result.submission, meta.get("accuracy", {})
    cases = []
    for case, inputs, expected in plan.tests:
        verdict = _check(plan, result, (case["name"], 0), inputs, expected, accuracy)
        cases.append({"name": case["name"], "passed": verdict.passed, "message": verdict.message,
                      "metrics": _plain(verdict.metrics)})
    timed = [case["name"] for case in plan.benchmarks if len(sub.calls.get(case["name"], [])) == plan.limits.repeats]
    for name in timed:
        for call, (inputs, expected) in plan.checked[name].items():
            verdict = _check(plan, result, (name, call), inputs, expected, accuracy)
            if not verdict.passed:
                cases.append({"name": f"benchmark {name}", "passed": False, "metrics": {},
                              "message": "A timed run gave a wrong result: " + verdict.message})
                break
    all_passed = all(c["passed"] for c in cases)
    notes: list[str] = []
    ratio = None
    if all_passed and sub.too_slow:
        slow = sub.too_slow
        notes.append(f"Too slow to time: call {slow['call'] + 1} of benchmark {slow['case']} ran past its budget of "
                     f"{slow['budget_s']:.2f} s ({plan.limits.budget:g}× the reference's {slow['reference_s']:.3f} s "
                     "per call, or at least "
                     f"{plan.limits.min_call_s:g} s), so it earns no speed points. Correctness is judged by the test "
                     "cases alone.")
    elif all_passed and timed:
        seconds = {name: case_seconds(result.reference.calls[name], sub.calls[name]) for name in timed}
        resolved = {name: pair for name, pair in seconds.items() if pair is not None}
        unresolved = sorted(set(seconds) - set(resolved))
        if unresolved:
            notes.append(f"Not timed: {', '.join(unresolved)}: on this machine the reference's kernel is shorter "
                         "than the noise of moving its inputs and outputs, so a time for it would be noise.")
        ratio = speedup({n: ref for n, (ref, _) in resolved.items()}, {n: s for n, (_, s) in resolved.items()})
    needs_review = ratio is not None and ratio > plan.limits.plausible_speedup
    if needs_review:
        notes.append(f"A speedup of {ratio:.1f}x is above this lab's plausible ceiling of "
                     f"{plan.limits.plausible_speedup:g}x: it is recorded for an instructor to review, and earns no "
                     "speed points until one clears it.")
    score = lab_score(all_passed=all_passed, points=meta["points"], speed_points=meta["speed_points"],
                      speed_cap=meta["speed_cap"], speedup=None if needs_review else ratio)
    if all_passed:
        base, speed, cap = meta["points"] - meta["speed_points"], meta["speed_points"], meta["speed_cap"]
        shown = ("speed points withheld for review" if needs_review
                 else "no usable timing" if ratio is None else f"speedup s = {ratio:.2f}")
        notes.append(f"Score = {base} base points + {speed} speed points × min(1, log(max(s, 1)) / log({cap})) "
                     f"with {shown} = {score}.")
    failed = [c for c in cases if not c["passed"]]
    if failed:
        notes.insert(0, f"{len(failed)} of {len(cases)} cases failed. First: {failed[0]['name']}: "
                        f"{failed[0]['message']}")
    elif ratio is not None:
        notes.insert(0, f"All {len(cases)} cases passed; speedup over the reference {ratio:.2f}x "
                        f"(geometric mean over {len(resolved)} benchmark cases).")
    else:
        notes.insert(0, f"All {len(cases)} cases passed.")
    return GradeReport(Verdict.ACCEPTED if all_passed else Verdict.WRONG_ANSWER, score=score, correct=all_passed,
                       cases=cases, speedup=None if ratio is None else round(ratio, 4), diagnostics="\n".join(notes),
                       needs_review=needs_review)


def _check(plan: Plan, result: HarnessResult, key: tuple[str, int], inputs: dict, expected: dict,
           accuracy: dict) -> CaseCheck:
    raw = result.outputs.get(key)
    if raw is None:
        return CaseCheck(False, "No output came back for this call.")
    try:
        got = harness.unpack(bytearray(raw))  # a private copy: the tensors are views on it
    except (ValueError, TypeError) as exc:
        return CaseCheck(False, f"The outputs could not be read: {exc}"[:300])
    return plan.problem.check(inputs, expected, got, accuracy)


def _plain(metrics: dict) -> dict:
    return {str(k): (v if isinstance(v, int | float | str | bool) or v is None else str(v)) for k, v in metrics.items()}
