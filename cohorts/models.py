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
