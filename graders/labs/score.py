"""A lab's score from its case checks and timings: the formula in docs/labs.md, in one place."""

from __future__ import annotations

import math


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
