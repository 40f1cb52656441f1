"""``load_content``, ``content_stats`` and the content reader: loading, idempotence, edits that keep responses,
answer-key changes, and malformed files reported with file and line."""

from __future__ import annotations

import json
import re
import shutil
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

from content.reader import CARD_GROUP, read_content
from quizzes.models import AnswerKeyChange, Part, Question, Response

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures"


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def run_failing(*args) -> str:
    err = StringIO()
    with pytest.raises(CommandError) as exc:
        call_command(*args, stdout=StringIO(), stderr=err)
    return err.getvalue() + "\n" + str(exc.value)


@pytest.fixture
def tree(tmp_path) -> Path:
    """A copy of the content (questions and drills; labs are the lead's and are synced from the real tree)."""
    root = tmp_path / "fixtures"
    shutil.copytree(FIXTURES / "questions", root / "questions")
    if (FIXTURES / "drills").is_dir():
        shutil.copytree(FIXTURES / "drills", root / "drills")
    return root


# ----------------------------------------------------------------------------- the real fixtures


def test_the_real_fixtures_have_no_problems():
    content = read_content(FIXTURES)
    assert [str(p) for p in content.problems] == []


@pytest.mark.django_db
def test_load_on_a_fresh_database_then_nothing_changes():
    content = read_content(FIXTURES)
    first = run("load_content", "--path", str(FIXTURES))
    assert f"questions: created {len(content.questions)}, updated 0, unchanged 0" in first
    assert Question.objects.exclude(group=CARD_GROUP).count() == len(content.questions)
    graded_cards = [c for c in content.cards if c.answer]
    assert Question.objects.filter(group=CARD_GROUP).count() == len(graded_cards)  # mirrors for drill quizzes
    assert Part.objects.exclude(question__group=CARD_GROUP).count() == sum(len(q.parts) for q in content.questions)
    assert f"drills: {len(content.cards)} cards" in first
    q = Question.objects.get(slug="gptq-obs-update")
    assert q.group == "interview" and q.tier == "L2" and q.corrections and q.content_hash
    part = q.parts.get(key="update")
    assert part.spec["kind"] == "symbolic" and "kind" in part.spec and "key" not in part.spec
    assert part.tags == ["formula:obs-update"]

    second = run("load_content", "--path", str(FIXTURES))
    assert f"questions: created 0, updated 0, unchanged {len(content.questions)}" in second
    assert "nothing changed" in second
    assert AnswerKeyChange.objects.count() == 0


@pytest.mark.django_db
def test_check_mode_writes_nothing():
    out = run("load_content", "--path", str(FIXTURES), "--check")
    assert "check (nothing written)" in out and "created" in out
    assert Question.objects.count() == 0


# ----------------------------------------------------------------------------- edits


@pytest.mark.django_db
def test_edit_keeps_responses_and_records_the_answer_key_change(tree):
    run("load_content", "--path", str(tree))
    user = get_user_model().objects.create_user("learner", password="x")
    q = Question.objects.get(slug="affine-quant-formula")
    answered = q.parts.get(key="example-q")
    removed_answered = q.parts.get(key="order")
    removed_unanswered = q.parts.get(key="example-xhat")
    r1 = Response.objects.create(user=user, part=answered, answer="25", correct=True, score=1.0)
    r2 = Response.objects.create(user=user, part=removed_answered, answer="a", correct=True, score=1.0)

    path = tree / "questions" / "interview" / "affine-quant-formula.yaml"
    text = path.read_text()
    text = text.replace("What are the quantize and dequantize formulas", "Give the quantize and dequantize formulas")
    text = text.replace("    answer: 25\n", "    answer: 26\n")  # a (deliberately) changed key
    # drop two parts: one with a response (kept), one without (deleted)
    text = re.sub(r"  - key: example-xhat\n(?:    .*\n)+", "", text)
    text = re.sub(r"  - key: order\n(?:    .*\n|      .*\n)+", "", text)
    path.write_text(text)

    out = run("load_content", "--path", str(tree))
    assert "created 0, updated 1," in out
    assert "answer key changed: affine-quant-formula:example-q" in out
    assert "affine-quant-formula:order: removed from the file but kept (it has responses)" in out
    assert "affine-quant-formula:example-xhat: removed from the file, deleted (no responses)" in out

    q.refresh_from_db()
    assert q.body.startswith("Give the quantize")
    answered_after = Part.objects.get(pk=answered.pk)  # updated in place: same row
    assert answered_after.spec["answer"] == 26
    assert Response.objects.filter(pk=r1.pk, part_id=answered.pk).exists()
    assert Response.objects.filter(pk=r2.pk, part_id=removed_answered.pk).exists()
    assert not Part.objects.filter(pk=removed_unanswered.pk).exists()
    change = AnswerKeyChange.objects.get()
    assert change.part_id == answered.pk
    assert change.old_spec["answer"] == 25 and change.new_spec["answer"] == 26
    assert change.regraded_at is None

    again = run("load_content", "--path", str(tree))
    assert "created 0, updated 0," in again and "nothing changed" in again
    assert AnswerKeyChange.objects.count() == 1


