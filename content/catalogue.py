"""The built-in quizzes, kept in step with the content by ``load_content``.

Drill cards that carry a graded answer are mirrored as one-part questions of the group ``drills`` (tagged
with their own tags and ``deck:<slug>``), so a deck or a tag can be taken as a quiz with the same pages,
clock and grader as any other quiz. A tag's quiz is made on first use, by the quizzes app
(``quizzes.services.drill_quizzes.tag_quiz_get``).
"""

from __future__ import annotations

from django.db import transaction

from content.reader import CARD_GROUP, card_question_slug
from content.upsert import upsert
from drills.models import Card, Deck
from quizzes.models import AttemptAnswer, Part, Question, Quiz
from quizzes.services.drill_quizzes import DECK_QUIZ_PREFIX, DECK_QUIZ_SIZE

SEED_QA_SETS = {  # seed file → the title of its Q&A set
    "002_7d3f4347ecd07521.txt": "LLM quantization interview prep (Q1–Q10)",
    "003_d58be6dcbdd5a8fb.txt": "Advanced quantization in deep learning and LLMs (Q1–Q10)",
}
TIER_QUIZZES = {"L1": (10, 30), "L2": (10, 40), "L3": (5, 30)}  # tier → (questions, minutes)


def _builtin_definitions() -> list[dict]:
    common = {"builtin": True, "allow_practice": True, "shuffle_options": True,
              "feedback": Quiz.Feedback.AFTER_SUBMIT, "max_attempts": None}
    quizzes = []
    for tier, (count, minutes) in TIER_QUIZZES.items():
        quizzes.append({**common, "slug": f"interview-{tier.lower()}", "time_limit_s": minutes * 60,
                        "title": f"Interview questions · {Question.Tier(tier).label}",
                        "description": f"The {count} {tier} questions of the course's 25 interview questions.",
                        "blueprint": [{"count": count, "group": "interview", "tier": tier}],
                        "shuffle_questions": True})
    for seed, title in SEED_QA_SETS.items():
        quizzes.append({**common, "slug": f"qa-{seed[:3]}", "title": f"Q&A set · {title}", "time_limit_s": 30 * 60,
                        "description": f"The ten questions of the seed Q&A set {seed}, in order.",
                        "blueprint": [{"count": 10, "group": "qa", "seed": seed}], "shuffle_questions": False})
    quizzes.append({**common, "slug": "mock-interview", "title": "Mock interview · 20 minutes",
                    "time_limit_s": 20 * 60, "shuffle_questions": True,
                    "description": "Five questions drawn at random: two L1, two L2 and one L3, as in a screen.",
                    "blueprint": [{"count": 2, "group": "interview", "tier": "L1"},
                                  {"count": 2, "group": "interview", "tier": "L2"},
                                  {"count": 1, "group": "interview", "tier": "L3"}]})
    for deck in Deck.objects.filter(cards__in=Card.objects.exclude(answer=None)).distinct():
        quizzes.append(deck_quiz_definition(deck=deck))
    return quizzes


def deck_quiz_definition(*, deck: Deck) -> dict:
    return {"slug": f"{DECK_QUIZ_PREFIX}{deck.slug}", "title": f"Drill quiz · {deck.title}", "builtin": True,
            "description": f"Up to {DECK_QUIZ_SIZE} cards with graded answers from the deck “{deck.title}”.",
            "blueprint": [{"count": DECK_QUIZ_SIZE, "group": CARD_GROUP, "tags": [f"deck:{deck.slug}"]}],
            "time_limit_s": 10 * 60, "allow_practice": True, "shuffle_questions": True, "shuffle_options": True,
            "feedback": Quiz.Feedback.AFTER_SUBMIT, "max_attempts": None}


def card_questions_sync() -> list[str]:
    """Mirror every graded card as a one-part question; returns the slugs that changed. The mirror of a card
    that lost its answer is deleted, or, when attempts answered it, kept untagged so no quiz draws it again."""
    changed, keep = [], set()
    cards = list(Card.objects.exclude(answer=None).select_related("deck"))
    # the mirrors and their parts as they are, read at once (upsert would read them one query each)
    mirrors = {q.slug: q for q in Question.objects.filter(group=CARD_GROUP)}
    parts = {p.question_id: p for p in Part.objects.filter(question__group=CARD_GROUP, key="answer")}
    for card in cards:
        slug = card_question_slug(card)
        keep.add(slug)
        fields = {"group": CARD_GROUP, "title": card.front[:300], "tags": [*card.tags, f"deck:{card.deck.slug}"],
                  "source": card.source, "body": card.front, "explanation": card.back,
                  "corrections": card.corrections, "sources": card.sources}
        mirror = upsert(Question, {"slug": slug}, fields, row=mirrors.get(slug))
        part_fields = {"order": 0, "kind": card.answer.get("kind", "symbolic"), "spec": card.answer, "prompt": ""}
        part = upsert(Part, {"question": mirror.row, "key": "answer"}, part_fields, row=parts.get(mirror.row.id))
        mirrors[slug], parts[mirror.row.id] = mirror.row, part.row  # as upsert would find them next time
        if part.changed or mirror.changed:
            changed.append(slug)
    stale = Question.objects.filter(group=CARD_GROUP).exclude(slug__in=keep)
    for question in stale:
        if not AttemptAnswer.objects.filter(part__question=question).exists():
            question.delete()
            changed.append(question.slug)
        elif question.tags:
            Question.objects.filter(pk=question.pk).update(tags=[])
            changed.append(question.slug)
    return changed


@transaction.atomic
def catalogue_sync() -> dict[str, list[str]]:
    """Mirror the graded cards and create or update the built-in quizzes; returns what changed."""
    card_questions = card_questions_sync()
    definitions = _builtin_definitions()
    stale = Quiz.objects.filter(builtin=True, slug__startswith=DECK_QUIZ_PREFIX, attempts__isnull=True)
    stale.exclude(slug__in=[d["slug"] for d in definitions]).delete()
    quizzes = []
    for definition in definitions:
        slug = definition.pop("slug")
        if upsert(Quiz, {"slug": slug}, definition).changed:
            quizzes.append(slug)
    return {"quizzes": quizzes, "card_questions": card_questions}
