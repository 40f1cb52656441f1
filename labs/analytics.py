"""Reads for the instructor's lab analytics: one lab's numbers for the students enrolled now in one cohort
(``/cohorts/<id>/labs/<slug>/``), and each lab's accepted / attempted counts for the cohort page.

A fixed number of queries whatever the cohort's size: the database counts, and Python only reduces rows
of values (one per student, one per wrong answer with its first failed case), never Submission instances,
so no submission's code is read.

What a graded ``Submission.result`` holds is ``GradeReport.as_json()`` (labs/grading/report.py): the
verdict, the score, ``cases`` (a list of {name, passed, message, metrics}, written only when the test cases
were checked, i.e. for ``accepted`` and ``wrong_answer``), ``speedup`` (a float, or null when nothing could
be timed), ``diagnostics`` (free text) and ``wall_s``. There is no field for a failure's class: the lab's
``check()`` writes it into the case's message, as a ``- <class>: ...`` line for the labs that classify
their mistakes (fp8-e4m3, int8-asym, nvfp4), so that line is what this module reads as the class."""

from __future__ import annotations

import statistics

from django.db.models import Count, Exists, F, FloatField, Func, JSONField, Min, OuterRef, Q
from django.db.models.fields.json import KT, KeyTransform
from django.db.models.functions import Cast

from cohorts.models import Cohort, Enrolment
from labs.models import Lab, Submission

ACCEPTED = Submission.Verdict.ACCEPTED
WRONG_ANSWER = Submission.Verdict.WRONG_ANSWER
DONE = Submission.Status.DONE
# Speedup bins over the reference: [low, high), with a label; None is open.
SPEEDUP_BINS = ((None, 0.5, "< 0.5×"), (0.5, 1.0, "0.5–1×"), (1.0, 2.0, "1–2×"), (2.0, 4.0, "2–4×"),
                (4.0, 8.0, "4–8×"), (8.0, None, "≥ 8×"))
EXAMPLE_CHARS = 160
LATEST = 20  # the latest submissions listed, with links


def _in_cohort(cohort: Cohort, lab: Lab):
    """The lab's submissions by the students enrolled in the cohort now (one enrolment per pair: no duplicates)."""
    return Submission.objects.filter(lab=lab, user__enrolments__cohort=cohort).order_by()


def failure_class(message: str) -> str | None:
    """The class a lab's check names first in a failed case's message (its first ``- <class>: ...`` line),
    or None when the message names none (gptq, hadamard, kivi and shape or dtype problems write prose)."""
    for line in (message or "").splitlines():
        if line.startswith("- ") and ": " in line:
            return line[2:].split(": ", 1)[0].strip()[:120] or None
    return None


# A recorded speedup: the key is there and is not JSON null (cast, SQLite's null would read as 0.0).
TIMED = Q(result__speedup__isnull=False) & ~Q(result__speedup=None)


def _speed_in(low: float | None, high: float | None) -> Q:
    within = TIMED
    if low is not None:
        within &= Q(speed__gte=low)
    if high is not None:
        within &= Q(speed__lt=high)
    return within


def _first_line(message: str) -> str:
    line = (message or "").strip().splitlines()[0] if (message or "").strip() else ""
    return line if len(line) <= EXAMPLE_CHARS else line[:EXAMPLE_CHARS - 1] + "…"


