"""The instructor's analytics of one lab for one cohort, and one lab submission of a cohort's student with
the instructor's score override. Scoped like the rest of the workspace: a student gets 403 before anything
is looked up, another instructor's cohort is a 404, and so is an unknown lab or a submission by someone who
is not enrolled in the cohort."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, render
from django.urls import reverse

from cohorts import selectors, services
from cohorts.forms import SubmissionOverrideForm, form_errors
from cohorts.instructor_views import _cohort, _done, _refused, instructor_only
from labs.analytics import lab_cohort_analytics
from labs.grading.report import timing_rows
from labs.models import Lab
from labs.services import SubmissionRejected


@instructor_only
def cohort_lab(request: HttpRequest, cohort_id: int, lab_slug: str) -> HttpResponse:
    cohort = _cohort(request, cohort_id)
    lab = get_object_or_404(Lab.objects.only("id", "slug", "title"), slug=lab_slug)
    return render(request, "cohorts/lab.html", {"cohort": cohort, "lab": lab,
                                                 **lab_cohort_analytics(cohort=cohort, lab=lab)})


@instructor_only
def cohort_submission(request: HttpRequest, cohort_id: int, submission_id: int) -> HttpResponse:
    """Read-only but for the score override: scoped first (404 whatever the method), then GET or POST."""
    cohort = _cohort(request, cohort_id)
    submission = selectors.cohort_submission_get(cohort=cohort, submission_id=submission_id)
    to = reverse("cohort_submission", args=[cohort.id, submission.id])
    if request.method == "POST":
        form = SubmissionOverrideForm(request.POST)
        if not form.is_valid():
            return _refused(request, form_errors(form), to)
        data = form.cleaned_data
        score = None if data["clear"] else data["score"]
        try:
            services.cohort_submission_override(cohort=cohort, submission=submission, score=score,
                                                reason=data["reason"], actor=request.user)
        except SubmissionRejected as exc:
            return _refused(request, exc, to)
        return _done(request, f"{submission.user.username}'s score on {submission.lab.title} is "
                              + (f"now {score:g} (set by you)." if score is not None else "the grader's again."), to)
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD", "POST"])
    return render(request, "cohorts/submission.html", {
        "cohort": cohort, "submission": submission,
        "overridden_here": selectors.submission_override_shown(cohort=cohort, submission=submission,
                                                               user=request.user),
        "audit": selectors.submission_override_history(cohort=cohort, submission=submission),
        "timings": timing_rows((submission.result or {}).get("timings") or {}),
        "form": SubmissionOverrideForm(initial={"score": submission.score_override})})
