"""Quiz and attempt pages: thin, each one a selector read or one service call."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from cohorts.roles import is_instructor
from cohorts.selectors import cohorts_taught_by
from config.limits import answer_check_limited
from quizzes import selectors
from quizzes.forms import QuizForm, answer_from_post
from quizzes.models import Attempt, Part
from quizzes.services.attempts import (
    AttemptClosed,
    QuizUnavailable,
    answer_check,
    answer_save,
    attempt_expire_if_due,
    attempt_start,
    attempt_submit,
)
from quizzes.services.drill_quizzes import TAG_QUIZ_PREFIX, tag_quiz_get
from quizzes.services.quizzes import QuizRefused, quiz_archive, quiz_delete, quiz_duplicate, quiz_save


@login_required
def quiz_list(request: HttpRequest) -> HttpResponse:
    quizzes = [selectors.quiz_summary(quiz=q, user=request.user) for q in selectors.quizzes_visible(user=request.user)
               if not (q.builtin and q.slug.startswith(TAG_QUIZ_PREFIX)) and q.archived_at is None]
    return render(request, "quizzes/quiz_list.html", {"quizzes": quizzes})


@login_required
def quiz_detail(request: HttpRequest, slug: str) -> HttpResponse:
    quiz = selectors.quiz_get(user=request.user, slug=slug)
    attempts = list(Attempt.objects.filter(quiz=quiz, user=request.user))
    for attempt in attempts:
        attempt.score_visible = selectors.feedback_visible(attempt=attempt)
    taught = cohorts_taught_by(request.user)
    gradebooks = taught.filter(pk=quiz.cohort_id) if quiz.cohort_id else taught
    return render(request, "quizzes/quiz_detail.html", {
        **selectors.quiz_summary(quiz=quiz, user=request.user), "attempts": attempts, "gradebooks": gradebooks,
        "manages": selectors.quizzes_managed(user=request.user).filter(pk=quiz.pk).exists()})


@login_required
@require_POST
def quiz_start(request: HttpRequest, slug: str) -> HttpResponse:
    quiz = selectors.quiz_get(user=request.user, slug=slug)
    practice = request.POST.get("mode") == "practice"
    try:
        attempt = attempt_start(user=request.user, quiz=quiz, practice=practice)
    except QuizUnavailable as exc:
        messages.error(request, str(exc))
        return redirect("quizzes:quiz", slug=slug)
    if practice and not attempt.practice:
        messages.info(request, "Your timed attempt is still running: finish it before practising this quiz.")
    return redirect("quizzes:attempt", attempt_id=attempt.id)


@login_required
def drill_tag_quiz(request: HttpRequest, tag: str) -> HttpResponse:
    quiz = tag_quiz_get(tag=tag)
    if quiz is None:
        raise Http404("No drill card with a graded answer has this tag.")
    return redirect("quizzes:quiz", slug=quiz.slug)


@login_required
def attempt_take(request: HttpRequest, attempt_id: int) -> HttpResponse:
    attempt = attempt_expire_if_due(attempt=selectors.attempt_get(user=request.user, attempt_id=attempt_id))
    if attempt.status != Attempt.Status.OPEN:
        if attempt.closed_by == Attempt.ClosedBy.DEADLINE:
            messages.info(request, "Time was up: the attempt was submitted at its deadline with every answer "
                                   "saved in time.")
        return redirect("quizzes:review", attempt_id=attempt.id)
    remaining = None if attempt.deadline is None else (attempt.deadline - timezone.now()).total_seconds()
    return render(request, "quizzes/attempt_take.html", {
        "attempt": attempt, "items": selectors.attempt_items(attempt=attempt, with_keys=attempt.practice),
        "remaining_ms": None if remaining is None else max(0, int(remaining * 1000))})


@login_required
@require_POST
def answer_autosave(request: HttpRequest, attempt_id: int, part_id: int) -> JsonResponse:
    """The page's autosave: JSON {saved, saved_at, read_as, as_text, error, closed}; as_text is a formula as read,
    in plain text, for the page's switch from the math editor."""
    attempt = selectors.attempt_get(user=request.user, attempt_id=attempt_id)
    try:
        row, preview = answer_save(attempt=attempt, part_id=part_id, answer=answer_from_post(request))
    except Part.DoesNotExist:
        raise Http404("No such part in this attempt.") from None
    except AttemptClosed as exc:
        return JsonResponse({"saved": False, "closed": True, "error": str(exc), "saved_at": None, "read_as": None,
                             "review_url": reverse("quizzes:review", args=[attempt.id])}, status=409)
    return JsonResponse({"saved": True, "closed": False, "saved_at": row.saved_at.isoformat(),
                         "read_as": preview.parsed, "as_text": preview.text, "error": preview.error})