@pytest.mark.django_db
def test_text_only_edit_records_no_answer_key_change(tree):
    run("load_content", "--path", str(tree))
    path = tree / "questions" / "interview" / "kv-cache-memory.yaml"
    path.write_text(path.read_text().replace("How much memory does the KV cache", "How much memory does a KV cache"))
    out = run("load_content", "--path", str(tree))
    assert "updated 1" in out and "answer key changed" not in out
    assert AnswerKeyChange.objects.count() == 0


# ----------------------------------------------------------------------------- malformed files

BAD_YAML = """slug: bad-yaml
title: "unterminated
body: x
"""

UNKNOWN_KEY = """slug: unknown-key
title: T
body: B
difficulty: hard
parts:
  - key: a
    kind: numeric
    answer: 1
    toleranse: 0.1
"""

UNDECLARED_SYMBOL = """slug: undeclared-symbol
title: T
body: B
parts:
  - key: a
    kind: symbolic
    expected: "s*(q - z)"
    symbols: [s, q]
"""

NO_CORRECT_OPTION = """slug: no-correct-option
title: T
body: B
parts:
  - key: a
    kind: numeric
    answer: 2
  - key: b
    kind: single_choice
    options:
      - {id: a, text: "one"}
      - {id: b, text: "two"}
"""


