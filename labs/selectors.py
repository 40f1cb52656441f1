"""Reads for the labs pages. A learner sees only their own submissions; an instructor also sees those
of the students in the cohorts they teach."""

from django.contrib.auth.models import User
from django.db.models import QuerySet

from labs.models import Submission


def submissions_visible_to(user: User) -> QuerySet[Submission]:
    if user.is_superuser:
        return Submission.objects.all()
    taught = User.objects.filter(enrolments__cohort__instructors=user)
    return Submission.objects.filter(user=user) | Submission.objects.filter(user__in=taught)


def speed_reviews_for(user: User) -> QuerySet[Submission]:
    """Speedups above their lab's plausible ceiling that this instructor may clear: their students'
    (everyone's for a superuser), never their own."""
    return (submissions_visible_to(user).exclude(user=user)
            .filter(speed_review=Submission.SpeedReview.NEEDED).select_related("lab", "user").order_by("created_at"))
