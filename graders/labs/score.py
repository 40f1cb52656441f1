"""A lab's score from its case checks and timings: the formula in docs/labs.md, in one place."""

from __future__ import annotations

import math
import statistics

FLOOR_S = 1e-6  # a time at or below the protocol's own overhead
RESOLUTION = 4.0


def speedup(reference_s: dict[str, float], submission_s: dict[str, float]) -> float | None:
    """Geometric mean over benchmark cases of t_reference / t_submission; None without usable timings."""
    ratios = [reference_s[name] / submission_s[name] for name in reference_s
              if name in submission_s and submission_s[name] > 0 and reference_s[name] > 0]
    if not ratios:
        return None
    return math.exp(sum(math.log(r) for r in ratios) / len(ratios))


def lab_score(*, all_passed: bool, points: float, speed_points: float, speed_cap: float,
              speedup: float | None) -> float:
    """Zero unless every test case passes; then base points plus speed points, capped at speed_cap."""
    if not all_passed:
        return 0.0
    base = points - speed_points
    if speedup is None or speed_cap <= 1:
        return float(base)
    share = min(1.0, math.log(max(speedup, 1.0)) / math.log(speed_cap))
    return round(base + speed_points * share, 2)


def case_seconds(reference_calls: list[tuple[float, float]],
                 submission_calls: list[float]) -> tuple[float, float] | None:
    """Seconds per call of the reference and of the submission for one benchmark case, or None when the
    timing cannot resolve the kernel.

    The parent harness times every call from handing over its inputs to holding its outputs, so its
    times include the protocol (mapping the inputs, packing the outputs, moving them to and from a GPU).
    The reference's calls also say (trusted: our code) how much of each was the kernel itself; the
    median of the rest is taken off both sides, so the ratio compares kernels. Nothing the submission
    says enters: its time is the parent's clock alone. When the reference's kernel is shorter than
    RESOLUTION times the noise of that overhead (a robust standard deviation: 1.4826 times the median
    absolute deviation), as for a memory-bound kernel behind a PCIe copy, what is left after the
    subtraction is noise, and no speed is claimed."""
    overheads = [total - kernel for total, kernel in reference_calls]
    overhead = statistics.median(overheads)
    noise = 1.4826 * statistics.median(abs(o - overhead) for o in overheads)
    reference = statistics.median(total for total, _ in reference_calls) - overhead
    if reference < RESOLUTION * noise:
        return None
    submission = statistics.median(submission_calls) - overhead
    return max(reference, FLOOR_S), max(submission, FLOOR_S)
