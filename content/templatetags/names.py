"""Template filters that show the content's internal names in words (content.names): ``{% load names %}``."""

from django import template

from content import names

register = template.Library()


@register.filter
def tag_label(tag: str) -> str:
    """``{{ tag|tag_label }}``: "formula:kv-cache" -> "KV cache formula"; a deck's tag -> the deck's title."""
    if str(tag).startswith(names.DECK_PREFIX):
        from drills.models import Deck

        slug = str(tag)[len(names.DECK_PREFIX):]
        return names.tag_label(tag, decks=dict(Deck.objects.filter(slug=slug).values_list("slug", "title")))
    return names.tag_label(tag)


@register.filter
def tag_labels(tags) -> str:
    """``{{ question.tags|tag_labels }}``: every tag in words, comma-separated."""
    return ", ".join(tag_label(t) for t in tags or [])


@register.filter
def part_label(part) -> str:
    """``{{ part|part_label }}``: "Part 2" for a Part (or anything with an ``order``)."""
    order = part.get("order") if isinstance(part, dict) else getattr(part, "order", None)
    return names.part_label(order or 0)


@register.filter
def option_letter(position: int) -> str:
    """``{{ forloop.counter|option_letter }}``: the letter of the option the learner saw in that place."""
    return names.option_letter(position)
