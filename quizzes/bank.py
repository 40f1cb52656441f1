"""The question bank's search and filters: words, a tier and a tag, read from the page's GET parameters, so they
work without JavaScript and a filtered page can be bookmarked."""

from __future__ import annotations

from django import forms
from django.contrib.auth.models import User
from django.db.models import QuerySet

from content.names import tag_label
from content.reader import CARD_GROUP
from quizzes.models import Question
from quizzes.selectors import bank_hidden_slugs

SEARCH_MAX_CHARS = 200


def bank_visible(*, user: User) -> QuerySet[Question]:
    """The bank as this learner may browse it: no drill card mirrors (reached through their decks), no question
    held back for a quiz that is private until it closes."""
    return Question.objects.exclude(group=CARD_GROUP).exclude(slug__in=bank_hidden_slugs(user=user))


def bank_tags(*, user: User) -> list[str]:
    """Every tag of the questions this learner may browse, sorted: the tag filter's choices."""
    return sorted({tag for tags in bank_visible(user=user).values_list("tags", flat=True) for tag in tags or []})


def bank_questions(*, user: User, text: str = "", tier: str = "", tag: str = "") -> list[Question]:
    """The bank narrowed by a tier, a tag, and words that must each appear in the title, the body or a tag, as
    stored or in words (any case). The tags are a JSON list, which SQLite cannot search: words and tag are matched
    here, on a bank of a few hundred questions."""
    questions = bank_visible(user=user)
    if tier:
        questions = questions.filter(tier=tier)
    words = text.lower().split()
    return [q for q in questions if (not tag or tag in q.tags)
            and all(w in " ".join([q.title, q.body, *q.tags, *map(tag_label, q.tags)]).lower() for w in words)]


class BankFilterForm(forms.Form):
    """The filters as the learner sent them: a tier or tag the bank does not have is a form error the page shows
    (with status 400), never a server error."""

    q = forms.CharField(required=False, max_length=SEARCH_MAX_CHARS, label="Search",
                        widget=forms.TextInput(attrs={"type": "search", "placeholder": "e.g. GPTQ Hessian"}))
    tier = forms.ChoiceField(required=False, choices=[("", "Any tier"), *Question.Tier.choices],
                             error_messages={"invalid_choice": "There is no tier “%(value)s”: choose L1, L2 or L3."})
    tag = forms.ChoiceField(required=False, error_messages={
        "invalid_choice": "No question of the bank has the tag “%(value)s”: choose one from the list."})

    def __init__(self, data, *, tags: list[str]):
        super().__init__(data)
        labelled = sorted(((tag, tag_label(tag)) for tag in tags), key=lambda choice: choice[1].lower())
        self.fields["tag"].choices = [("", "Any tag"), *labelled]  # the URL keeps the tag, the list shows words
