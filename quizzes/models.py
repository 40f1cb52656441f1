from django.conf import settings
from django.db import models


class Question(models.Model):
    """A question of the bank, loaded from ``fixtures/questions/``; the file is the source of truth."""

    class Tier(models.TextChoices):
        L1 = "L1", "L1 · fundamentals"
        L2 = "L2", "L2 · methods"
        L3 = "L3", "L3 · systems and research"

    slug = models.SlugField(max_length=120, unique=True)
    group = models.CharField(max_length=60, blank=True, db_index=True,
                             help_text="the folder under fixtures/questions/ (interview, qa, tables, ...)")
    title = models.CharField(max_length=300)
    tier = models.CharField(max_length=2, choices=Tier.choices, blank=True)
    tags = models.JSONField(default=list, blank=True)
    source = models.CharField(max_length=300, blank=True, help_text="seed file and section")
    body = models.TextField(help_text="Markdown with LaTeX")
    answer_points = models.JSONField(default=list, blank=True)
    pitfalls = models.JSONField(default=list, blank=True)
    explanation = models.TextField(blank=True)
    corrections = models.JSONField(default=list, blank=True,
                                   help_text="what the seed material gets wrong here, and the fix")
    content_hash = models.CharField(max_length=64, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["tier", "slug"]

    def __str__(self) -> str:
        return self.slug


class Part(models.Model):
    """One graded part of a question; ``spec`` is the answer spec of ``docs/answer-spec.md``."""

    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="parts")
    key = models.CharField(max_length=40)
    order = models.PositiveIntegerField(default=0)
    kind = models.CharField(max_length=20)
    prompt = models.TextField(blank=True, help_text="Markdown with LaTeX")
    spec = models.JSONField(default=dict)
    points = models.FloatField(default=1.0)
    tags = models.JSONField(default=list, blank=True, help_text="e.g. formula:kv-cache")
    explanation = models.TextField(blank=True, help_text="Markdown with LaTeX: the worked answer of this part")

    class Meta:
        ordering = ["question", "order"]
        constraints = [models.UniqueConstraint(fields=["question", "key"], name="unique_part_key")]

    def __str__(self) -> str:
        return f"{self.question.slug}:{self.key}"


class AnswerKeyChange(models.Model):
    """A changed answer key, kept so that responses graded against the old key can be regraded."""

    part = models.ForeignKey(Part, on_delete=models.CASCADE, related_name="key_changes")
    old_spec = models.JSONField()
    new_spec = models.JSONField()
    changed_at = models.DateTimeField(auto_now_add=True)
    regraded_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.part} key change at {self.changed_at:%Y-%m-%d %H:%M}" if self.changed_at else str(self.part)


class Response(models.Model):
    """A learner's graded answer to one part (practice mode; timed attempts build on it)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="responses")
    part = models.ForeignKey(Part, on_delete=models.CASCADE, related_name="responses")
    answer = models.TextField(max_length=4000)
    correct = models.BooleanField(default=False)
    score = models.FloatField(default=0.0, help_text="fraction of the part's points")
    feedback = models.TextField(blank=True)
    parsed = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "part", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.user_id} on {self.part_id}: {self.score:.2f}"
