"""What the answers say and how grades are corrected, in the instructor's workspace: a part's report
(misconceptions, wrong answers as read, variants) and the answers behind each entry, a regrade with its dry
run, the manual grading queue and a score by hand. Every view is scoped to a cohort the user teaches."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.defaultfilters import pluralize
from django.urls import reverse

from cohorts import item_analysis, selectors, services
from cohorts.forms import OverrideForm, RegradeForm, form_errors
from cohorts.instructor_views import _cohort, _done, _refused, instructor_only
from graders.answers import expected_answer
from quizzes.models import Attempt, AttemptAnswer, GradeChange, Part
from quizzes.selectors import attempt_params, attempt_part_options
from quizzes.services.regrades import KEY_CORRECTED, RegradeError, regrade_plan

QUEUE_SHOWN = 200


def _quiz_part(request: HttpRequest, cohort_id: int, slug: str, part_id: int):
    """The cohort (taught by the user), its quiz, and a part that quiz asks: 404 for anything else."""
    cohort = _cohort(request, cohort_id)
    quiz = selectors.cohort_quiz_get(cohort=cohort, slug=slug)
    part = Part.objects.select_related("question").filter(pk=part_id).first()
    if part is None or (part.question.slug not in (quiz.question_slugs or [])
                        and not AttemptAnswer.objects.filter(attempt__quiz=quiz, part=part).exists()):
        raise Http404("This quiz does not ask that part.")
    return cohort, quiz, part


@instructor_only
def part_report(request: HttpRequest, cohort_id: int, slug: str, part_id: int) -> HttpResponse:
    cohort, quiz, part = _quiz_part(request, cohort_id, slug, part_id)
    return render(request, "cohorts/part_report.html", {
        "cohort": cohort, "quiz": quiz, "part": part, "report": item_analysis.part_report(cohort=cohort, part=part),
        "by_cohort": item_analysis.part_by_cohort(part=part, cohorts=selectors.cohorts_taught_by(request.user)),
        "key_changes": part.key_changes.order_by("-changed_at")[:5]})


@instructor_only
def part_answers(request: HttpRequest, cohort_id: int, slug: str, part_id: int) -> HttpResponse:
    """The answers behind one entry of the report: ?misconception=ID, ?parsed=LATEX or ?unparsed=1."""
    cohort, quiz, part = _quiz_part(request, cohort_id, slug, part_id)
    misconception, parsed = request.GET.get("misconception", "")[:80], request.GET.get("parsed", "")[:4000]
    unparsed = request.GET.get("unparsed") == "1"
    total, answers = item_analysis.part_answers_filtered(cohort=cohort, part=part, misconception=misconception,
                                                         parsed=parsed, unparsed=unparsed)
    return render(request, "cohorts/part_answers.html", {
        "cohort": cohort, "quiz": quiz, "part": part, "answers": answers, "total": total,
        "misconception": misconception, "parsed": parsed, "unparsed": unparsed})


@instructor_only
def part_regrade(request: HttpRequest, cohort_id: int, slug: str, part_id: int) -> HttpResponse:
    """GET: the dry run (nothing written). POST: apply it, with a reason the learners see."""
    cohort, quiz, part = _quiz_part(request, cohort_id, slug, part_id)
    to = reverse("part_report", args=[cohort.id, quiz.slug, part.id])
    if request.method == "POST":
        form = RegradeForm(request.POST)
        if not form.is_valid():
            return _refused(request, form_errors(form), to)
        try:
            plan, regrade = services.cohort_regrade(cohort=cohort, part=part, actor=request.user, quiz=quiz,
                                                    key_change=part.key_changes.order_by("-changed_at").first(),
                                                    reason=form.cleaned_data["reason"],
                                                    include_overridden=form.cleaned_data["include_overridden"])
        except RegradeError as exc:
            return _refused(request, exc, to)
        if regrade is None:
            checked = plan.answers_checked
            return _done(request, f"Nothing to change: {'the' if checked == 1 else f'all {checked}'} "
                                  f"answer{pluralize(checked)} already {pluralize(checked, 'has,have')} this grade.", to)
        changed, moved = len(plan.changes), len(plan.totals)
        return _done(request, f"Regraded: {changed} answer{pluralize(changed)} changed, {moved} attempt "
                              f"total{pluralize(moved)} moved.", to)
    include = request.GET.get("include_overridden") == "1"
    plan = regrade_plan(part=part, cohort=cohort, include_overridden=include)
    return render(request, "cohorts/part_regrade.html", {
        "cohort": cohort, "quiz": quiz, "part": part, "plan": plan,
        "rows": [(c, plan.totals.get(c.attempt_id)) for c in plan.changes],
        "form": RegradeForm(initial={"include_overridden": include,
                                     "reason": KEY_CORRECTED if part.key_changes.exists() else ""})})


@instructor_only
def grading_queue(request: HttpRequest, cohort_id: int, slug: str) -> HttpResponse:
    """Answers the grader could not decide or could not read, in this quiz's graded attempts by the cohort's
    students, not yet scored by hand; and the scores given by hand so far."""
    cohort = _cohort(request, cohort_id)
    quiz = selectors.cohort_quiz_get(cohort=cohort, slug=slug)
    answers = AttemptAnswer.objects.filter(attempt__quiz=quiz, attempt__status=Attempt.Status.GRADED,
                                           attempt__user__enrolments__cohort=cohort, graded=True)
    waiting = (answers.filter(overridden=False).filter(item_analysis.NEEDS_A_PERSON)
               .select_related("attempt__user", "part__question").order_by("attempt__closed_at", "id"))
    done = (GradeChange.objects.filter(answer__in=answers, regrade__isnull=True)
            .select_related("answer__attempt__user", "answer__part__question", "actor").order_by("-at", "-id"))
    return render(request, "cohorts/grading_queue.html", {
        "cohort": cohort, "quiz": quiz, "waiting": waiting[:QUEUE_SHOWN], "waiting_count": waiting.count(),
        "done": done[:QUEUE_SHOWN]})


@instructor_only
def answer_by_hand(request: HttpRequest, cohort_id: int, answer_id: int) -> HttpResponse:
    """One answer of a cohort's student: the grader's verdict, the key, its history; a score and a comment."""
    cohort = _cohort(request, cohort_id)
    answer = AttemptAnswer.objects.select_related("part__question", "attempt__quiz", "attempt__user").filter(
        pk=answer_id).first()
    if answer is None:
        raise Http404("No such answer.")
    attempt = selectors.cohort_attempt_get(cohort=cohort, attempt_id=answer.attempt_id)  # 404 outside the cohort
    to = reverse("answer_by_hand", args=[cohort.id, answer.id])
    if request.method == "POST":
        form = OverrideForm(request.POST)
        if not form.is_valid():
            return _refused(request, form_errors(form), to)
        try:
            services.cohort_grade_override(cohort=cohort, answer=answer, score=form.cleaned_data["score"],
                                           comment=form.cleaned_data["comment"], actor=request.user)
        except RegradeError as exc:
            return _refused(request, exc, to)
        return _done(request, f"{attempt.user.username}'s answer now scores {form.cleaned_data['score']:g} of "
                              "the part; they see your comment on their review.", to)
    return render(request, "cohorts/answer_by_hand.html", {
        "cohort": cohort, "attempt": attempt, "answer": answer, "part": answer.part,
        "options": attempt_part_options(attempt=attempt, part=answer.part, answer=answer.answer),
        "key": expected_answer(answer.part.spec, params=attempt_params(attempt=attempt, part=answer.part)),
        "changes": answer.grade_changes.select_related("actor", "regrade"),
        "form": OverrideForm(initial={"score": answer.score, "comment": answer.comment})})
