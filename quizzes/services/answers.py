"""State changes for answers. Every auto-graded part goes through ``graders.answers.check_answer``."""

from __future__ import annotations

from django.contrib.auth.models import User

from graders.answers import AnswerResult, check_answer
from quizzes.models import Part, Response
from quizzes.selectors import part_params

MAX_ANSWER_CHARS = 4000


def response_save(*, user: User, part: Part, answer: str) -> tuple[AnswerResult, Response | None]:
    """Grade and store an answer. An answer that does not parse is a validation message: nothing is
    stored and nothing is charged."""
    answer = answer[:MAX_ANSWER_CHARS]
    result = check_answer(answer, part.spec, params=part_params(part=part, user=user))
    if result.error:
        return result, None
    response = Response.objects.create(user=user, part=part, answer=answer, correct=result.correct,
                                       score=result.score, feedback=result.feedback, parsed=result.parsed or "",
                                       misconception=result.misconception or "")
    return result, response
