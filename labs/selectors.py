"""Reads for the labs pages. A learner sees only their own submissions; an instructor also sees those
of the students in the cohorts they teach."""

from django.contrib.auth.models import User
from django.db.models import QuerySet

from labs.models import Lab, LabDraft, Submission


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


def lab_editor_code(*, user: User, lab: Lab) -> tuple[str, LabDraft | None]:
    """What the lab page's editor opens with, and the learner's draft when that is what it opens with.

    The newest of the learner's own work wins: their draft (autosaved as they type) or their last
    submission's code, whichever was written last, and the starter only when they have neither. The draft
    is normally the newer one, since the page saves it on every pause; a submission is newer only when it
    came another way (a file upload, the API, another tab), and then it is what they last meant to keep.
    "Reset to starter" saves the starter as the draft, so it wins after a reset."""
    draft = LabDraft.objects.filter(user=user, lab=lab).first()
    last = Submission.objects.filter(user=user, lab=lab).order_by("-created_at").only("code", "created_at").first()
    if draft is not None and (last is None or draft.updated_at >= last.created_at):
        return draft.code, draft
    if last is not None:
        return last.code, None
    return lab.starter, None
