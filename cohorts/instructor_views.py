"""The instructor's workspace: thin views, each one selector read or one service call. Every URL with an id
goes through a selector scoped to the cohorts the user teaches: another instructor's cohort, student,
quiz or attempt is a 404, and a student gets 403 before anything is looked up."""

from __future__ import annotations

import functools

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from cohorts import exports, selectors, services
from cohorts.forms import (
    BulkEnrolForm,
    CloseForm,
    CohortForm,
    ExtensionForm,
    ExtraAttemptsForm,
    MultiplierForm,
    ReopenForm,
    UsernameForm,
    form_errors,
)
from cohorts.item_analysis import BEST, FIRST, HISTOGRAM_BINS, cohort_top_misconceptions, item_stats
from cohorts.models import AuditEntry, Cohort
from cohorts.roles import is_instructor
from content.names import part_label
from labs.analytics import cohort_labs
from labs.selectors import speed_reviews_for
from quizzes.selectors import attempt_items, attempt_time_used
from quizzes.services import accommodations


def instructor_only(view):
    @functools.wraps(view)
    @login_required
    def wrapped(request: HttpRequest, *args, **kwargs):
        if not is_instructor(request.user):
            raise PermissionDenied("Only instructors open the cohort workspace.")
        return view(request, *args, **kwargs)

    return wrapped


def _cohort(request: HttpRequest, cohort_id: int) -> Cohort:
    return selectors.cohort_get(user=request.user, cohort_id=cohort_id)


def _done(request: HttpRequest, text: str, to: str) -> HttpResponse:
    messages.success(request, text)
    return redirect(to)


def _refused(request: HttpRequest, error: Exception | str, to: str) -> HttpResponse:
    messages.error(request, str(error))
    return redirect(to)


# --------------------------------------------------------------------------------------------- cohorts


@instructor_only
def cohort_list(request: HttpRequest) -> HttpResponse:
    return render(request, "cohorts/cohort_list.html", {"overview": selectors.cohorts_overview(user=request.user),
                                                        "speed_reviews": speed_reviews_for(request.user).count()})


@instructor_only
def cohort_new(request: HttpRequest) -> HttpResponse:
    form = CohortForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        cohort = services.cohort_create(name=form.cleaned_data["name"], instructor=request.user)
        return _done(request, f"Cohort “{cohort.name}” created: share the invite code {cohort.invite_code}.",
                     reverse("cohort_roster", args=[cohort.id]))
    return render(request, "cohorts/cohort_new.html", {"form": form})


@instructor_only
def cohort_page(request: HttpRequest, cohort_id: int) -> HttpResponse:
    cohort = _cohort(request, cohort_id)
    view = "latest" if request.GET.get("view") == "latest" else "best"
    sort = request.GET.get("sort", "name")
    at_risk_only = request.GET.get("at_risk") == "1"
    quizzes = selectors.cohort_quizzes(cohort=cohort)
    students = selectors.students_sorted(
        selectors.cohort_students(cohort=cohort, quizzes=quizzes, best=view == "best"), sort)
    shown = [s for s in students if s.risks] if at_risk_only else students
    return render(request, "cohorts/cohort.html", {
        "cohort": cohort, "quizzes": quizzes, "columns": [{"quiz": q, "sort": f"quiz-{q.id}"} for q in quizzes],
        "students": shown, "view": view, "sort": sort, "at_risk_only": at_risk_only, "size": len(students),
        "at_risk": sum(bool(s.risks) for s in students), "labs": cohort_labs(cohort=cohort),
        "top_misconceptions": cohort_top_misconceptions(cohort=cohort),
        "thresholds": {"days": settings.AT_RISK_INACTIVE_DAYS, "score": round(100 * settings.AT_RISK_MEAN_SCORE),
                       "cards": settings.AT_RISK_OVERDUE_CARDS}})


@instructor_only
def cohort_roster(request: HttpRequest, cohort_id: int) -> HttpResponse:
    cohort = _cohort(request, cohort_id)
    students = selectors.cohort_students(cohort=cohort, quizzes=[], best=False)
    return render(request, "cohorts/roster.html", {
        "cohort": cohort, "students": students, "instructors": cohort.instructors.order_by("username"),
        "rename_form": CohortForm(initial={"name": cohort.name}), "instructor_form": UsernameForm(),
        "enrol_form": BulkEnrolForm(), "report": request.session.pop(f"enrol-report-{cohort.id}", None),
        "audit": AuditEntry.objects.filter(cohort=cohort, quiz__isnull=True).select_related("actor", "learner")[:50]})


