"""The cohort's CSV exports, streamed row by row from one query each: they open in a spreadsheet (UTF-8,
a header row, ISO 8601 times in UTC) and the long one feeds item analysis."""

from __future__ import annotations

import csv
from collections.abc import Iterator

from django.db import connection
from django.db.models import Q
from django.db.models.functions import Collate

from cohorts.models import Cohort
from cohorts.selectors import cohort_quizzes, cohort_students
from quizzes.models import Attempt, AttemptAnswer

RESPONSE_COLUMNS = ["student", "quiz", "attempt", "attempt_number", "practice", "question", "part", "points",
                    "answer", "score", "misconception", "submitted_at"]


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
ROWS_PER_CHUNK = 500  # rows per piece of the streamed response: one write per row would cost more than the CSV


class _Lines(list):
    """A csv.writer target that keeps what it is given, for one chunk of rows."""

    write = list.append


def _cell(value):
    """Text a learner or a user name typed can start like a spreadsheet formula (=, +, -, @): such a cell
    gets a leading apostrophe, unless it is a plain number (a negative answer stays a number)."""
    if isinstance(value, str) and value[:1] in FORMULA_START:
        try:
            float(value)
        except ValueError:
            return "'" + value
    return value


def _rows_to_csv(rows, text_columns: tuple[int, ...] | None = None) -> Iterator[str]:
    """The rows as CSV text in chunks. Only ``text_columns`` (every column when None) can hold typed text that
    needs :func:`_cell`; the others are numbers and times we format."""
    lines = _Lines()
    writer = csv.writer(lines)
    for row in rows:
        if text_columns is None:
            row = [_cell(value) for value in row]
        else:
            for i in text_columns:
                if row[i][:1] in FORMULA_START:
                    row[i] = _cell(row[i])
        writer.writerow(row)
        if len(lines) >= ROWS_PER_CHUNK:
            yield "".join(lines)
            lines.clear()
    if lines:
        yield "".join(lines)


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


def _bytewise(field: str) -> Collate:
    """Text ordered by its bytes, the same on both engines: SQLite's default, and on PostgreSQL several times
    cheaper to sort than a language's collation (the long CSV sorts every answer of the cohort)."""
    return Collate(field, "C" if connection.vendor == "postgresql" else "BINARY")


def cohort_responses_csv(*, cohort: Cohort) -> Iterator[str]:
    """One row per part of every graded attempt of the cohort's students (its quizzes and platform-wide
    ones), answered or not: grading keeps a row for every part of the attempt. Two queries: the attempts
    (student, quiz, number, time: the same for all their rows) and their answers in the export's order."""
    graded = (Attempt.objects.filter(status=Attempt.Status.GRADED, user__enrolments__cohort=cohort)
              .filter(Q(quiz__cohort=cohort) | Q(quiz__cohort__isnull=True)))
    attempts = {a_id: (student, quiz, str(a_id), str(number), "true" if practice else "false",
                       closed.strftime("%Y-%m-%dT%H:%M:%SZ") if closed else "")
                for a_id, student, quiz, number, practice, closed in graded.values_list(
                    "id", "user__username", "quiz__slug", "number", "practice", "closed_at")}
    answers = (AttemptAnswer.objects.filter(attempt__in=graded)
               .order_by(_bytewise("attempt__user__username"), _bytewise("attempt__quiz__slug"), "attempt__number",
                         _bytewise("part__question__slug"), "part__order")
               .values_list("attempt_id", "part__question__slug", "part__key", "part__points", "answer", "score",
                            "misconception"))

    def rows():
        yield RESPONSE_COLUMNS
        for attempt_id, question, part, points, answer, score, misconception in answers.iterator(chunk_size=10000):
            student, quiz, attempt, number, practice, submitted = attempts[attempt_id]
            yield [student, quiz, attempt, number, practice, question, part, f"{points:g}", answer, f"{score:.6g}",
                   misconception, submitted]

    return _rows_to_csv(rows(), text_columns=(0, 1, 5, 6, 8, 10))
