"""What a grading worker keeps between jobs, so that a learner does not wait for work that is not theirs:
the inputs and expected outputs of the next job of each lab, made ahead, and the reference's recent timing
for each lab's benchmark sizes. Both are per worker process, in memory, and off until ``enable()`` (the
Celery worker calls it); ``grade_lab`` and the tests measure everything per job unless they enable it.

Integrity: a plan made ahead has a fresh secret seed and secretly drawn checked calls, is taken by exactly
one job and never again, and the sandbox sees none of it before its job. The reference's timing is measured
in a sandbox like any job's, before any submission code runs there, and re-measured every
``REMEASURE_JOBS`` jobs or ``REMEASURE_S`` seconds; when a new measurement differs from the last by more
than ``DRIFT`` in any case, it is logged, the new one is kept, and the next job measures again.
docs/benchmarks.md has the figures."""

from __future__ import annotations

import logging
import statistics
import threading
import time
from dataclasses import dataclass

log = logging.getLogger("labs")
REMEASURE_JOBS = 20
REMEASURE_S = 300.0
DRIFT = 1.25

_enabled = False
_lock = threading.Lock()
PLANS_AHEAD = 2  # per lab: one is made over two jobs' untimed moments, so back-to-back jobs find it made
_plans: dict[tuple, list] = {}  # (slug, device, reference device) -> [(version, Plan)] made ahead, oldest first
_times: dict[tuple, _Timing] = {}  # (slug, device, version) -> the reference's last timing


@dataclass
class _Timing:
    calls: dict  # benchmark case -> [[total, kernel], ...] as the harness measured them
    measured_at: float
    uses: int = 0
    remeasure: bool = False


def enable(on: bool = True) -> None:
    """Switching off (a test's end) forgets what is kept and waits for the plans still being made: a thread
    still inside torch when the interpreter exits aborts the process."""
    global _enabled
    _enabled = on
    if not on:
        with _lock:
            plans = [plan for kept in _plans.values() for _, plan in kept]
            _plans.clear()
            _times.clear()
        for plan in plans:
            try:
                plan.wait()
            except Exception:  # noqa: BLE001 - logged where it was made ahead; nothing takes it now
                pass


def plan_take(key: tuple, lab_version: str):
    """The oldest plan made ahead for this version of the lab (its content hash), or None; it is no longer
    kept here. Plans made for another version are thrown away."""
    with _lock:
        kept = [entry for entry in _plans.get(key, []) if entry[0] == lab_version]
        _plans[key] = kept[1:]
    return kept[0][1] if kept else None


def plan_keep(key: tuple, lab_version: str, make) -> list:
    """Make plans in the background (``make()`` starts a thread) until PLANS_AHEAD are kept for this lab;
    returns the new ones (none when nothing is kept warm)."""
    if not _enabled:
        return []
    with _lock:
        kept = _plans.setdefault(key, [])
        new = [make() for _ in range(PLANS_AHEAD - len(kept))]
        kept += [(lab_version, plan) for plan in new]

    def made(plan) -> None:
        try:
            plan.wait()
            log.info("%s: the next job's inputs made ahead in %.1f s", key[0], plan.made_s)
        except Exception:  # noqa: BLE001 - the job that takes it fails the same way, and says so
            log.exception("%s: making the next job's inputs failed", key[0])

    for plan in new:
        threading.Thread(target=made, args=(plan,), name="plan-ahead", daemon=True).start()
    return new


def reference_calls(key: tuple) -> tuple[dict | None, float]:
    """The reference's recent timing for this lab and device (and its age in seconds), or (None, 0) when
    this job must measure it."""
    if not _enabled:
        return None, 0.0
    with _lock:
        timing = _times.get(key)
        age = time.monotonic() - timing.measured_at if timing else 0.0
        if timing is None or timing.remeasure or timing.uses >= REMEASURE_JOBS or age >= REMEASURE_S:
            return None, 0.0
        timing.uses += 1
        return timing.calls, age


def reference_measured(key: tuple, calls: dict) -> None:
    """Keep a new measurement; a drift from the last one beyond DRIFT is logged and measured again."""
    if not _enabled or not calls:
        return
    with _lock:
        last = _times.get(key)
        drift = max((_ratio(last.calls.get(case), calls[case]) for case in calls), default=1.0) if last else 1.0
        _times[key] = _Timing(calls=calls, measured_at=time.monotonic(), remeasure=drift > DRIFT)
    if drift > DRIFT:
        log.warning("the reference's timing for %s moved by %.2fx since its last measurement; measuring again",
                    key[0], drift)


def _ratio(old: list | None, new: list) -> float:
    if not old or not new:
        return float("inf")
    a, b = statistics.median(t for t, _ in old), statistics.median(t for t, _ in new)
    return max(a / b, b / a) if a > 0 and b > 0 else float("inf")