@login_required
@require_POST
def answer_practice_check(request: HttpRequest, attempt_id: int, part_id: int) -> HttpResponse:
    attempt = selectors.attempt_get(user=request.user, attempt_id=attempt_id)
    if (refused := answer_check_limited(request)) is not None:
        return refused
    try:
        row, result = answer_check(attempt=attempt, part_id=part_id, answer=answer_from_post(request))
    except Part.DoesNotExist:
        raise Http404("No such part in this attempt.") from None
    except AttemptClosed as exc:
        return HttpResponse(format_html('<p class="verdict invalid" role="status">{}</p>', exc), status=409)
    item = next(r for i in selectors.attempt_items(attempt=attempt, with_keys=True) for r in i["parts"]
                if r["part"].id == part_id)
    return render(request, "_verdict.html", {"result": result, "tries": row.tries, "key": item["key"],
                                             "options": item["options"], "explanation": item["part"].explanation,
                                             "kind": item["part"].kind})


@login_required
@require_POST
def attempt_submit_view(request: HttpRequest, attempt_id: int) -> HttpResponse:
    """Saves every answer the form carries (nothing typed is lost to the autosave's debounce), then submits."""
    attempt = selectors.attempt_get(user=request.user, attempt_id=attempt_id)
    refused = False
    for item in attempt.layout:
        for pid in item["parts"]:
            name = f"part-{pid}"
            if name in request.POST:
                try:
                    answer_save(attempt=attempt, part_id=pid, answer=answer_from_post(request, name))
                except AttemptClosed:
                    refused = True
    attempt = attempt_submit(attempt=attempt)
    if refused and attempt.closed_by == Attempt.ClosedBy.DEADLINE:
        messages.info(request, "Time was up before you submitted: the answers saved before the deadline count.")
    return redirect("quizzes:review", attempt_id=attempt.id)


@login_required
def attempt_review(request: HttpRequest, attempt_id: int) -> HttpResponse:
    attempt = attempt_expire_if_due(attempt=selectors.attempt_get(user=request.user, attempt_id=attempt_id))
    if attempt.status == Attempt.Status.OPEN:
        return redirect("quizzes:attempt", attempt_id=attempt.id)
    visible = selectors.feedback_visible(attempt=attempt)
    return render(request, "quizzes/attempt_review.html", {
        "attempt": attempt, "feedback_visible": visible, "time_used": selectors.attempt_time_used(attempt=attempt),
        "items": selectors.attempt_items(attempt=attempt, with_keys=visible)})


@login_required
def history(request: HttpRequest) -> HttpResponse:
    return render(request, "quizzes/history.html", selectors.history_for(user=request.user))


@login_required
def quiz_create(request: HttpRequest) -> HttpResponse:
    if not is_instructor(request.user):
        raise PermissionDenied("Only instructors create quizzes.")
    form = QuizForm(request.POST or None, user=request.user, initial={"cohort": request.GET.get("cohort")})
    if request.method == "POST" and form.is_valid():
        quiz = quiz_save(quiz=form.save(commit=False), actor=request.user)
        messages.success(request, f"Quiz “{quiz.title}” created.")
        return redirect("quizzes:quiz", slug=quiz.slug)
    return render(request, "quizzes/quiz_form.html", {"form": form})


@login_required
def quiz_edit(request: HttpRequest, slug: str) -> HttpResponse:
    quiz = selectors.quiz_managed(user=request.user, slug=slug)
    form = QuizForm(request.POST or None, instance=quiz, user=request.user)
    if request.method == "POST" and form.is_valid():
        quiz_save(quiz=form.save(commit=False), actor=request.user)
        messages.success(request, f"Quiz “{quiz.title}” saved; attempts already started keep their questions.")
        return redirect("quizzes:quiz", slug=quiz.slug)
    return render(request, "quizzes/quiz_form.html", {"form": form, "quiz": quiz})


@login_required
@require_POST
def quiz_duplicate_view(request: HttpRequest, slug: str) -> HttpResponse:
    copy = quiz_duplicate(quiz=selectors.quiz_managed(user=request.user, slug=slug), actor=request.user)
    messages.success(request, f"Copied as “{copy.title}”: edit it below.")
    return redirect("quizzes:edit", slug=copy.slug)


@login_required
@require_POST
def quiz_archive_view(request: HttpRequest, slug: str) -> HttpResponse:
    quiz = selectors.quiz_managed(user=request.user, slug=slug)
    archived = request.POST.get("archived", "1") == "1"
    quiz_archive(quiz=quiz, actor=request.user, archived=archived)
    messages.success(request, f"“{quiz.title}” {'archived: hidden from learners' if archived else 'restored'}.")
    return redirect("quizzes:quiz", slug=quiz.slug)


@login_required
@require_POST
def quiz_delete_view(request: HttpRequest, slug: str) -> HttpResponse:
    quiz = selectors.quiz_managed(user=request.user, slug=slug)
    try:
        quiz_delete(quiz=quiz, actor=request.user)
    except QuizRefused as exc:
        messages.error(request, str(exc))
        return redirect("quizzes:quiz", slug=slug)
    messages.success(request, f"“{quiz.title}” deleted.")
    return redirect("quizzes:quizzes")
