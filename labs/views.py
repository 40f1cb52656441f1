from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from labs.models import Lab
from labs.selectors import submissions_visible_to
from labs.services import SubmissionRejected, submission_create


@login_required
def lab_list(request: HttpRequest) -> HttpResponse:
    return render(request, "labs/lab_list.html", {"labs": Lab.objects.all()})


@login_required
def lab_detail(request: HttpRequest, slug: str) -> HttpResponse:
    lab = get_object_or_404(Lab, slug=slug)
    code = lab.starter
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
    recent = lab.submissions.filter(user=request.user)[:10]
    return render(request, "labs/lab_detail.html", {"lab": lab, "code": code, "recent": recent})


@login_required
def submission_detail(request: HttpRequest, submission_id: int) -> HttpResponse:
    submission = get_object_or_404(submissions_visible_to(request.user).select_related("lab"), id=submission_id)
    template = "labs/_submission_status.html" if request.htmx else "labs/submission_detail.html"
    return render(request, template, {"submission": submission})
