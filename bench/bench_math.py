"""The answer grader against the naive sympy baseline, on the course's equivalence table.

Run: python bench/bench_math.py [--repeats N] [--timeout S] [--verbose]

Pairs: every (key, answer) in tests/graders/equivalence_table.yaml with a known verdict: `equivalent`
answers must be graded correct; `not_equivalent` and `misconception_answers` must be graded wrong.
(`wrong_form` answers are left out: the baseline has no notion of form.)

* ours: ``graders.answers.check_answer(answer, spec)``, in-process. "cold" is the first check of each
  part (the key is parsed and sampled then); "warm" repeats every check ``--repeats`` times.
  ``preview_answer`` (what the page asks on each keystroke: parse and render, no grading) is timed alike.
* naive: ``sympy.simplify(parse_expr(key) - parse_expr(answer)) == 0`` with the declared symbols and
  their assumptions, ``^`` as power, implicit multiplication, and our function names mapped to sympy's.
  It runs in a forked worker with a wall-clock limit per pair; a pair over the limit is killed and
  counted as a miss, its time as the limit. It cannot read LaTeX answers (counted as misses).

Both are measured in this run, on this machine; the ratio is naive / ours.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from graders.answers import check_answer, normalize_symbols, preview_answer  # noqa: E402

TABLE = ROOT / "tests" / "graders" / "equivalence_table.yaml"


def load_pairs() -> list[tuple[str, dict, str, bool]]:
    """(entry id, spec, answer, should be correct)."""
    pairs = []
    for entry in yaml.safe_load(TABLE.read_text()):
        spec = entry["spec"]
        pairs += [(entry["id"], spec, a, True) for a in entry.get("equivalent") or []]
        pairs += [(entry["id"], spec, a, False) for a in entry.get("not_equivalent") or []]
        pairs += [(entry["id"], spec, a, False) for a in entry.get("misconception_answers") or {}]
    return pairs


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


# --- the naive baseline, in a killable worker --------------------------------------------------------------


def _naive(key: str, answer: str, domains: dict[str, str]) -> bool:
    import sympy
    from sympy.parsing.sympy_parser import (
        convert_xor,
        implicit_multiplication_application,
        parse_expr,
        standard_transformations,
    )

    assume = {"real": {"real": True}, "positive": {"positive": True}, "nonnegative": {"nonnegative": True},
              "integer": {"integer": True}, "positive_integer": {"positive": True, "integer": True}}
    names = {n: sympy.Symbol(n, **assume.get(d, {})) for n, d in domains.items()}
    names.update({
        "ln": sympy.log, "log2": lambda x: sympy.log(x, 2), "log10": lambda x: sympy.log(x, 10), "abs": sympy.Abs,
        "min": sympy.Min, "max": sympy.Max, "round": sympy.Function("round"), "ceil": sympy.ceiling,
        "clamp": lambda x, lo, hi: sympy.Min(sympy.Max(x, lo), hi), "e": sympy.E, "pi": sympy.pi,
    })
    transformations = standard_transformations + (implicit_multiplication_application, convert_xor)
    a = parse_expr(key, local_dict=dict(names), transformations=transformations)
    b = parse_expr(answer, local_dict=dict(names), transformations=transformations)
    return bool(sympy.simplify(a - b) == 0)


def _worker(conn) -> None:
    while True:
        job = conn.recv()
        if job is None:
            return
        start = time.perf_counter()
        try:
            verdict = _naive(*job)
        except Exception as exc:  # a parse failure is a miss, like any wrong verdict
            verdict = f"error: {type(exc).__name__}"
        conn.send((verdict, time.perf_counter() - start))


class NaiveRunner:
    def __init__(self, timeout: float):
        self.timeout = timeout
        self.ctx = mp.get_context("fork")
        self._start()

    def _start(self) -> None:
        self.conn, child = self.ctx.Pipe()
        self.proc = self.ctx.Process(target=_worker, args=(child,), daemon=True)
        self.proc.start()

    def run(self, key: str, answer: str, domains: dict[str, str]):
        self.conn.send((key, answer, domains))
        if self.conn.poll(self.timeout):
            return self.conn.recv()
        self.proc.kill()
        self.proc.join()
        self._start()
        return "timeout", self.timeout

    def close(self) -> None:
        self.conn.send(None)
        self.proc.join(2)


# --- the run ------------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="warm timings per pair for the grader")
    parser.add_argument("--timeout", type=float, default=5.0, help="wall-clock limit per naive pair, seconds")
    parser.add_argument("--verbose", action="store_true", help="list the pairs each one gets wrong")
    args = parser.parse_args()

    import sympy  # noqa: F401  (imported before the worker forks, so it starts warm)

    pairs = load_pairs()

    cold, seen = [], set()
    for entry_id, spec, answer, _ in pairs:
        start = time.perf_counter()
        check_answer(answer, spec)
        if entry_id not in seen:
            cold.append(time.perf_counter() - start)
            seen.add(entry_id)

    warm, ours_right, ours_wrong, undecided = [], 0, [], 0
    for entry_id, spec, answer, should in pairs:
        for _ in range(args.repeats):
            start = time.perf_counter()
            result = check_answer(answer, spec)
            warm.append(time.perf_counter() - start)
        undecided += result.undecided
        if result.correct == should and not result.undecided and not result.error:
            ours_right += 1
        else:
            ours_wrong.append((entry_id, answer, should))

    preview = []
    for _, spec, answer, _ in pairs:
        for _ in range(args.repeats):
            start = time.perf_counter()
            preview_answer(answer, spec)
            preview.append(time.perf_counter() - start)

    runner = NaiveRunner(args.timeout)
    naive_times, naive_right, naive_wrong, timeouts, unreadable = [], 0, [], 0, 0
    for entry_id, spec, answer, should in pairs:
        domains, _ = normalize_symbols(spec.get("symbols"))
        verdict, elapsed = runner.run(spec["expected"], answer, domains)
        naive_times.append(elapsed)
        timeouts += verdict == "timeout"
        unreadable += isinstance(verdict, str) and verdict.startswith("error")
        if verdict is should:
            naive_right += 1
        else:
            naive_wrong.append((entry_id, answer, should, verdict))
    runner.close()

    n = len(pairs)
    ms = 1000
    print(f"Answer grader vs naive sympy baseline: {n} pairs from {TABLE.relative_to(ROOT)} "
          f"({len(seen)} parts), measured in this run")
    print(f"{'':34}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'right':>10}")
    print(f"{'check_answer, warm':34}{pct(warm, 50) * ms:9.2f}{pct(warm, 99) * ms:9.2f}{max(warm) * ms:9.1f}"
          f"{ours_right:>6}/{n}")
    print(f"{'check_answer, cold (1st per part)':34}{pct(cold, 50) * ms:9.2f}{pct(cold, 99) * ms:9.2f}"
          f"{max(cold) * ms:9.1f}")
    print(f"{'preview_answer (each keystroke)':34}{pct(preview, 50) * ms:9.2f}{pct(preview, 99) * ms:9.2f}"
          f"{max(preview) * ms:9.1f}")
    print(f"{'naive simplify(a - b) == 0':34}{pct(naive_times, 50) * ms:9.2f}{pct(naive_times, 99) * ms:9.2f}"
          f"{max(naive_times) * ms:9.1f}{naive_right:>6}/{n}")
    print(f"ratio naive / ours (warm): p50 {pct(naive_times, 50) / pct(warm, 50):.0f}x, "
          f"p99 {pct(naive_times, 99) / pct(warm, 99):.0f}x")
    print(f"grader: {undecided} undecided; naive: {timeouts} over the {args.timeout:g} s limit, "
          f"{unreadable} it could not parse (LaTeX, ...); timeouts count as misses")
    budget = "PASS" if pct(warm, 99) < 0.050 else "FAIL"
    print(f"acceptance: check_answer p99 < 50 ms: {budget}")
    print(f"target: preview_answer p99 < 5 ms: {'PASS' if pct(preview, 99) < 0.005 else 'FAIL'}")
    if args.verbose:
        for entry_id, answer, should in ours_wrong:
            print(f"  ours wrong: {entry_id}: {answer!r} (should be {'correct' if should else 'wrong'})")
        for entry_id, answer, should, verdict in naive_wrong:
            print(f"  naive wrong: {entry_id}: {answer!r} -> {verdict} (should be {should})")


if __name__ == "__main__":
    main()
