"""Report pages: thin, each one selector read or one service call. Learners report from a question page, a
quiz review or a drill card and read their own reports; instructors and content authors work the queue."""

from __future__ import annotations

import functools

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from config.limits import limit_hit
from content.reader import card_question_slug
from drills.models import Card
from quizzes.models import Question
from quizzes.selectors import attempt_get, bank_hidden_slugs
from reports import selectors
from reports.forms import ReportForm, RespondForm
from reports.models import ProblemReport
from reports.roles import is_report_staff
from reports.services import ReportRefused, report_create, report_respond


def staff_only(view):
    @functools.wraps(view)
    @login_required
    def wrapped(request: HttpRequest, *args, **kwargs):
        if not is_report_staff(request.user):
            raise PermissionDenied("Only instructors and content authors work the report queue.")
        return view(request, *args, **kwargs)

    return wrapped


# ----------------------------------------------------------------------------- learners


def _report_form(request: HttpRequest, *, where: str, back: str, title: str, parts=(), question=None, card=None,
                 attempt=None) -> HttpResponse:
    form = ReportForm(request.POST or None, parts=parts)
    status = 200
    if request.method == "POST" and form.is_valid():
        retry = limit_hit(key=f"report:{request.user.pk}", limit=settings.PROBLEM_REPORTS_PER_HOUR, window_s=3600)
        if retry is not None:
            form.add_error(None, f"That is more than {settings.PROBLEM_REPORTS_PER_HOUR} reports in an hour. "
                                 f"Try again in {retry // 60 + 1} minutes; what you wrote is still here.")
            status = 429
        else:
            try:
                report = report_create(reporter=request.user, where=where, text=form.cleaned_data["text"],
                                       question=question, card=card, part=form.chosen_part(), attempt=attempt)
            except ReportRefused as exc:
                form.add_error(None, str(exc))
                status = 400
            else:
                messages.success(request, "Thank you: your report was sent. Instructors and content authors read "
                                          "it, and their answer appears here and on “My reports”.")
                return redirect("reports:detail", report_id=report.id)
    elif request.method == "POST":
        status = 400
    response = render(request, "reports/report_form.html", {"form": form, "title": title, "back": back,
                                                             "question": question, "card": card}, status=status)
    if status == 429:
        response["Retry-After"] = str(retry)
    return response


@login_required
def report_question(request: HttpRequest, slug: str) -> HttpResponse:
    if slug in bank_hidden_slugs(user=request.user):
        raise Http404("No such question.")
    question = get_object_or_404(Question, slug=slug)
    return _report_form(request, where=ProblemReport.Where.QUESTION, question=question,
                        parts=list(question.parts.all()), title=question.title,
                        back=reverse("quizzes:detail", args=[slug]))


@login_required
def report_review(request: HttpRequest, attempt_id: int, question_id: int) -> HttpResponse:
    attempt = attempt_get(user=request.user, attempt_id=attempt_id)
    item = next((i for i in attempt.layout if i["question"] == question_id), None)
    if item is None:
        raise Http404("No such question in this attempt.")
    question = get_object_or_404(Question, pk=question_id)
    parts = list(question.parts.filter(id__in=item["parts"]))
    return _report_form(request, where=ProblemReport.Where.REVIEW, question=question, parts=parts, attempt=attempt,
                        title=question.title,
                        back=reverse("quizzes:review", args=[attempt.id]) + f"#review-q-{question.id}")


@login_required
def report_card(request: HttpRequest, card_id: int) -> HttpResponse:
    card = get_object_or_404(Card.objects.select_related("deck"), pk=card_id)
    mirror = Question.objects.filter(slug=card_question_slug(card)).first()
    return _report_form(request, where=ProblemReport.Where.CARD, card=card, question=mirror,
                        title=f"A drill card of “{card.deck.title}”",
                        back=reverse("drills:review") + f"?deck={card.deck.slug}")


@login_required
def my_reports(request: HttpRequest) -> HttpResponse:
    rows = selectors.learner_rows(user=request.user, reports=selectors.reports_of(user=request.user))
    return render(request, "reports/my_reports.html", {"rows": rows})


@login_required
def report_detail(request: HttpRequest, report_id: int) -> HttpResponse:
    report = selectors.report_of(user=request.user, report_id=report_id)
    return render(request, "reports/report_detail.html",
                  {"row": selectors.learner_rows(user=request.user, reports=[report])[0]})


# ----------------------------------------------------------------------------- staff


@staff_only
def report_queue(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    status = status if status in ProblemReport.Status.values else ""
    page = Paginator(selectors.queue(status=status), 25).get_page(request.GET.get("page"))
    return render(request, "reports/queue.html", {
        "views": [selectors.staff_view(r) for r in page], "page": page, "status": status,
        "counts": selectors.queue_counts(), "statuses": ProblemReport.Status.choices, "form": RespondForm()})


@staff_only
def report_staff(request: HttpRequest, report_id: int) -> HttpResponse:
    """One report in the queue (GET), and the staff's answer to it (POST), back to where it was sent from."""
    report = get_object_or_404(selectors.queue(), pk=report_id)
    form = RespondForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            try:
                report_respond(report=report, actor=request.user, **form.cleaned_data)
            except ReportRefused as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, f"Report #{report.id} on {report.subject}: "
                                          f"{report.get_status_display()}. The learner sees it on their reports.")
                back = request.POST.get("next", "")
                if not back.startswith("/reports/queue/"):  # only back into the queue, never elsewhere
                    back = reverse("reports:queue")
                return redirect(back + f"#report-{report.id}")
        return render(request, "reports/report_staff.html", {"view": selectors.staff_view(report), "form": form},
                      status=400)
    return render(request, "reports/report_staff.html", {"view": selectors.staff_view(report), "form": form})
