"""State changes for answers. Every auto-graded part goes through ``graders.answers.check_answer``."""

from __future__ import annotations

from django.contrib.auth.models import User

from graders.answers import AnswerResult, check_answer, sample_params
from quizzes.content import PLACEHOLDER
from quizzes.models import Part, Response

MAX_ANSWER_CHARS = 4000


def part_params(*, part: Part, user: User) -> dict:
    """A learner's own numbers for a parameterized part (stable per learner until attempts fix them)."""
    return sample_params(part.spec, user.id) if part.spec.get("params") else {}


def prompt_fill(prompt: str, params: dict) -> str:
    """``{{name}}`` in a prompt becomes the learner's value (the loader checks every name is a parameter)."""
    return PLACEHOLDER.sub(lambda m: str(params.get(m.group(1), m.group(0))), prompt)


def response_save(*, user: User, part: Part, answer: str) -> tuple[AnswerResult, Response | None]:
    """Grade and store an answer. An answer that does not parse is a validation message: nothing is
    stored and nothing is charged."""
    answer = answer[:MAX_ANSWER_CHARS]
    result = check_answer(answer, part.spec, params=part_params(part=part, user=user))
    if result.error:
        return result, None
    response = Response.objects.create(user=user, part=part, answer=answer, correct=result.correct,
                                       score=result.score, feedback=result.feedback, parsed=result.parsed or "")
    return result, response
