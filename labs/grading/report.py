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

    def as_json(self) -> dict:
        """The fields of the grade_lab contract, in its order."""
        data = asdict(self)
        return {key: data[key] for key in ("verdict", "score", "correct", "cases", "speedup", "diagnostics",
                                           "wall_s")}
