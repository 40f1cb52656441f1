"""Reads for the instructor's pages: only the cohorts an instructor teaches."""

from django.contrib.auth.models import User

from cohorts.models import Cohort
from labs.models import Submission
from quizzes.models import Attempt, Response


def cohorts_taught_by(user: User):
    return Cohort.objects.filter(instructors=user).prefetch_related("enrolments__student")


def cohort_student_rows(*, cohort: Cohort) -> list[dict]:
    """Each student with their latest lab verdict, answer and quiz attempt, in three queries per cohort."""
    students = [e.student for e in cohort.enrolments.select_related("student").order_by("student__username")]
    ids = [s.id for s in students]
    latest_submission, latest_response = {}, {}
    for sub in Submission.objects.filter(user_id__in=ids).select_related("lab").order_by("user_id", "-created_at"):
        latest_submission.setdefault(sub.user_id, sub)
    for resp in (Response.objects.filter(user_id__in=ids).select_related("part__question")
                 .order_by("user_id", "-created_at")):
        latest_response.setdefault(resp.user_id, resp)
    latest_attempt = {}
    for attempt in Attempt.objects.filter(user_id__in=ids).select_related("quiz").order_by("user_id", "-started_at"):
        latest_attempt.setdefault(attempt.user_id, attempt)
    return [{"student": s, "submission": latest_submission.get(s.id), "response": latest_response.get(s.id),
             "attempt": latest_attempt.get(s.id)} for s in students]
