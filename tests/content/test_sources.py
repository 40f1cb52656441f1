"""``sources:`` on questions and drill cards: validated with file, line and field, stored by ``load_content``
(on the card's mirror question too), shown under "Sources" on the question page and the card's back, and
counted by ``content_stats``."""

from __future__ import annotations

import json
import re
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.urls import reverse

from content.reader import read_content
from drills.models import Card
from quizzes.models import Question
from tests.factories import user_make

PAPER = "Frantar et al. 2022, GPTQ (arXiv:2210.17323), §3"
LIBRARY = "vllm: vllm/model_executor/layers/quantization/gptq.py <i>&</i>"
QUESTION = """slug: x
title: T
body: B
sources:
  - "{paper}"
  - "{library}"
parts:
  - key: a
    prompt: "n = {{{{n}}}}"
    kind: numeric
    params: {{n: {{min: 1, max: 3}}}}
    formula: 2*n
  - key: b
    prompt: P
    kind: numeric
    answer: 1
"""
DECK = """deck: {slug: d, title: D}
cards:
  - id: c
    front: F
    back: B
    answer: {kind: numeric, answer: 448}
    sources: ["OCP MX v1.0"]
  - id: e
    front: G
    back: H
"""


def tree(root: Path, question: str = QUESTION.format(paper=PAPER, library=LIBRARY), deck: str = DECK) -> Path:
    (root / "questions" / "misc").mkdir(parents=True)
    (root / "questions" / "misc" / "x.yaml").write_text(question)
    (root / "drills").mkdir()
    (root / "drills" / "d.yaml").write_text(deck)
    return root


def problems(root: Path) -> list[str]:
    return [str(p) for p in read_content(root).problems]


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


# ----------------------------------------------------------------------------- validation


def test_sources_are_read_from_questions_and_cards(tmp_path):
    content = read_content(tree(tmp_path))
    assert content.problems == []
    assert content.questions[0].sources == [PAPER, LIBRARY]
    assert [c.sources for c in content.cards] == [["OCP MX v1.0"], []]


@pytest.mark.parametrize("value, line, message", [
    ('"just one string"', 4, "question: sources must be a list of non-empty strings (a paper with its section, a "
                             "spec with its clause, a library file), not str"),
    ("{paper: x}", 4, "question: sources must be a list of non-empty strings (a paper with its section, a spec "
                      "with its clause, a library file), not a mapping"),
    ('\n  - "ok"\n  - 42', 6, "question: sources[1] must be a string, not int"),
    ('\n  - ""', 5, "question: sources[0] must not be empty"),
    ("\n  - {title: x}", 5, "question: sources[0] must be a string, not a mapping"),
])
def test_a_question_with_wrong_sources_is_reported_with_file_line_and_field(tmp_path, value, line, message):
    text = f"slug: x\ntitle: T\nbody: B\nsources: {value}\nparts: [{{key: a, prompt: P, kind: numeric, answer: 1}}]\n"
    found = problems(tree(tmp_path, question=text))
    assert len(found) == 1 and re.fullmatch(rf".*questions/misc/x\.yaml:{line}: {re.escape(message)}.*", found[0]), found


def test_a_card_with_wrong_sources_is_reported_with_file_line_and_field(tmp_path):
    deck = "deck: {slug: d, title: D}\ncards:\n  - id: c\n    front: F\n    back: B\n    sources: [ok, 3.5]\n"
    found = problems(tree(tmp_path, deck=deck))
    assert found == [f"{tmp_path.name}/drills/d.yaml:6: card 'c': sources[1] must be a string, not float"], found


def test_a_question_without_sources_keeps_its_content_hash(tmp_path):
    """Adding the field changes no existing hash: load_content does not rewrite questions that have none."""
    question = read_content(tree(tmp_path)).questions[0]
    assert "sources" in question.as_dict()
    question.sources = []
    assert "sources" not in question.as_dict()


# ----------------------------------------------------------------------------- stored and shown


@pytest.mark.django_db
def test_sources_are_loaded_and_shown_on_the_question_page_and_the_card(tmp_path, client):
    root = tree(tmp_path / "fixtures")
    run("load_content", "--path", str(root))
    question = Question.objects.get(slug="x")
    assert question.sources == [PAPER, LIBRARY]
    card = Card.objects.get(key="c")
    assert card.sources == ["OCP MX v1.0"] and Card.objects.get(key="e").sources == []
    assert Question.objects.get(slug="card_d_c").sources == ["OCP MX v1.0"]  # the card's quiz question

    user_make("ana")
    client.force_login(User.objects.get(username="ana"))
    page = client.get(reverse("quizzes:detail", args=["x"])).content.decode()
    section = re.search(r'<section class="sources".*?</section>', page, re.S).group(0)
    assert '<h2 id="sources-heading">Sources</h2>' in section
    assert f"<li>{PAPER}</li>" in section
    assert "<li>vllm: vllm/model_executor/layers/quantization/gptq.py &lt;i&gt;&amp;&lt;/i&gt;</li>" in section

    review = client.get(reverse("drills:review")).content.decode()
    back = re.search(r'<div class="back" id="back"[^>]*\bhidden>.*?</div>', review, re.S).group(0)
    assert "Sources</h2>" in back and "<li>OCP MX v1.0</li>" in back


@pytest.mark.django_db
def test_no_sources_heading_without_sources(tmp_path, client):
    question = QUESTION.format(paper=PAPER, library=LIBRARY).replace(f'sources:\n  - "{PAPER}"\n  - "{LIBRARY}"\n', "")
    run("load_content", "--path", str(tree(tmp_path / "fixtures", question=question, deck=DECK.replace(
        '    sources: ["OCP MX v1.0"]\n', ""))))
    user_make("ana")
    client.force_login(User.objects.get(username="ana"))
    assert "Sources" not in client.get(reverse("quizzes:detail", args=["x"])).content.decode()
    assert "Sources" not in client.get(reverse("drills:review")).content.decode()


@pytest.mark.django_db
def test_adding_sources_to_a_loaded_question_updates_it(tmp_path):
    question = QUESTION.format(paper=PAPER, library=LIBRARY)
    root = tree(tmp_path / "fixtures", question=question.replace(f'sources:\n  - "{PAPER}"\n  - "{LIBRARY}"\n', ""))
    run("load_content", "--path", str(root))
    assert Question.objects.get(slug="x").sources == []
    (root / "questions" / "misc" / "x.yaml").write_text(question)
    out = run("load_content", "--path", str(root))
    assert "questions: created 0, updated 1, unchanged 0" in out and "answer key changed" not in out
    assert Question.objects.get(slug="x").sources == [PAPER, LIBRARY]


# ----------------------------------------------------------------------------- counted


def test_content_stats_counts_sources_and_variants(tmp_path):
    stats = json.loads(run("content_stats", "--json", "--path", str(tree(tmp_path))))
    assert stats["sources"] == 2  # the question and card c; card e has none
    assert stats["variants"] == 1  # part a has params, part b not
    assert stats["questions"]["total"] == 1 and stats["cards"] == 2 and stats["problems"] == 0
    table = run("content_stats", "--path", str(tmp_path))
    assert re.search(r"with sources\s+2\b", table) and re.search(r"variants\s+1\b", table)
