"""The instructor's analytics of one lab for one cohort. Scoped like the rest of the workspace: a student
gets 403 before anything is looked up, another instructor's cohort is a 404, and so is an unknown lab."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from cohorts.instructor_views import _cohort, instructor_only
from labs.analytics import lab_cohort_analytics
from labs.models import Lab


@instructor_only
def cohort_lab(request: HttpRequest, cohort_id: int, lab_slug: str) -> HttpResponse:
    cohort = _cohort(request, cohort_id)
    lab = get_object_or_404(Lab.objects.only("id", "slug", "title"), slug=lab_slug)
    return render(request, "cohorts/lab.html", {"cohort": cohort, "lab": lab,
                                                 **lab_cohort_analytics(cohort=cohort, lab=lab)})