def _line(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


@pytest.mark.django_db
def test_malformed_files_are_all_reported_with_file_and_line_and_nothing_loads(tree):
    bad = tree / "questions" / "scratch"
    bad.mkdir()
    files = {"bad-yaml": BAD_YAML, "unknown-key": UNKNOWN_KEY, "undeclared-symbol": UNDECLARED_SYMBOL,
             "no-correct-option": NO_CORRECT_OPTION}
    for name, text in files.items():
        (bad / f"{name}.yaml").write_text(text)
    err = run_failing("load_content", "--path", str(tree))
    rel = "fixtures/questions/scratch"
    assert re.search(rf"{rel}/bad-yaml.yaml:[2-4]: YAML error", err), err
    assert f"{rel}/unknown-key.yaml:{_line(UNKNOWN_KEY, 'difficulty')}: question: unknown key 'difficulty'" in err
    assert f"{rel}/unknown-key.yaml:{_line(UNKNOWN_KEY, 'toleranse')}: part 'a': unknown key 'toleranse'" in err
    m = re.search(rf"{rel}/undeclared-symbol.yaml:(\d+): part 'a': a formula does not parse.*\bz\b", err)
    assert m and int(m.group(1)) == _line(UNDECLARED_SYMBOL, "expected"), err
    assert (f"{rel}/no-correct-option.yaml:{_line(NO_CORRECT_OPTION, 'options')}: part 'b': a single_choice "
            f"part needs exactly one correct option") in err
    assert "problems found; nothing was loaded" in err
    assert Question.objects.count() == 0 and Part.objects.count() == 0


@pytest.mark.parametrize("text, message", [
    ("slug: other\ntitle: T\nbody: B\nparts: [{key: a, kind: numeric, answer: 1}]\n", "must equal the file name stem"),
    ("slug: x\ntitle: T\nbody: B\nparts: []\n", "parts must be a non-empty list"),
    ("slug: x\ntitle: T\nbody: B\n", "missing required key 'parts'"),
    ("slug: x\ntitle: T\nbody: B\nparts: [{key: a, kind: numeric, answer: 1}, {key: a, kind: numeric, answer: 2}]\n",
     "duplicate part key"),
    ("slug: x\ntitle: T\ntitle: U\nbody: B\nparts: [{key: a, kind: numeric, answer: 1}]\n", "duplicate key 'title'"),
    ("slug: x\ntitle: T\nbody: B\ntier: L4\nparts: [{key: a, kind: numeric, answer: 1}]\n", "tier must be one of"),
    ("slug: x\ntitle: T\nbody: B\nparts: [{key: A_1, kind: numeric, answer: 1}]\n", "key must match"),
    ("slug: x\ntitle: T\nbody: B\nparts: [{key: a, kind: essay}]\n", "kind must be one of"),
])
def test_schema_problems(tmp_path, text, message):
    (tmp_path / "questions" / "misc").mkdir(parents=True)
    (tmp_path / "questions" / "misc" / "x.yaml").write_text(text)
    problems = [str(p) for p in read_content(tmp_path).problems]
    assert any(message in p and re.match(r".*x\.yaml:\d+: ", p) for p in problems), problems


def test_interview_questions_need_a_tier_and_two_auto_graded_parts(tmp_path):
    (tmp_path / "questions" / "interview").mkdir(parents=True)
    (tmp_path / "questions" / "interview" / "x.yaml").write_text(
        "slug: x\ntitle: T\nbody: B\nparts:\n  - {key: a, kind: numeric, answer: 1}\n  - {key: b, kind: free}\n")
    problems = [str(p) for p in read_content(tmp_path).problems]
    assert any("tier is required" in p for p in problems), problems
    assert any("at least two auto-graded parts" in p and "not 1" in p for p in problems), problems


def test_duplicate_slugs_and_card_ids_across_files(tmp_path):
    q = "slug: {s}\ntitle: T\nbody: B\nparts: [{{key: a, prompt: P, kind: numeric, answer: 1}}]\n"
    for group in ("one", "two"):
        (tmp_path / "questions" / group).mkdir(parents=True)
        (tmp_path / "questions" / group / "same.yaml").write_text(q.format(s="same"))
    (tmp_path / "drills").mkdir()
    deck = "deck: {{slug: {s}, title: T}}\ncards:\n  - {{id: card-1, front: F, back: B}}\n"
    (tmp_path / "drills" / "d1.yaml").write_text(deck.format(s="d1"))
    (tmp_path / "drills" / "d2.yaml").write_text(deck.format(s="d2"))
    problems = [str(p) for p in read_content(tmp_path).problems]
    assert any("slug 'same' is also used by" in p for p in problems), problems
    assert any("card id 'card-1' is also used in" in p for p in problems), problems


def test_the_drill_cards_question_group_is_not_a_folder_name(tmp_path):
    """questions/drills/ would be taken for the drill cards' mirrors (and pruned with them): it is refused."""
    (tmp_path / "questions" / CARD_GROUP).mkdir(parents=True)
    (tmp_path / "questions" / CARD_GROUP / "q.yaml").write_text(
        "slug: q\ntitle: T\nbody: B\nparts: [{key: a, prompt: P, kind: numeric, answer: 1}]\n")
    problems = [str(p) for p in read_content(tmp_path).problems]
    assert any("questions/drills:1: the group 'drills' holds the drill cards" in p for p in problems), problems


def test_card_answers_are_validated(tmp_path):
    (tmp_path / "drills").mkdir()
    (tmp_path / "drills" / "d.yaml").write_text(
        "deck: {slug: d, title: T}\ncards:\n  - id: c\n    front: F\n    back: B\n"
        "    answer: {kind: symbolic, expected: 'a*b', symbols: [a]}\n")
    problems = [str(p) for p in read_content(tmp_path).problems]
    assert any("drills/d.yaml:6: card 'c': answer: a formula does not parse" in p for p in problems), problems


# ----------------------------------------------------------------------------- content_stats

FORMULA_TOPICS = {"obs-update", "obs-loss", "kv-cache", "affine-quant", "affine-dequant", "quant-snr", "group-bits",
                  "smoothquant-scale", "awq-scale", "int8-gemm-zero-point", "ste", "e4m3-max", "nvfp4-bits"}


def test_content_stats_json():
    stats = json.loads(run("content_stats", "--json", "--path", str(FIXTURES)))
    q = stats["questions"]
    assert q["by_source"]["interview"] == 25
    assert q["by_tier"] == {"L1": 10, "L2": 10, "L3": 5}
    assert q["by_source"].get("qa") == 20, "the 20 seed Q&As (fixtures/questions/qa/) are expected"
    assert q["total"] == sum(q["by_source"].values())
    assert stats["parts"]["total"] == sum(stats["parts"]["by_kind"].values())
    assert stats["parts"]["by_kind"]["symbolic"] >= 12
    assert FORMULA_TOPICS <= set(stats["symbolic_topics"]), FORMULA_TOPICS - set(stats["symbolic_topics"])
    assert stats["cards"] >= 60
    assert stats["decks"] >= 1
    assert stats["labs"] == sum(1 for p in (FIXTURES / "labs").iterdir() if (p / "lab.toml").is_file())
    assert stats["problems"] == 0


def test_every_interview_question_comes_from_section_12_with_parameterized_variant():
    content = read_content(FIXTURES)
    interview = [q for q in content.questions if q.group == "interview"]
    sections = sorted(int(re.search(r"Q(\d+)", q.source).group(1)) for q in interview)
    assert sections == list(range(1, 26))
    assert all(q.answer_points and q.pitfalls for q in interview)
    assert any(p.spec.get("params") for q in interview for p in q.parts)


def test_content_stats_table():
    out = run("content_stats", "--path", str(FIXTURES))
    assert "questions" in out and "interview" in out and "formula topics" in out


def test_every_correction_is_in_the_errata():
    errata = (ROOT / "docs" / "errata.md").read_text()
    content = read_content(FIXTURES)
    for q in content.questions:
        if q.group in ("interview", "derivations") and q.corrections:
            assert f"`{q.slug}`" in errata, f"{q.slug}: corrections not listed in docs/errata.md"


@pytest.mark.django_db
def test_labs_sync_is_skipped_with_a_message_when_labs_content_is_missing(tree, monkeypatch):
    from content import load

    monkeypatch.setattr(load, "_labs_sync", lambda: (None, "labs: skipped (test)"))
    out = run("load_content", "--path", str(tree))
    assert "labs: skipped (test)" in out and "questions: created" in out


def test_dates_in_yaml_become_text(tmp_path):
    (tmp_path / "questions" / "misc").mkdir(parents=True)
    (tmp_path / "questions" / "misc" / "x.yaml").write_text(
        "slug: x\ntitle: T\nbody: B\nsource: {seed: s, section: 2024-05-01}\n"
        "parts: [{key: a, prompt: P, kind: numeric, answer: 1}]\n")
    content = read_content(tmp_path)
    assert content.problems == []
    json.dumps(content.questions[0].as_dict())


def test_parts_need_a_prompt(tmp_path):
    (tmp_path / "questions" / "misc").mkdir(parents=True)
    (tmp_path / "questions" / "misc" / "x.yaml").write_text(
        "slug: x\ntitle: T\nbody: B\nparts:\n  - key: a\n    kind: numeric\n    answer: 1\n")
    problems = [str(p) for p in read_content(tmp_path).problems]
    assert len(problems) == 1 and problems[0].endswith("questions/misc/x.yaml:5: part 'a': missing required key 'prompt'"), problems


def test_lengths_fit_the_database_columns(tmp_path):
    (tmp_path / "questions" / "misc").mkdir(parents=True)
    key = "k" * 41
    (tmp_path / "questions" / "misc" / "x.yaml").write_text(
        f"slug: x\ntitle: '{'t' * 301}'\nbody: B\nparts: [{{key: {key}, prompt: P, kind: numeric, answer: 1}}]\n")
    problems = [str(p) for p in read_content(tmp_path).problems]
    assert any("x.yaml:2: question: title is longer than 300" in p for p in problems), problems
    assert any("key is longer than 40" in p for p in problems), problems


def test_prompt_placeholders_name_parameters(tmp_path):
    (tmp_path / "questions" / "misc").mkdir(parents=True)
    (tmp_path / "questions" / "misc" / "x.yaml").write_text(
        "slug: x\ntitle: T\nbody: B\nparts:\n  - key: a\n    prompt: 'n = {{n}}, m = {{m}}'\n    kind: numeric\n"
        "    params: {n: {min: 1, max: 3}}\n    formula: 2*n\n")
    problems = [str(p) for p in read_content(tmp_path).problems]
    assert len(problems) == 1 and "x.yaml:6: part 'a': the prompt uses {{m}}" in problems[0], problems


def test_content_stats_errata_lists_every_correction():
    content = read_content(FIXTURES)
    out = run("content_stats", "--errata", "--path", str(FIXTURES))
    n = sum(len(q.corrections) for q in content.questions) + sum(len(c.corrections) for c in content.cards)
    assert len([line for line in out.splitlines() if line.startswith("- ")]) == n
    assert "`gptq-obs-update`" in out
