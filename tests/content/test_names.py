"""Human words for internal names (content.names, issue #18 item 3): every tag of the content has a label
without its machine syntax, distinct tags keep distinct labels, option letters follow the learner's order, and no
learner-facing content text says "(s)" where a plural belongs."""

import re
import string

import pytest

from content import names
from content.reader import TOPIC_PREFIX
from tests.bank import fixtures_content

MATH_CALLS = {"diag", "max", "min", "mean", "sqrt", "abs"}  # f(s) in a formula is not a plural


@pytest.fixture(scope="module")
def content():
    return fixtures_content()


def content_tags(content) -> set[str]:
    tags = {t for q in content.questions for t in [*q.tags, *(t for p in q.parts for t in p.tags)]}
    return tags | {t for c in content.cards for t in c.tags}


def test_every_tag_of_the_content_reads_as_words(content):
    tags = content_tags(content)
    assert len(tags) > 50  # the real content, not an empty folder
    labels = {tag: names.tag_label(tag) for tag in tags}
    for tag, label in labels.items():
        assert ":" not in label, (tag, label)
        assert "_" not in label and label.strip() == label and label, (tag, label)
        assert label[0].isupper() or label.split()[0] in names.LOWER_CASE_NAMES, (tag, label)
        if tag.startswith(TOPIC_PREFIX):
            assert label.endswith(" formula"), (tag, label)
    assert len(set(labels.values())) == len(labels), "two tags read the same"


def test_a_formula_tag_and_a_known_abbreviation():
    assert names.tag_label("formula:kv-cache") == f"{names.tag_label('kv-cache')} formula"
    assert names.tag_label("kv-cache").startswith(names.SPELLING["kv"])
    assert names.tag_label("w4a8") == names.SPELLING["w4a8"]


def test_a_deck_tag_reads_as_the_decks_title():
    assert names.tag_label("deck:formats", decks={"formats": "Formats and memory"}) == "Formats and memory"
    assert "deck:" not in names.tag_label("deck:formats")


def test_option_letters_follow_the_place_the_learner_saw():
    letters = [names.option_letter(n) for n in range(1, 60)]
    assert letters[:26] == list(string.ascii_uppercase)
    assert len(set(letters)) == len(letters) and all(letter.isalpha() and letter.isupper() for letter in letters)


def test_a_part_reads_as_its_place_in_the_question():
    assert [names.part_label(order) for order in range(3)] == ["Part 1", "Part 2", "Part 3"]


def test_no_content_text_says_s_in_brackets_for_a_plural(content):
    """ "2 byte(s)" on a page: a prompt says it another way (or the page pluralizes), never "(s)"."""
    texts = []
    for q in content.questions:
        texts += [q.title, q.body, q.explanation, *q.answer_points, *q.pitfalls, *q.corrections]
        for p in q.parts:
            texts += [p.prompt, p.explanation, *(str(o.get("text", "")) for o in p.spec.get("options") or [])]
    for c in content.cards:
        texts += [c.front, c.back, *c.corrections]
    found = [m.group(0) for text in texts for m in re.finditer(r"\b([A-Za-z]+)\(s\)", text or "")
             if m.group(1) not in MATH_CALLS]
    assert found == []