class FirstFailedCase(Func):
    """The first element of ``result.cases`` with ``"passed": false``, or NULL: only that case of a wrong
    answer leaves the database, not every case's message. The two engines the project runs on."""

    output_field = JSONField()

    def as_postgresql(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        return f"jsonb_path_query_first({sql}, '$.cases[*] ? (@.passed == false)')", params

    def as_sqlite(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        return (f"(SELECT value FROM json_each({sql}, '$.cases') WHERE json_type(value, '$.passed') = 'false' "
                "ORDER BY key LIMIT 1)"), params


def _first_failures(rows: list[dict]) -> tuple[list[dict], int]:
    """Wrong answers grouped by their first failed case and its class, most common first; and how many
    wrong answers record no failed case (results written before cases were recorded, or demo rows)."""
    groups: dict[tuple[str, str | None], dict] = {}
    unrecorded = 0
    for row in rows:
        failed = row["failed"] if isinstance(row["failed"], dict) and row["failed"].get("name") else None
        if failed is None:
            unrecorded += 1
            continue
        message = str(failed.get("message") or "")
        klass = failure_class(message)
        group = groups.setdefault((str(failed["name"]), klass), {
            "case": str(failed["name"]), "klass": klass, "example": None if klass else _first_line(message),
            "submissions": 0, "students": set()})
        group["submissions"] += 1
        group["students"].add(row["user_id"])
    ordered = sorted(groups.values(), key=lambda g: (-g["submissions"], -len(g["students"]), g["case"], g["klass"] or ""))
    return [{**g, "students": len(g["students"])} for g in ordered], unrecorded


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def duration_text(seconds: float | None) -> str:
    """A duration as an instructor reads it: 40 s, 12 min, 3.5 h, 2.1 days."""
    if seconds is None:
        return "—"
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def lab_cohort_analytics(*, cohort: Cohort, lab: Lab) -> dict:
    """One lab for the students enrolled in the cohort now: counts, verdict mix, first failed cases, the
    speedup histogram, tries and time to the first accept, who has not submitted or not been accepted, and
    the speedups waiting for review, and the latest submissions. Seven queries, whatever the number of students
    and submissions."""
    students = dict(Enrolment.objects.filter(cohort=cohort).order_by("student__username")
                    .values_list("student_id", "student__username"))
    scope = _in_cohort(cohort, lab)

    speed = Cast(KT("result__speedup"), FloatField())
    accepted_q = Q(status=DONE, verdict=ACCEPTED)
    bins = {f"bin{i}": Count("id", filter=accepted_q & _speed_in(lo, hi)) for i, (lo, hi, _) in enumerate(SPEEDUP_BINS)}
    totals = scope.annotate(speed=speed).aggregate(
        submissions=Count("id"), finished=Count("id", filter=Q(status=DONE)), accepted=Count("id", filter=accepted_q),
        untimed=Count("id", filter=accepted_q & ~TIMED), **bins)

    by_verdict = dict(scope.filter(status=DONE).values_list("verdict").annotate(n=Count("id")))
    verdicts = [{"verdict": v.value, "label": v.label, "count": by_verdict.get(v.value, 0)}
                for v in Submission.Verdict if by_verdict.get(v.value)]

    # One row per student: their submissions, the first one, the first accept, and the tries up to it (the
    # submissions with no accept of theirs before them: the accepted one counted, so 1 = first try).
    accepted_before = Submission.objects.filter(user_id=OuterRef("user_id"), lab=lab, status=DONE, verdict=ACCEPTED,
                                                created_at__lt=OuterRef("created_at"))
    per_student = list(scope.values("user_id").annotate(
        submissions=Count("id"), first_at=Min("created_at"), first_accept_at=Min("created_at", filter=accepted_q),
        tries=Count("id", filter=~Exists(accepted_before))))
    accepted_rows = [r for r in per_student if r["first_accept_at"] is not None]
    median_seconds = _median([(r["first_accept_at"] - r["first_at"]).total_seconds() for r in accepted_rows])
    tried = {r["user_id"]: r for r in per_student}

    wrong = list(scope.filter(status=DONE, verdict=WRONG_ANSWER).order_by("-created_at", "-id")
                 .values("user_id", failed=FirstFailedCase("result")))
    failures, unrecorded = _first_failures(wrong)
    # Failed verdicts whose result has no cases: the case, if any, is only in the diagnostics text.
    no_case = [v for v in verdicts if v["verdict"] not in (ACCEPTED, WRONG_ANSWER)]
    if unrecorded:
        no_case.insert(0, {"verdict": WRONG_ANSWER, "label": WRONG_ANSWER.label, "count": unrecorded})

    flagged = list(scope.filter(speed_review=Submission.SpeedReview.NEEDED).order_by("created_at", "id")
                   .values("id", "created_at", speedup=KeyTransform("speedup", "result"), username=F("user__username")))

    # The latest submissions, each a link to the instructor's submission page: values only, never the code.
    latest = list(scope.order_by("-created_at", "-id").values(
        "id", "created_at", "status", "verdict", "score", "score_override", username=F("user__username"))[:LATEST])
    labels = {v.value: v.label for v in Submission.Verdict}
    for row in latest:
        row["verdict_label"] = labels.get(row["verdict"], row["verdict"])

    histogram = [{"label": label, "count": totals[f"bin{i}"]} for i, (_, _, label) in enumerate(SPEEDUP_BINS)]
    return {
        "enrolled": len(students),
        "submissions": totals["submissions"],
        "finished": totals["finished"],
        "in_progress": totals["submissions"] - totals["finished"],
        "accepted": totals["accepted"],
        "share_accepted": totals["accepted"] / totals["finished"] if totals["finished"] else None,
        "verdicts": verdicts,
        "failures": failures,
        "no_case": no_case,
        "histogram": histogram,
        "untimed": totals["untimed"],
        "students_tried": len(tried),
        "students_accepted": len(accepted_rows),
        "median_tries": _median([r["tries"] for r in accepted_rows]),
        "median_to_accept_s": median_seconds,
        "median_to_accept": duration_text(median_seconds),
        "never_submitted": [name for uid, name in students.items() if uid not in tried],
        "no_accept": [{"username": name, "submissions": tried[uid]["submissions"]} for uid, name in students.items()
                      if uid in tried and tried[uid]["first_accept_at"] is None],
        "flagged": flagged,
        "latest": latest,
        "chart": {"verdicts": {"labels": [v["label"] for v in verdicts], "counts": [v["count"] for v in verdicts]},
                  "speedups": {"labels": [b["label"] for b in histogram], "counts": [b["count"] for b in histogram]}},
    }


def cohort_labs(*, cohort: Cohort) -> list[dict]:
    """Every lab with how many students enrolled in the cohort now have tried it and have an accepted
    submission: one query (the cohort page's Labs section)."""
    mine = Q(submissions__user__enrolments__cohort=cohort)
    return list(Lab.objects.order_by("slug").values("slug", "title").annotate(
        attempted=Count("submissions__user_id", filter=mine, distinct=True),
        accepted=Count("submissions__user_id", filter=mine & Q(submissions__verdict=ACCEPTED,
                                                                 submissions__status=DONE), distinct=True)))

