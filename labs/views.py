from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from cohorts.roles import is_instructor
from labs.models import Lab
from labs.selectors import lab_editor_code, speed_reviews_for, submissions_visible_to
from labs.services import (
    DraftTooLarge,
    SubmissionRejected,
    TooManySubmissions,
    draft_save,
    queue_estimate,
    submission_create,
    submission_speed_review,
)


@login_required
def lab_list(request: HttpRequest) -> HttpResponse:
    return render(request, "labs/lab_list.html", {"labs": Lab.objects.all()})


@login_required
def lab_detail(request: HttpRequest, slug: str) -> HttpResponse:
    """The lab and its editor, opened on the learner's own newest work (see ``lab_editor_code``); a refused
    submission comes back with the code as posted."""
    lab = get_object_or_404(Lab, slug=slug)
    code, draft = lab_editor_code(user=request.user, lab=lab)
    status = 200
    if request.method == "POST":
        code = request.POST.get("code", "")
        upload = request.FILES.get("file")
        if upload is not None:
            code = upload.read(300 * 1024).decode("utf-8", "replace")
        try:
            submission = submission_create(user=request.user, lab=lab, code=code)
            return redirect("labs:submission", submission_id=submission.id)
        except SubmissionRejected as exc:
            messages.error(request, str(exc))
            status = 429 if isinstance(exc, TooManySubmissions) else 400
    recent = lab.submissions.filter(user=request.user)[:10]
    return render(request, "labs/lab_detail.html", {"lab": lab, "code": code, "recent": recent, "draft": draft},
                  status=status)


def _hh_mm(when) -> str:
    return timezone.localtime(when).strftime("%H:%M")


@login_required
@require_POST
def draft_autosave(request: HttpRequest, slug: str) -> JsonResponse:
    """The lab page's autosave: the learner's own draft of this lab, nobody else's (the row is keyed by the
    signed-in user). JSON {saved, saved_at, saved_hhmm} or {saved: false, error} with 413 past the size cap,
    400 without a code field."""
    lab = get_object_or_404(Lab, slug=slug)
    if "code" not in request.POST:
        return JsonResponse({"saved": False, "error": "Not saved: no code was sent."}, status=400)
    try:
        draft = draft_save(user=request.user, lab=lab, code=request.POST["code"])
    except DraftTooLarge as exc:
        return JsonResponse({"saved": False, "error": str(exc)}, status=413)
    return JsonResponse({"saved": True, "saved_at": draft.updated_at.isoformat(),
                         "saved_hhmm": _hh_mm(draft.updated_at)})


@login_required
def submission_detail(request: HttpRequest, submission_id: int) -> HttpResponse:
    submission = get_object_or_404(submissions_visible_to(request.user).select_related("lab"), id=submission_id)
    template = "labs/_submission_status.html" if request.htmx else "labs/submission_detail.html"
    reviewable = is_instructor(request.user) and speed_reviews_for(request.user).filter(id=submission.id).exists()
    rerun = submission.reruns.select_related("rerun").first()  # the latest: its grade before that re-run
    return render(request, template, {"submission": submission, "reviewable": reviewable, "rerun": rerun,
                                      "queue": queue_estimate(submission=submission)})


@login_required
def speed_reviews(request: HttpRequest) -> HttpResponse:
    if not is_instructor(request.user):
        raise PermissionDenied("Only instructors review speedups.")
    return render(request, "labs/speed_reviews.html", {"submissions": speed_reviews_for(request.user)})


@login_required
@require_POST
def speed_review(request: HttpRequest, submission_id: int) -> HttpResponse:
    if not is_instructor(request.user):
        raise PermissionDenied("Only instructors review speedups.")
    submission = get_object_or_404(speed_reviews_for(request.user), id=submission_id)
    accept = request.POST.get("decision") == "clear"
    try:
        submission_speed_review(submission=submission, reviewer=request.user, accept=accept)
        messages.success(request, f"Submission {submission.id}: speedup {'cleared' if accept else 'rejected'}.")
    except SubmissionRejected as exc:
        messages.error(request, str(exc))
    return redirect("labs:speed_reviews")
