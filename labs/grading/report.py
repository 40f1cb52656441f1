"""What grading concludes: a verdict from one list and the report the pages, the API and grade_lab show."""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field


class Verdict(enum.StrEnum):
    ACCEPTED = "accepted"
    WRONG_ANSWER = "wrong_answer"
    TIME_LIMIT = "time_limit"
    MEMORY_LIMIT = "memory_limit"
    RUNTIME_ERROR = "runtime_error"
    SYNTAX_ERROR = "syntax_error"
    FORBIDDEN = "forbidden"
    INTERNAL_ERROR = "internal_error"  # ours, never the learner's: retried, never charged

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").title()


# The timing breakdown's stages in order, in words: grade() measures the sandbox's, the worker the first
# and the last. Making the inputs runs alongside the container's start and the imports, or before the job
# (labs.grading.warm); a warm sandbox has started and imported torch before the job; a worker that timed the
# reference recently reuses that timing, and the stage is absent.
TIMING_STAGES = [
    ("queue_wait_s", "waiting for a worker"),
    ("inputs_s", "waiting for the inputs and expected outputs (none when made ahead)"),
    ("container_start_s", "starting the sandbox (a warm one is already up)"),
    ("imports_s", "importing torch (done ahead in a warm sandbox) and receiving the inputs"),
    ("reference_timing_s", "timing the reference (absent when this worker's recent timing is reused)"),
    ("tests_s", "running the test cases"),
    ("submission_timing_s", "timing the submission and returning its outputs"),
    ("scoring_s", "checking the outputs and scoring"),
    ("result_write_s", "recording the result"),
]


def timing_rows(timings: dict) -> list[tuple[str, float]]:
    """The breakdown as (what, seconds) rows in stage order, for pages."""
    return [(words, timings[key]) for key, words in TIMING_STAGES if isinstance(timings.get(key), int | float)]


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
    needs_review: bool = False  # a speedup above the lab's plausible ceiling: no speed points until cleared
    timings: dict = field(default_factory=dict)  # seconds per grading stage (labs.grading.StageClock)

    def as_json(self) -> dict:
        """The fields of the grade_lab contract, in its order, then ``timings``."""
        data = asdict(self)
        return {key: data[key] for key in ("verdict", "score", "correct", "cases", "speedup", "diagnostics",
                                           "wall_s", "timings")}
