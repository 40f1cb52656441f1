"""Reads for the report pages. A learner's report is looked up through its reporter, so another learner's id
is a 404; the queue is for staff only (reports.roles)."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db.models import Case, Count, IntegerField, QuerySet, Value, When
from django.shortcuts import get_object_or_404
from django.utils import timezone

from content.reader import card_question_slug
from graders.answers import expected_answer
from quizzes.models import Attempt, Question
from quizzes.selectors import attempt_params, part_params, prompt_fill
from reports.models import ProblemReport
from reports.services import card_fingerprint, fixed_in_kind, question_fingerprint

CHOICE_KINDS = ("free", "single_choice", "multiple_choice")  # no key to show as LaTeX (options are marked)
STATUS_ORDER = Case(*(When(status=s, then=Value(i)) for i, s in enumerate(ProblemReport.Status.values)),
                    output_field=IntegerField())


def reports_of(*, user: User) -> QuerySet[ProblemReport]:
    return (ProblemReport.objects.filter(reporter=user)
            .select_related("question", "part", "card__deck", "answered_by").order_by("-created_at"))


def report_of(*, user: User, report_id: int) -> ProblemReport:
    """The learner's own report, or 404 (another learner's id too: no hint that it exists)."""
    return get_object_or_404(reports_of(user=user), pk=report_id)


# ----------------------------------------------------------------------------- exam mode


class ExamShield:
    """The questions of the learner's timed attempts still running (as quizzes.selectors.exam_in_progress
    counts them): while one runs, the staff's answers to reports on its questions are not shown."""

    def __init__(self, user: User):
        now, self.ids = timezone.now(), set()
        for attempt in Attempt.objects.filter(user=user, status=Attempt.Status.OPEN, practice=False):
            if attempt.deadline is None or attempt.deadline > now:
                self.ids |= {item["question"] for item in attempt.layout}
        self.slugs = set(Question.objects.filter(id__in=self.ids).values_list("slug", flat=True)) if self.ids else set()

    def hides(self, report: ProblemReport) -> bool:
        if not self.ids:
            return False
        if report.question_id in self.ids:
            return True
        return report.card is not None and card_question_slug(report.card) in self.slugs


def learner_rows(*, user: User, reports) -> list[dict]:
    """The learner's reports as their pages show them: the staff's answer withheld during an exam."""
    shield = ExamShield(user)
    return [{"report": r, "hidden": shield.hides(r), "fixed_kind": fixed_in_kind(r.fixed_in) if r.fixed_in else ""}
            for r in reports]


# ----------------------------------------------------------------------------- the queue


def queue(*, status: str = "") -> QuerySet[ProblemReport]:
    """Open reports first (oldest first: a queue), then answered, fixed and declined; ``status`` filters."""
    reports = ProblemReport.objects.select_related("reporter", "question", "part", "card__deck", "attempt__quiz",
                                                   "answered_by")
    if status in ProblemReport.Status.values:
        reports = reports.filter(status=status)
    return reports.annotate(rank=STATUS_ORDER).order_by("rank", "created_at", "id")


def queue_counts() -> dict[str, int]:
    counts = dict(ProblemReport.objects.values_list("status").annotate(n=Count("id")).values_list("status", "n"))
    return {s: counts.get(s, 0) for s in ProblemReport.Status.values}


def staff_view(report: ProblemReport) -> dict:
    """What the queue shows of one report: the question (or card) as it is now, each part's prompt with the
    reporter's numbers and its key, and the text at report time when it has changed since."""
    view = {"report": report, "parts": [], "changed": False, "gone": False,
            "fixed_kind": fixed_in_kind(report.fixed_in) if report.fixed_in else ""}
    if report.where == ProblemReport.Where.CARD and report.card is not None:
        snapshot, digest = card_fingerprint(report.card)
        spec = report.card.answer or {}
        view["card_key"] = expected_answer(spec) if spec and spec.get("kind") not in CHOICE_KINDS else None
    elif report.where != ProblemReport.Where.CARD and report.question is not None:
        snapshot, digest = question_fingerprint(report.question)
        for part in report.question.parts.all():
            if report.attempt is not None and report.where == ProblemReport.Where.REVIEW:
                params = attempt_params(attempt=report.attempt, part=part)
            else:
                params = part_params(part=part, user=report.reporter)
            view["parts"].append({"part": part, "params": params, "prompt": prompt_fill(part.prompt, params),
                                  "key": expected_answer(part.spec, params=params)
                                  if part.kind not in CHOICE_KINDS else None,
                                  "reported": part.id == report.part_id})
    else:
        view["gone"] = True
        return view
    view["changed"] = digest != report.content_hash
    view["text_changed"] = snapshot != report.snapshot
    return view
