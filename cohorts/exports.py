"""The cohort's CSV exports, streamed row by row from one query each: they open in a spreadsheet (UTF-8,
a header row, ISO 8601 times in UTC) and the long one feeds item analysis."""

from __future__ import annotations

import csv
from collections.abc import Iterator

from django.db.models import Q

from cohorts.models import Cohort
from cohorts.selectors import cohort_quizzes, cohort_students
from quizzes.models import Attempt, AttemptAnswer

RESPONSE_COLUMNS = ["student", "quiz", "attempt", "attempt_number", "practice", "question", "part", "points",
                    "answer", "score", "misconception", "submitted_at"]


class _Echo:
    def write(self, value: str) -> str:
        return value


def _cell(value):
    """Text a learner or a user name typed can start like a spreadsheet formula (=, +, -, @): such a cell
    gets a leading apostrophe, unless it is a plain number (a negative answer stays a number)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        try:
            float(value)
        except ValueError:
            return "'" + value
    return value


def _rows_to_csv(rows) -> Iterator[str]:
    writer = csv.writer(_Echo())
    for row in rows:
        yield writer.writerow([_cell(value) for value in row])


def _percent(fraction: float | None) -> str:
    return "" if fraction is None else f"{100 * fraction:.1f}"


def cohort_wide_csv(*, cohort: Cohort) -> Iterator[str]:
    """One row per enrolled student: each quiz's best score as a percentage of its points (empty when not
    attempted), the labs accepted, and whether the student is at risk."""
    quizzes = cohort_quizzes(cohort=cohort)
    students = cohort_students(cohort=cohort, quizzes=quizzes, best=True)
    header = ["student", *[q.slug for q in quizzes], "labs_accepted", "at_risk"]
    return _rows_to_csv([header] + [[s.username, *[_percent(s.scores.get(q.id)) for q in quizzes], s.labs_accepted,
                                     "true" if s.risks else "false"] for s in students])


def cohort_responses_csv(*, cohort: Cohort) -> Iterator[str]:
    """One row per part of every graded attempt of the cohort's students (its quizzes and platform-wide
    ones), answered or not: grading keeps a row for every part of the attempt."""
    answers = (AttemptAnswer.objects
               .filter(attempt__status=Attempt.Status.GRADED, attempt__user__enrolments__cohort=cohort)
               .filter(Q(attempt__quiz__cohort=cohort) | Q(attempt__quiz__cohort__isnull=True))
               .order_by("attempt__user__username", "attempt__quiz__slug", "attempt__number", "part__question__slug",
                         "part__order")
               .values_list("attempt__user__username", "attempt__quiz__slug", "attempt_id", "attempt__number",
                            "attempt__practice", "part__question__slug", "part__key", "part__points", "answer", "score",
                            "misconception", "attempt__closed_at"))

    def rows():
        yield RESPONSE_COLUMNS
        for (student, quiz, attempt, number, practice, question, part, points, answer, score, misconception,
             submitted) in answers.iterator(chunk_size=2000):
            yield [student, quiz, attempt, number, "true" if practice else "false", question, part, f"{points:g}",
                   answer, f"{score:.6g}", misconception, submitted.strftime("%Y-%m-%dT%H:%M:%SZ") if submitted else ""]

    return _rows_to_csv(rows())
