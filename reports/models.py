"""A learner's report of a problem with a question or a drill card, and the staff's answer to it."""

from django.conf import settings
from django.db import models

TEXT_MAX = 2000  # what the learner writes
ANSWER_MAX = 4000  # what the staff write back
FIXED_IN_MAX = 300


class ProblemReport(models.Model):
    """One report. ``snapshot`` is the text the learner saw (title, body, part prompts; a card's front and
    back), ``content_hash`` its SHA-256: the queue shows the snapshot beside the current text when they
    differ. ``question`` is set for a card too when the card has a mirror question (a graded card)."""

    class Where(models.TextChoices):
        QUESTION = "question", "question page"
        REVIEW = "review", "quiz review"
        CARD = "card", "drill card"

    class Status(models.TextChoices):
        OPEN = "open", "open"
        ANSWERED = "answered", "answered"
        FIXED = "fixed", "fixed"
        DECLINED = "declined", "declined"

    reporter = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="problem_reports")
    where = models.CharField(max_length=10, choices=Where.choices)
    question = models.ForeignKey("quizzes.Question", null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="problem_reports")
    part = models.ForeignKey("quizzes.Part", null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="problem_reports", help_text="the part the learner named, if any")
    card = models.ForeignKey("drills.Card", null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="problem_reports")
    attempt = models.ForeignKey("quizzes.Attempt", null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="problem_reports", help_text="the attempt whose review it came from")
    subject = models.CharField(max_length=300, help_text="the question's slug or the card's deck/key, kept if "
                                                         "the row goes")
    text = models.TextField(max_length=TEXT_MAX, help_text="what the learner says is wrong (plain text)")
    snapshot = models.TextField(blank=True, help_text="the question's text as the learner saw it")
    content_hash = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN, db_index=True)
    answer = models.TextField(max_length=ANSWER_MAX, blank=True, help_text="the staff's answer, shown to the learner")
    answered_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="problem_reports_answered")
    answered_at = models.DateTimeField(null=True, blank=True)
    fixed_in = models.CharField(max_length=FIXED_IN_MAX, blank=True,
                                help_text="a commit hash, a docs/errata.md anchor or an http(s) URL")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["reporter", "-created_at"]), models.Index(fields=["status", "created_at"])]

    def __str__(self) -> str:
        return f"#{self.pk} {self.subject} ({self.status})"
