"""The quizzes of the drill cards' mirror questions (group ``content.reader.CARD_GROUP``): one per deck,
made by ``load_content`` (``content.catalogue``), and one per tag, made here on first use."""

from __future__ import annotations

from django.utils.text import slugify

from content.names import tag_label
from content.reader import CARD_GROUP
from quizzes.models import Question, Quiz

TAG_QUIZ_PREFIX, DECK_QUIZ_PREFIX = "drills-tag-", "deck-"  # slugs the built-in drill quizzes own
DECK_QUIZ_SIZE = 10


def tag_quiz_get(*, tag: str) -> Quiz | None:
    """The quiz of the drill cards with one tag, made on first use; None when no graded card has the tag."""
    if not any(tag in q.tags for q in Question.objects.filter(group=CARD_GROUP)):
        return None
    quiz, _ = Quiz.objects.get_or_create(slug=f"{TAG_QUIZ_PREFIX}{slugify(tag)[:100]}", builtin=True, defaults={
        "title": f"Drill quiz · cards tagged “{tag_label(tag)}”", "builtin": True, "time_limit_s": 10 * 60,
        "description": f"Up to {DECK_QUIZ_SIZE} cards with graded answers tagged “{tag_label(tag)}”, from every deck.",
        "blueprint": [{"count": DECK_QUIZ_SIZE, "group": CARD_GROUP, "tags": [tag]}], "allow_practice": True,
        "shuffle_questions": True, "shuffle_options": True})
    return quiz
