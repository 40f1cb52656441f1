"""The verdict every grader returns (re-exported by ``graders.answers``, which is where callers import it)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AnswerResult:
    correct: bool
    score: float  # fraction of the part's points in [0, 1]
    feedback: str  # shown to the learner
    parsed: str | None  # the answer as the grader read it, as LaTeX; None when it did not parse
    error: str | None  # validation message pointing at the position: not graded, costs nothing
    undecided: bool = False  # the check could not decide (timeout): not a wrong verdict
    misconception: str | None = None  # id of the misconception rule matched, if any

    def as_json(self) -> dict:
        return {
            "correct": self.correct,
            "score": self.score,
            "feedback": self.feedback,
            "parsed": self.parsed,
            "error": self.error,
        }


def invalid(message: str) -> AnswerResult:
    """Input we could not read: a validation message, never a wrong answer."""
    return AnswerResult(correct=False, score=0.0, feedback="", parsed=None, error=message)
