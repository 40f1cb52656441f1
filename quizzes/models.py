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
    sources = models.JSONField(default=list, blank=True,
                               help_text="where to read more: a paper with its section, a spec with its clause, a "
                                         "library file")
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
    misconception = models.CharField(max_length=80, blank=True, help_text="id of the misconception rule matched")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "part", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.user_id} on {self.part_id}: {self.score:.2f}"


class Quiz(models.Model):
    """A quiz: a fixed list of questions or a blueprint of draws, with its clock and feedback rules.

    ``question_slugs`` is the fixed list; otherwise ``blueprint`` is a list of draws, each
    ``{"count": N, "group": ..., "tier": ..., "tags": [...], "seed": ...}`` (every key but count optional;
    ``tags`` matches a question with any of them, ``seed`` the seed file the question comes from)."""

    class Feedback(models.TextChoices):
        EACH_PART = "each_part", "after each part (practice quiz: untimed, unlimited tries)"
        AFTER_SUBMIT = "after_submit", "after submission"
        AFTER_CLOSE = "after_close", "after the window closes"

    slug = models.SlugField(max_length=120, unique=True)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    builtin = models.BooleanField(default=False, help_text="kept in step with the content by load_content")
    question_slugs = models.JSONField(default=list, blank=True)
    blueprint = models.JSONField(default=list, blank=True)
    time_limit_s = models.PositiveIntegerField(null=True, blank=True, help_text="empty: untimed")
    max_attempts = models.PositiveIntegerField(null=True, blank=True, help_text="empty: unlimited")
    opens_at = models.DateTimeField(null=True, blank=True)
    closes_at = models.DateTimeField(null=True, blank=True)
    shuffle_questions = models.BooleanField(default=False)
    shuffle_options = models.BooleanField(default=False)
    feedback = models.CharField(max_length=20, choices=Feedback.choices, default=Feedback.AFTER_SUBMIT)
    allow_practice = models.BooleanField(default=False, help_text="learners may also take it as practice")
    private_until_close = models.BooleanField(
        default=False, help_text="its questions are hidden from the question bank for learners until it closes")
    cohort = models.ForeignKey("cohorts.Cohort", null=True, blank=True, on_delete=models.CASCADE,
                               related_name="quizzes", help_text="empty: every learner")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="quizzes_created")
    created_at = models.DateTimeField(auto_now_add=True)
    archived_at = models.DateTimeField(null=True, blank=True, help_text="hidden from learners, kept with its attempts")

    class Meta:
        ordering = ["-builtin", "title"]
        verbose_name_plural = "quizzes"

    def __str__(self) -> str:
        return self.slug


class Extension(models.Model):
    """Extra time an instructor granted one learner on one quiz (an audit row: who, how much, why)."""

    quiz = models.ForeignKey(Quiz, on_delete=models.CASCADE, related_name="extensions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="quiz_extensions")
    extra_s = models.PositiveIntegerField()
    reason = models.CharField(max_length=300, blank=True)
    granted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                                   related_name="extensions_granted")
    granted_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-granted_at"]

    def __str__(self) -> str:
        return f"+{self.extra_s}s for {self.user_id} on {self.quiz_id}"


class AttemptGrant(models.Model):
    """Attempts an instructor added for one learner on one quiz, beyond its max_attempts (an audit row)."""

    quiz = models.ForeignKey(Quiz, on_delete=models.CASCADE, related_name="attempt_grants")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="attempt_grants")
    extra = models.PositiveIntegerField()
    reason = models.CharField(max_length=300, blank=True)
    granted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                                   related_name="attempt_grants_given")
    granted_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"+{self.extra} attempts for {self.user_id} on {self.quiz_id}"


