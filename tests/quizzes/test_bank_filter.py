"""The question bank's search and filters (issue #18 item 5): GET parameters q, tier and tag, read on the server
(a plain form: no JavaScript needed); an unknown tier or tag, or an overlong search, is a 400 that says what is
wrong, never a 500; the bank's hidden questions are neither listed nor offered as a tag; the real content in
fixtures/ filters as its files say."""

from __future__ import annotations

import re
from collections import Counter
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from content.names import tag_label
from content.reader import CARD_GROUP, read_content
from quizzes.bank import SEARCH_MAX_CHARS, bank_questions, bank_tags
from quizzes.models import Question, Quiz
from tests.factories import user_make

pytestmark = pytest.mark.django_db


def question(slug: str, *, title: str, tier: str, tags: list[str], body: str = "A question.", **fields) -> Question:
    return Question.objects.create(slug=slug, title=title, tier=tier, tags=tags, body=body, **fields)


@pytest.fixture
def bank():
    return {
        "gptq": question("gptq-order", title="GPTQ column order", tier="L2", tags=["gptq", "hessian"],
                         body="Why does GPTQ quantize columns in the order of the Hessian's diagonal?"),
        "awq": question("awq-scales", title="AWQ scales", tier="L2", tags=["awq", "activation-aware"]),
        "fp8": question("e4m3-max", title="Largest E4M3 value", tier="L1", tags=["fp8", "formats"]),
        "kv": question("kv-int4", title="KIVI key cache", tier="L3", tags=["kv-cache", "formats"],
                       body="Per-channel keys and per-token values."),
    }


@pytest.fixture
def client():
    client = Client()
    client.force_login(user_make("ada"))
    return client


def listed(response) -> list[str]:
    """The question slugs the page lists, in its order."""
    return re.findall(r'href="/questions/([\w-]+)/"', response.content.decode())


def test_words_match_title_body_and_tags_in_any_case_and_all_must_match(bank):
    ada = user_make("ada")
    assert [q.slug for q in bank_questions(user=ada, text="gptq")] == ["gptq-order"]  # title (and tag)
    assert [q.slug for q in bank_questions(user=ada, text="HESSIAN diagonal")] == ["gptq-order"]  # body, tag
    assert [q.slug for q in bank_questions(user=ada, text="per-token")] == ["kv-int4"]  # body only
    assert [q.slug for q in bank_questions(user=ada, text="activation-aware")] == ["awq-scales"]  # tag only
    assert bank_questions(user=ada, text="gptq awq") == []  # every word must match
    question("dequant", title="Back to reals", tier="L1", tags=["dequant"])
    assert [q.slug for q in bank_questions(user=ada, text="Dequantization")] == ["dequant"]  # the tag in words
    assert len(bank_questions(user=ada, text="   ")) == len(bank) + 1


def test_tier_and_tag_narrow_the_bank_and_combine(bank, client):
    assert listed(client.get(reverse("quizzes:list"), {"tier": "L2"})) == ["awq-scales", "gptq-order"]
    assert sorted(listed(client.get(reverse("quizzes:list"), {"tag": "formats"}))) == ["e4m3-max", "kv-int4"]
    response = client.get(reverse("quizzes:list"), {"tag": "formats", "tier": "L3", "q": "keys"})
    assert response.status_code == 200 and listed(response) == ["kv-int4"]
    assert "1 question matches." in response.content.decode()
    assert sorted(listed(client.get(reverse("quizzes:list")))) == sorted(q.slug for q in bank.values())


def test_the_filter_is_a_plain_get_form_that_keeps_its_choices(bank, client):
    page = client.get(reverse("quizzes:list"), {"tier": "L1", "tag": "fp8", "q": "E4M3"}).content.decode()
    form = re.search(r'<form method="get" action="/questions/".*?</form>', page, re.S).group(0)
    assert 'name="q"' in form and 'value="E4M3"' in form
    assert re.search(r'<option value="L1" selected>', form) and re.search(r'<option value="fp8" selected>', form)
    assert "<script" not in page.split("<main>")[1]
    assert f'<option value="kv-cache">{tag_label("kv-cache")}</option>' in form  # the tag in words, its key sent


@pytest.mark.parametrize("params, message", [
    ({"tier": "L9"}, "There is no tier “L9”: choose L1, L2 or L3."),
    ({"tag": "no-such-tag"}, "No question of the bank has the tag “no-such-tag”: choose one from the list."),
    ({"q": "x" * (SEARCH_MAX_CHARS + 1)}, f"at most {SEARCH_MAX_CHARS} characters"),
    ({"tier": ["L1", "<script>"]}, "There is no tier “&lt;script&gt;”"),
])
def test_an_unknown_tier_or_tag_is_a_400_that_says_so_with_the_whole_bank(bank, client, params, message):
    response = client.get(reverse("quizzes:list"), params)
    assert response.status_code == 400
    page = response.content.decode()
    assert message in page and 'id="filter-errors"' in page and "<script>" not in page
    assert len(listed(response)) == len(bank)


def test_hidden_questions_are_neither_listed_nor_offered_as_tags(bank, client):
    question("held-back", title="Held back", tier="L1", tags=["secret-tag", "fp8"])
    question("card-mirror", title="A card", tier="L1", tags=["deck:fp8"], group=CARD_GROUP)
    Quiz.objects.create(slug="exam", title="Exam", question_slugs=["held-back"], private_until_close=True)
    learner = user_make("bob")
    assert "secret-tag" not in bank_tags(user=learner) and "deck:fp8" not in bank_tags(user=learner)
    assert "fp8" in bank_tags(user=learner)
    assert "held-back" not in listed(client.get(reverse("quizzes:list"), {"tag": "fp8"}))
    response = client.get(reverse("quizzes:list"), {"tag": "secret-tag"})
    assert response.status_code == 400 and "held-back" not in listed(response)
    assert "card-mirror" not in listed(client.get(reverse("quizzes:list"), {"q": "card"}))


def test_the_real_bank_filters_as_its_content_files_say():
    """The content in fixtures/ loaded as load_content does: each tier, and the most used tags, list exactly
    the questions whose files carry them; the tag list offers every tag of the bank."""
    fixtures = Path(__file__).resolve().parents[2] / "fixtures"
    call_command("load_content", "--path", str(fixtures), stdout=StringIO(), stderr=StringIO())
    content = read_content(fixtures).questions
    client = Client()
    client.force_login(user_make("ada"))
    whole = client.get(reverse("quizzes:list"))
    assert sorted(listed(whole)) == sorted(q.slug for q in content)
    page = whole.content.decode()
    offered = re.findall(r'<option value="([^"]+)"', page.split('name="tag"')[1].split("</select>")[0])
    assert sorted(offered) == sorted({t for q in content for t in q.tags})
    for tier in ("L1", "L2", "L3"):
        response = client.get(reverse("quizzes:list"), {"tier": tier})
        assert sorted(listed(response)) == sorted(q.slug for q in content if q.tier == tier), tier
    for tag, _ in Counter(t for q in content for t in q.tags).most_common(3):
        response = client.get(reverse("quizzes:list"), {"tag": tag, "tier": "L2"})
        assert sorted(listed(response)) == sorted(q.slug for q in content if tag in q.tags and q.tier == "L2"), tag