@instructor_only
@require_POST
def cohort_rename(request: HttpRequest, cohort_id: int) -> HttpResponse:
    cohort, to = _cohort(request, cohort_id), reverse("cohort_roster", args=[cohort_id])
    form = CohortForm(request.POST)
    if not form.is_valid():
        return _refused(request, "A cohort needs a name.", to)
    services.cohort_rename(cohort=cohort, name=form.cleaned_data["name"], actor=request.user,
                           reason=form.cleaned_data["reason"])
    return _done(request, f"The cohort is now called “{cohort.name}”.", to)


@instructor_only
@require_POST
def cohort_rotate_invite(request: HttpRequest, cohort_id: int) -> HttpResponse:
    cohort = services.cohort_rotate_invite(cohort=_cohort(request, cohort_id), actor=request.user,
                                           reason=request.POST.get("reason", ""))
    return _done(request, f"New invite code {cohort.invite_code}; the old one no longer works.",
                 reverse("cohort_roster", args=[cohort_id]))


@instructor_only
@require_POST
def cohort_add_instructor(request: HttpRequest, cohort_id: int) -> HttpResponse:
    cohort, to = _cohort(request, cohort_id), reverse("cohort_roster", args=[cohort_id])
    form = UsernameForm(request.POST)
    if not form.is_valid():
        return _refused(request, "Give the co-instructor's username.", to)
    try:
        user = services.cohort_add_instructor(cohort=cohort, username=form.cleaned_data["username"],
                                              actor=request.user, reason=form.cleaned_data["reason"])
    except services.RosterError as exc:
        return _refused(request, exc, to)
    return _done(request, f"{user.username} now teaches this cohort.", to)


@instructor_only
@require_POST
def cohort_enrol(request: HttpRequest, cohort_id: int) -> HttpResponse:
    cohort, to = _cohort(request, cohort_id), reverse("cohort_roster", args=[cohort_id])
    form = BulkEnrolForm(request.POST, request.FILES)
    if not form.is_valid():
        return _refused(request, " ".join(form.non_field_errors() or ["Nothing to enrol."]), to)
    try:
        report = services.cohort_enrol_bulk(cohort=cohort, text=form.cleaned_data["usernames"],
                                            file_text=form.cleaned_data["file_text"], actor=request.user,
                                            reason=form.cleaned_data["reason"])
    except services.RosterError as exc:
        return _refused(request, exc, to)
    request.session[f"enrol-report-{cohort.id}"] = [vars(line) for line in report]
    enrolled = sum(line.outcome == "enrolled" for line in report)
    return _done(request, f"{enrolled} student{'s' if enrolled != 1 else ''} enrolled; the report is below.", to)


@instructor_only
@require_POST
def cohort_remove_student(request: HttpRequest, cohort_id: int, user_id: int) -> HttpResponse:
    cohort, to = _cohort(request, cohort_id), reverse("cohort_roster", args=[cohort_id])
    student = selectors.cohort_student_get(cohort=cohort, user_id=user_id)
    services.cohort_remove_student(cohort=cohort, student=student, actor=request.user,
                                   reason=request.POST.get("reason", ""))
    return _done(request, f"{student.username} left the cohort; their work is kept.", to)


@instructor_only
@require_POST
def cohort_set_multiplier(request: HttpRequest, cohort_id: int, user_id: int) -> HttpResponse:
    cohort, to = _cohort(request, cohort_id), reverse("cohort_roster", args=[cohort_id])
    student = selectors.cohort_student_get(cohort=cohort, user_id=user_id)
    form = MultiplierForm(request.POST)
    if not form.is_valid():
        return _refused(request, "A time multiplier is a number from 1 to 5.", to)
    services.enrolment_set_multiplier(cohort=cohort, student=student, multiplier=form.cleaned_data["multiplier"],
                                      actor=request.user, reason=form.cleaned_data["reason"])
    return _done(request, f"{student.username}: time limits × {form.cleaned_data['multiplier']:g} on this "
                          "cohort's timed quizzes.", to)