class Attempt(models.Model):
    """One learner's go at a quiz. The server's ``deadline`` is the only clock that counts.

    ``layout`` fixes at the start what this attempt asks: ``[{"question": id, "parts": [id, ...],
    "options": {"<part id>": [option ids in display order]}}, ...]``; ``seed`` fixes the learner's numbers."""

    class Status(models.TextChoices):
        OPEN = "open", "in progress"
        CLOSED = "closed", "submitted, being graded"
        GRADED = "graded", "graded"

    class ClosedBy(models.TextChoices):
        LEARNER = "learner", "submitted by the learner"
        DEADLINE = "deadline", "submitted at the deadline, on the learner's next request"
        SWEEP = "sweep", "submitted at the deadline by the periodic sweep"
        INSTRUCTOR = "instructor", "closed by an instructor"

    quiz = models.ForeignKey(Quiz, on_delete=models.CASCADE, related_name="attempts")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveIntegerField()
    practice = models.BooleanField(default=False)
    seed = models.BigIntegerField()
    layout = models.JSONField(default=list)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    started_at = models.DateTimeField()
    deadline = models.DateTimeField(null=True, blank=True, help_text="empty: untimed")
    closed_at = models.DateTimeField(null=True, blank=True, help_text="answers saved after this do not count")
    closed_by = models.CharField(max_length=10, choices=ClosedBy.choices, blank=True)
    graded_at = models.DateTimeField(null=True, blank=True)
    score = models.FloatField(null=True, blank=True, help_text="points earned")
    max_score = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            models.UniqueConstraint(fields=["quiz", "user", "number"], name="attempt_number_unique"),
            # Two tabs or a retried "start" resume one attempt instead of opening a second.
            models.UniqueConstraint(fields=["quiz", "user"], condition=models.Q(status="open"),
                                    name="one_open_attempt_per_quiz"),
        ]
        indexes = [models.Index(fields=["status", "deadline"])]

    def __str__(self) -> str:
        return f"{self.user_id} on {self.quiz_id} #{self.number}"

    @property
    def percent(self) -> float | None:
        return None if self.score is None or not self.max_score else 100 * self.score / self.max_score


class AttemptAnswer(models.Model):
    """The latest saved answer to one part within an attempt, and its grade once graded."""

    attempt = models.ForeignKey(Attempt, on_delete=models.CASCADE, related_name="answers")
    part = models.ForeignKey(Part, on_delete=models.CASCADE, related_name="attempt_answers")
    answer = models.TextField(max_length=4000, blank=True)
    saved_at = models.DateTimeField()
    tries = models.PositiveIntegerField(default=0, help_text="checks asked for in practice mode")
    graded = models.BooleanField(default=False)
    correct = models.BooleanField(default=False)
    score = models.FloatField(default=0.0, help_text="fraction of the part's points")
    feedback = models.TextField(blank=True)
    parsed = models.TextField(blank=True)
    undecided = models.BooleanField(default=False)
    misconception = models.CharField(max_length=80, blank=True, help_text="id of the misconception rule matched")
    overridden = models.BooleanField(default=False, help_text="scored by hand: a regrade leaves it alone")
    comment = models.TextField(blank=True, help_text="the instructor's comment, shown to the learner")
    regraded_at = models.DateTimeField(null=True, blank=True)
    regrade_reason = models.CharField(max_length=300, blank=True, help_text="shown to the learner with the date")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["attempt", "part"], name="one_answer_per_part")]

    def __str__(self) -> str:
        return f"{self.attempt_id}/{self.part_id}"


class Regrade(models.Model):
    """One applied regrade of a part: who, when, why, over which answers (a cohort's, or every one). Its
    ``GradeChange`` rows hold each answer's old and new grade."""

    part = models.ForeignKey(Part, on_delete=models.CASCADE, related_name="regrades")
    key_change = models.ForeignKey(AnswerKeyChange, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="regrades")
    cohort = models.ForeignKey("cohorts.Cohort", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                               help_text="empty: every attempt on the platform (a shell or a superuser)")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+", help_text="empty: run from a shell")
    reason = models.CharField(max_length=300)
    include_overridden = models.BooleanField(default=False)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"regrade of {self.part_id} at {self.at:%Y-%m-%d %H:%M}" if self.at else f"regrade of {self.part_id}"


class GradeChange(models.Model):
    """One answer's grade changed after grading: by a regrade (``regrade`` set) or by hand (an override)."""

    answer = models.ForeignKey(AttemptAnswer, on_delete=models.CASCADE, related_name="grade_changes")
    regrade = models.ForeignKey(Regrade, null=True, blank=True, on_delete=models.CASCADE, related_name="changes")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    at = models.DateTimeField(auto_now_add=True)
    old_score = models.FloatField()
    new_score = models.FloatField()
    old_misconception = models.CharField(max_length=80, blank=True)
    new_misconception = models.CharField(max_length=80, blank=True)
    comment = models.TextField(blank=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.answer_id}: {self.old_score:g} -> {self.new_score:g}"
