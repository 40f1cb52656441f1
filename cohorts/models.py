import secrets

from django.conf import settings
from django.db import models


def new_invite_code() -> str:
    # 10 characters from a 32-letter alphabet without look-alikes: easy to read out in a class.
    alphabet = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
    return "".join(secrets.choice(alphabet) for _ in range(10))


class Cohort(models.Model):
    name = models.CharField(max_length=200)
    invite_code = models.CharField(max_length=16, unique=True, default=new_invite_code)
    instructors = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="teaching_cohorts")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class Enrolment(models.Model):
    cohort = models.ForeignKey(Cohort, on_delete=models.CASCADE, related_name="enrolments")
    student = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="enrolments")
    joined_at = models.DateTimeField(auto_now_add=True)
    time_multiplier = models.FloatField(default=1.0, help_text="applied to the time limit of every timed quiz "
                                                               "of this cohort (an accommodation, e.g. 1.5)")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["cohort", "student"], name="one_enrolment_per_cohort")]

    def __str__(self) -> str:
        return f"{self.student} in {self.cohort}"


def api_token_default_expiry():
    import datetime as dt

    from django.utils import timezone

    return timezone.now() + dt.timedelta(days=30)


class ApiToken(models.Model):
    """A bearer token for the API and the ``quantprep`` CLI (see cohorts/tokens.py, docs/cli.md). Only the
    SHA-256 digest of the token is stored, with a short prefix to tell tokens apart on a page."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    prefix = models.CharField(max_length=16, db_index=True)
    digest = models.CharField(max_length=64, unique=True, help_text="SHA-256 of the token, hex")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(default=api_token_default_expiry)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"


class AuditEntry(models.Model):
    """One instructor action that changes what a learner may do or how they are graded: who, when, what,
    why. Written by the service that makes the change, in its transaction; shown on the gradebook."""

    class Action(models.TextChoices):
        COHORT_CREATED = "cohort_created", "created the cohort"
        COHORT_RENAMED = "cohort_renamed", "renamed the cohort"
        INVITE_ROTATED = "invite_rotated", "rotated the invite code"
        INSTRUCTOR_ADDED = "instructor_added", "added a co-instructor"
        STUDENTS_ENROLLED = "students_enrolled", "enrolled students"
        STUDENT_REMOVED = "student_removed", "removed a student"
        TIME_MULTIPLIER = "time_multiplier", "set a time multiplier"
        EXTENSION = "extension", "granted extra time"
        ATTEMPTS_ADDED = "attempts_added", "added attempts"
        ATTEMPT_REOPENED = "attempt_reopened", "reopened an attempt"
        ATTEMPT_CLOSED = "attempt_closed", "closed an attempt"
        QUIZ_CREATED = "quiz_created", "created a quiz"
        QUIZ_EDITED = "quiz_edited", "edited a quiz"
        QUIZ_DUPLICATED = "quiz_duplicated", "duplicated a quiz"
        QUIZ_ARCHIVED = "quiz_archived", "archived a quiz"
        QUIZ_DELETED = "quiz_deleted", "deleted a quiz"
        ANSWERS_REGRADED = "answers_regraded", "regraded a part"
        GRADE_OVERRIDDEN = "grade_overridden", "scored an answer by hand"
        SUBMISSION_OVERRIDDEN = "submission_scored", "overrode a lab score"

    cohort = models.ForeignKey(Cohort, null=True, blank=True, on_delete=models.CASCADE, related_name="audit")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    at = models.DateTimeField(auto_now_add=True, db_index=True)
    action = models.CharField(max_length=20, choices=Action.choices)
    learner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+")
    quiz = models.ForeignKey("quizzes.Quiz", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    attempt = models.ForeignKey("quizzes.Attempt", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    detail = models.JSONField(default=dict, blank=True)
    reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-at"]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.actor} {self.get_action_display()} at {self.at:%Y-%m-%d %H:%M}" if self.at else self.action
