"""Anki interop: the seed TSV, Anki's own export format, malformed files, TSV and .apkg round trips."""

import sqlite3
import tempfile
import zipfile
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from content.load import decks_load
from content.reader import read_content
from drills import anki
from drills.models import Card, Deck

SEED = Path("/work/shared/seeds/000_e7fe22d8d9a90153.txt")
SEED_COPY = Path(__file__).parent / "data" / "000_seed.txt"
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


def seed_path() -> Path:
    return SEED if SEED.exists() else SEED_COPY


@pytest.mark.django_db
def test_importing_the_seed_file_yields_its_ten_cards_and_again_updates_nothing(tmp_path):
    call_command("anki_import", str(seed_path()), "--deck", "seed")
    cards = Card.objects.filter(deck__slug="seed")
    assert cards.count() == 10
    assert cards.filter(front__startswith="What is the W4A16").exists()
    call_command("anki_import", str(seed_path()), "--deck", "seed")
    assert Card.objects.filter(deck__slug="seed").count() == 10


def test_ankis_own_export_format_is_read():
    data = (b"#separator:tab\n#html:true\n#deck:Quant\n#tags column:3\n"
            b"What is \\(x^2\\)?\tA <b>square</b>\tmath algebra\nQ2\tA2\t\n")
    parsed = anki.parse_tsv(data)
    assert parsed.deck == "Quant" and parsed.html
    assert [(n.front, n.back, n.tags) for n in parsed.notes] == [
        ("What is \\(x^2\\)?", "A <b>square</b>", ["math", "algebra"]), ("Q2", "A2", [])]
    cols = anki.parse_tsv(b"#separator:tab\n#columns:Back\tFront\nb1\tf1\n")
    assert (cols.notes[0].front, cols.notes[0].back) == ("f1", "b1")


@pytest.mark.django_db
@pytest.mark.parametrize("data, line", [
    (b"q1\ta1\nq2\ta2\textra\nq3\ta3\n", 2),
    (b"#separator:tab\n#colour:blue\nq\ta\n", 2),
    (b"q1\ta1\nq2\ta\xff2\n", 2),
    (b"q1\ta1\nonly-one-column\n", 2),
])
def test_a_malformed_file_imports_nothing_and_names_the_line(tmp_path, data, line):
    path = tmp_path / "bad.txt"
    path.write_bytes(data)
    with pytest.raises(CommandError) as exc:
        call_command("anki_import", str(path), "--deck", "bad")
    assert f"bad.txt:{line}:" in str(exc.value) and "nothing was imported" in str(exc.value)
    assert not Card.objects.exists() and not Deck.objects.exists()


def test_latex_is_converted_to_ankis_form_and_back():
    text = "Inline $a_i^2$ and display $$\\sum_i x_i$$ cost \\$5"
    anki_text = anki.to_anki_latex(text)
    assert anki_text == "Inline \\(a_i^2\\) and display \\[\\sum_i x_i\\] cost \\$5"
    assert anki.from_anki_latex(anki_text) == text


def load_core() -> Deck:
    content = read_content(FIXTURES)
    decks_load([d for d in content.decks if d.slug == "core"])
    return Deck.objects.get(slug="core")


@pytest.mark.django_db
def test_tsv_export_and_reimport_round_trips_front_back_tags_guids(tmp_path):
    deck = load_core()
    before = {c.guid: (c.front, c.back, c.tags) for c in deck.cards.all()}
    out = tmp_path / "core.txt"
    call_command("anki_export", "core", "--format", "tsv", "--output", str(out))
    text = out.read_text()
    assert text.startswith("#separator:tab\n#html:true\n#columns:guid\tfront\tback\ttags\n")
    parsed = anki.parse_tsv(text.encode())
    assert {n.guid: (anki.from_anki_latex(n.front), anki.from_anki_latex(n.back), n.tags)
            for n in parsed.notes} == before
    # edit one note in "Anki" and re-import: the card is updated in place, nothing duplicated
    edited = text.replace("4-bit weights, 16-bit activations.", "Four-bit weights, 16-bit activations.")
    out.write_text(edited)
    call_command("anki_import", str(out), "--deck", "core")
    assert deck.cards.count() == len(before)
    assert deck.cards.get(key="w4a16-vs-w4a4").back.startswith("Four-bit weights")


@pytest.mark.django_db
def test_apkg_export_has_stable_guids_and_reimport_round_trips(tmp_path):
    deck = load_core()
    before = {c.guid: (c.front, c.back, c.tags) for c in deck.cards.all()}
    out = tmp_path / "core.apkg"
    call_command("anki_export", "core", "--format", "apkg", "--output", str(out))
    with zipfile.ZipFile(out) as z, tempfile.TemporaryDirectory() as tmp:
        z.extract("collection.anki2", tmp)
        con = sqlite3.connect(Path(tmp) / "collection.anki2")
        rows = con.execute("select guid, flds, tags from notes").fetchall()
        con.close()
    got = {g: (anki.from_anki_latex(f.split("\x1f")[0]), anki.from_anki_latex(f.split("\x1f")[1]), t.split())
           for g, f, t in rows}
    assert got == before
    again = tmp_path / "again.apkg"
    call_command("anki_export", "core", "--format", "apkg", "--output", str(again))
    assert {n.guid for n in anki.read_apkg(again)} == set(before)
    call_command("anki_import", str(out), "--deck", "core")
    assert deck.cards.count() == len(before)


@pytest.mark.django_db
def test_load_content_loads_decks_idempotently_and_keeps_reviewed_cards():
    from datetime import UTC, datetime

    from drills.services import review_record
    from tests.factories import user_make

    call_command("load_content", "--path", str(FIXTURES))
    n = Card.objects.count()
    assert n == len(read_content(FIXTURES).cards) and Deck.objects.count() == 5
    card = Card.objects.get(deck__slug="core", key="w4a16-vs-w4a4")
    review_record(user=user_make("ana"), card=card, rating=3, now=datetime(2026, 1, 1, tzinfo=UTC))
    call_command("load_content", "--path", str(FIXTURES))
    assert Card.objects.count() == n
    card.refresh_from_db()
    assert card.review_states.count() == 1
