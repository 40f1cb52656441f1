from django.conf import settings
from django.db import models

from labs.grading.report import Verdict


class Lab(models.Model):
    """A coding lab, loaded from ``fixtures/labs/<slug>/`` (see docs/labs.md)."""

    slug = models.SlugField(max_length=80, unique=True)
    title = models.CharField(max_length=200)
    summary = models.CharField(max_length=400, blank=True)
    statement = models.TextField(help_text="Markdown with LaTeX")
    starter = models.TextField()
    config = models.JSONField(default=dict, help_text="lab.toml")
    cases = models.JSONField(default=dict, help_text="cases.yml")
    content_hash = models.CharField(max_length=64, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug


class Submission(models.Model):
    """The source of truth for one graded run: the queue only carries its id (delivery is at least
    once, so grading claims the row with a conditional update before doing anything)."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        PREPARING = "preparing"
        RUNNING = "running"
        SCORING = "scoring"
        DONE = "done"

    Verdict = Verdict  # one list of verdicts: the grading core's

    class SpeedReview(models.TextChoices):
        """A speedup above the lab's plausible ceiling waits for an instructor before it earns points."""

        NONE = "", "not needed"
        NEEDED = "needed", "needs review"
        CLEARED = "cleared", "cleared"
        REJECTED = "rejected", "rejected"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="submissions")
    lab = models.ForeignKey(Lab, on_delete=models.CASCADE, related_name="submissions")
    code = models.TextField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED, db_index=True)
    progress = models.CharField(max_length=200, blank=True)
    verdict = models.CharField(max_length=16, choices=[(v.value, v.label) for v in Verdict], blank=True)
    score = models.FloatField(null=True, blank=True)
    result = models.JSONField(default=dict, blank=True)
    backend = models.CharField(max_length=20, blank=True)
    attempts = models.PositiveIntegerField(default=0, help_text="grading attempts (internal errors retry)")
    speed_review = models.CharField(max_length=8, choices=SpeedReview.choices, blank=True, db_index=True)
    held = models.BooleanField(default=False, help_text="queued behind the learner's submission being graded: "
                                                        "sent to the workers when that one is done")
    reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="speed_reviews")
    reviewed_at = models.DateTimeField(null=True, blank=True)
    # An instructor's score, beside the grader's: ``score`` and ``verdict`` stay as the grader left them.
    score_override = models.FloatField(null=True, blank=True, help_text="an instructor's score, 0 to 100; none: "
                                                                        "the grader's score counts")
    override_reason = models.CharField(max_length=300, blank=True)
    overridden_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                      related_name="+")
    overridden_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "lab", "-created_at"])]

    def __str__(self) -> str:
        return f"submission {self.id} ({self.lab_id}, {self.status})"

    @property
    def is_done(self) -> bool:
        return self.status == self.Status.DONE

    @property
    def effective_score(self) -> float | None:
        """The score that counts for the learner: the instructor's when set, else the grader's."""
        return self.score_override if self.score_override is not None else self.score


class LabRerun(models.Model):
    """One re-run of a lab's finished submissions after its checker, cases or reference changed: who, when,
    why, and the lab content it re-ran them against (a second run against the same content finds nothing)."""

    lab = models.ForeignKey(Lab, on_delete=models.CASCADE, related_name="reruns")
    content_hash = models.CharField(max_length=64)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+", help_text="empty: run from a shell")
    reason = models.CharField(max_length=300)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"re-run of {self.lab_id} at {self.at:%Y-%m-%d %H:%M}" if self.at else f"re-run of {self.lab_id}"


class SubmissionRerun(models.Model):
    """A submission's grade before a re-run; the learner's page shows it beside the new one."""

    rerun = models.ForeignKey(LabRerun, on_delete=models.CASCADE, related_name="submissions")
    submission = models.ForeignKey(Submission, on_delete=models.CASCADE, related_name="reruns")
    old_verdict = models.CharField(max_length=16, blank=True)
    old_score = models.FloatField(null=True, blank=True)
    old_result = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [models.UniqueConstraint(fields=["rerun", "submission"], name="one_rerun_row_per_submission")]

    def __str__(self) -> str:
        return f"{self.submission_id} before re-run {self.rerun_id}: {self.old_verdict}"


class WorkerHeartbeat(models.Model):
    """What each grading worker last said about itself: which sandbox backend runs the submissions it
    takes. The pages' banner reads these rows; the web process never asks Docker."""

    hostname = models.CharField(max_length=200, unique=True)
    backend = models.CharField(max_length=20)
    unsafe = models.BooleanField(default=False, help_text="the local backend: no isolation")
    problem = models.CharField(max_length=300, blank=True, help_text="why the backend cannot run jobs now")
    queues = models.CharField(max_length=100, blank=True)
    concurrency = models.PositiveIntegerField(default=1, help_text="jobs it grades at once")
    seen_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"{self.hostname} ({self.backend})"


class LabDraft(models.Model):
    """A learner's unsubmitted code for one lab, autosaved by the lab page as they type: one row per learner
    and lab, overwritten on every save, capped at the grader's size limit like a submission."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="lab_drafts")
    lab = models.ForeignKey(Lab, on_delete=models.CASCADE, related_name="drafts")
    code = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "lab"], name="one_draft_per_learner_and_lab")]

    def __str__(self) -> str:
        return f"draft of {self.user_id} on {self.lab_id}"
