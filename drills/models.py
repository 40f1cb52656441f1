"""Decks, cards, and each learner's FSRS review state and review log.

A card has no ReviewState row for a learner until the learner first reviews it: that is what "new" means
(fsrs v6 has no New state). ``state``, ``step``, ``stability``, ``difficulty``, ``due`` and ``last_review``
are the fields of ``fsrs.Card``, stored as columns; datetimes are UTC.
"""

from django.conf import settings
from django.db import models


class Deck(models.Model):
    slug = models.SlugField(max_length=100, unique=True)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    source = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug


class Card(models.Model):
    deck = models.ForeignKey(Deck, on_delete=models.CASCADE, related_name="cards")
    key = models.CharField(max_length=100, help_text="our card id: the content file's card id")
    guid = models.CharField(max_length=64, unique=True, help_text="Anki note GUID, derived from deck slug and key")
    order = models.PositiveIntegerField(default=0)
    front = models.TextField()
    back = models.TextField()
    tags = models.JSONField(default=list, blank=True)
    source = models.CharField(max_length=300, blank=True, default="")
    answer = models.JSONField(null=True, blank=True, help_text="answer spec (docs/answer-spec.md), or null")
    corrections = models.JSONField(default=list, blank=True)
    sources = models.JSONField(default=list, blank=True,
                               help_text="where to read more: a paper with its section, a spec with its clause, a "
                                         "library file")

    class Meta:
        ordering = ["deck", "order", "id"]
        constraints = [models.UniqueConstraint(fields=["deck", "key"], name="drills_card_deck_key")]

    def __str__(self) -> str:
        return f"{self.deck.slug}/{self.key}"


class State(models.IntegerChoices):
    NEW = 0, "New"
    LEARNING = 1, "Learning"
    REVIEW = 2, "Review"
    RELEARNING = 3, "Relearning"


class ReviewState(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="review_states")
    card = models.ForeignKey(Card, on_delete=models.CASCADE, related_name="review_states")
    state = models.PositiveSmallIntegerField(choices=State.choices, db_index=True)
    step = models.PositiveSmallIntegerField(null=True, blank=True)
    stability = models.FloatField(null=True, blank=True, db_index=True)
    difficulty = models.FloatField(null=True, blank=True, db_index=True)
    due = models.DateTimeField(db_index=True)
    last_review = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "card"], name="drills_reviewstate_user_card")]
        indexes = [models.Index(fields=["user", "due"], name="drills_rs_user_due")]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.card_id} {self.get_state_display()} due {self.due:%Y-%m-%d %H:%M}"


class Rating(models.IntegerChoices):
    AGAIN = 1, "Again"
    HARD = 2, "Hard"
    GOOD = 3, "Good"
    EASY = 4, "Easy"


class ReviewLog(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="review_logs")
    card = models.ForeignKey(Card, on_delete=models.CASCADE, related_name="review_logs")
    rating = models.PositiveSmallIntegerField(choices=Rating.choices)
    reviewed_at = models.DateTimeField()
    state_before = models.PositiveSmallIntegerField(choices=State.choices)
    state_after = models.PositiveSmallIntegerField(choices=State.choices)
    elapsed_days = models.FloatField(null=True, blank=True, help_text="days since the previous review, or null")
    due_after = models.DateTimeField()

    class Meta:
        ordering = ["reviewed_at", "id"]
        indexes = [models.Index(fields=["user", "reviewed_at"], name="drills_log_user_at")]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.card_id} rated {self.rating} at {self.reviewed_at:%Y-%m-%d %H:%M}"


class LearnerSettings(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="drill_settings")
    desired_retention = models.FloatField(default=0.9)
    new_per_day = models.PositiveIntegerField(default=20)

    def __str__(self) -> str:
        return f"{self.user_id}: retention {self.desired_retention}, {self.new_per_day} new/day"
