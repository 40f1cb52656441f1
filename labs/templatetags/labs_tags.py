"""Template filters for the lab pages."""

from django import template

from labs.feedback import grading_progress, report_feedback, speed_feedback
from labs.grading.report import Verdict
from labs.models import Submission

register = template.Library()


@register.filter
def duration_words(seconds: float) -> str:
    """An estimate in words a learner reads at a glance: "40 s", "3 min", "1 h 20 min" (never "0 s")."""
    seconds = max(float(seconds), 0.0)
    if seconds < 90:
        return f"{max(5, round(seconds / 5) * 5)} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h" + (f" {minutes % 60} min" if minutes % 60 else "")


@register.filter
def verdict_words(value: str) -> str:
    """A stored verdict key in words: "wrong_answer" -> "Wrong Answer" (an unknown key as it is)."""
    try:
        return Verdict(value).label
    except ValueError:
        return value


@register.filter
def status_words(value: str) -> str:
    """A stored submission status in words: "queued" -> "Queued" (an unknown one as it is)."""
    try:
        return Submission.Status(value).label
    except ValueError:
        return value


@register.simple_tag
def submission_progress_bar(submission) -> dict:
    """The progress bar of a submission being graded (labs.feedback.grading_progress)."""
    return grading_progress(status=submission.status, progress=submission.progress, held=submission.held)


@register.simple_tag
def submission_feedback(submission) -> dict | None:
    """A graded submission's error summary and case table (labs.feedback.report_feedback)."""
    return report_feedback(submission.result)


@register.simple_tag
def submission_speed(submission) -> dict | None:
    """An accepted submission's speedup and speed points, explained (labs.feedback.speed_feedback)."""
    return speed_feedback(verdict=submission.verdict, result=submission.result, config=submission.lab.config,
                          speed_review=submission.speed_review)