def _csv(rows, filename: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(rows, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@instructor_only
def cohort_export_csv(request: HttpRequest, cohort_id: int) -> StreamingHttpResponse:
    return _csv(exports.cohort_wide_csv(cohort=_cohort(request, cohort_id)), f"cohort-{cohort_id}.csv")


@instructor_only
def cohort_responses_csv(request: HttpRequest, cohort_id: int) -> StreamingHttpResponse:
    return _csv(exports.cohort_responses_csv(cohort=_cohort(request, cohort_id)), f"cohort-{cohort_id}-responses.csv")


# --------------------------------------------------------------------------------------------- quizzes


@instructor_only
def quiz_gradebook(request: HttpRequest, cohort_id: int, slug: str) -> HttpResponse:
    cohort = _cohort(request, cohort_id)
    quiz = selectors.cohort_quiz_get(cohort=cohort, slug=slug)
    n_first, first = item_stats(cohort=cohort, quiz=quiz, which=FIRST)
    n_best, best = item_stats(cohort=cohort, quiz=quiz, which=BEST)
    return render(request, "cohorts/gradebook.html", {
        "cohort": cohort, "quiz": quiz, **selectors.quiz_gradebook(cohort=cohort, quiz=quiz),
        "items": [(p, {b.part_id: b for b in best}.get(p.part_id)) for p in first], "items_n": (n_first, n_best),
        "bins": [b[2] for b in HISTOGRAM_BINS], "facility_low": settings.ITEM_FACILITY_LOW,
        "facility_high": settings.ITEM_FACILITY_HIGH, "undecided_pct": round(100 * settings.ITEM_UNDECIDED_SHARE),
        "items_chart": {"labels": [f"{p.title}, {part_label(p.order)}" for p in first], "bins": [b[2] for b in HISTOGRAM_BINS],
                        "histograms": [p.histogram for p in first]},
        "extension_form": ExtensionForm(cohort=cohort), "attempts_form": ExtraAttemptsForm(cohort=cohort),
        "reopen_form": ReopenForm(), "close_form": CloseForm(), "manages": quiz.cohort_id == cohort.id})


def _gradebook_action(view):
    """A POST on the gradebook: the cohort and the quiz resolved and scoped, the result said on the page."""

    @functools.wraps(view)
    @instructor_only
    @require_POST
    def wrapped(request: HttpRequest, cohort_id: int, slug: str, **kwargs) -> HttpResponse:
        cohort = _cohort(request, cohort_id)
        quiz = selectors.cohort_quiz_get(cohort=cohort, slug=slug)
        to = reverse("quiz_gradebook", args=[cohort.id, quiz.slug])
        try:
            return _done(request, view(request, cohort, quiz, **kwargs), to)
        except accommodations.AccommodationRefused as exc:
            return _refused(request, exc, to)

    return wrapped


def _valid(form):
    if not form.is_valid():
        raise accommodations.AccommodationRefused(form_errors(form))
    return form.cleaned_data


@_gradebook_action
def quiz_extension(request: HttpRequest, cohort: Cohort, quiz) -> str:
    data = _valid(ExtensionForm(request.POST, cohort=cohort))
    accommodations.extension_grant(quiz=quiz, user=data["learner"], minutes=data["minutes"], granted_by=request.user,
                                   reason=data["reason"], cohort=cohort)
    return f"{data['learner'].username} has {data['minutes']:g} more minutes on this quiz."


@_gradebook_action
def quiz_extra_attempts(request: HttpRequest, cohort: Cohort, quiz) -> str:
    data = _valid(ExtraAttemptsForm(request.POST, cohort=cohort))
    accommodations.attempts_add(quiz=quiz, learner=data["learner"], extra=data["extra"], actor=request.user,
                                reason=data["reason"], cohort=cohort)
    return f"{data['learner'].username} has {data['extra']} more attempt{'s' if data['extra'] != 1 else ''}."


def _attempt_of(cohort: Cohort, quiz, attempt_id: int):
    attempt = selectors.cohort_attempt_get(cohort=cohort, attempt_id=attempt_id)
    if attempt.quiz_id != quiz.id:
        raise Http404("No such attempt of this quiz.")
    return attempt


@_gradebook_action
def attempt_reopen(request: HttpRequest, cohort: Cohort, quiz, attempt_id: int) -> str:
    attempt = _attempt_of(cohort, quiz, attempt_id)
    data = _valid(ReopenForm(request.POST))
    accommodations.attempt_reopen(attempt=attempt, minutes=data["minutes"], actor=request.user,
                                  reason=data["reason"], cohort=cohort)
    return f"Attempt {attempt.number} of {attempt.user.username} is open for {data['minutes']:g} minutes."


@_gradebook_action
def attempt_close(request: HttpRequest, cohort: Cohort, quiz, attempt_id: int) -> str:
    attempt = _attempt_of(cohort, quiz, attempt_id)
    data = _valid(CloseForm(request.POST))
    accommodations.attempt_close_now(attempt=attempt, actor=request.user, reason=data["reason"], cohort=cohort)
    return f"Attempt {attempt.number} of {attempt.user.username} is closed and graded."


@instructor_only
def attempt_view(request: HttpRequest, cohort_id: int, attempt_id: int) -> HttpResponse:
    """Read-only: the attempt as its learner saw it, with the keys, whatever the quiz's feedback rule.
    Scoped first (another instructor gets 404 whatever the method), then GET and HEAD only."""
    cohort = _cohort(request, cohort_id)
    attempt = selectors.cohort_attempt_get(cohort=cohort, attempt_id=attempt_id)
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    return render(request, "cohorts/attempt.html", {
        "cohort": cohort, "attempt": attempt, "time_used": attempt_time_used(attempt=attempt),
        "items": attempt_items(attempt=attempt, with_keys=True),
        "audit": AuditEntry.objects.filter(attempt=attempt, cohort=cohort).select_related("actor")})
