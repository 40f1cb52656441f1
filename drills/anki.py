"""Anki interop, pure functions (plus thin DB helpers at the end).

TSV: Anki's "Notes in Plain Text" with header lines ``#separator:tab``, ``#html:true``, ``#columns:...``,
``#deck:...``, ``#tags column:N``, ``#guid column:N``. A file without headers is front<TAB>back.
A malformed file raises ``AnkiFormatError`` naming the line, and nothing is imported.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import genanki

KNOWN_HEADERS = {"separator", "html", "columns", "deck", "tags column", "guid column", "notetype", "tags"}
MODEL_ID = 1607392319  # fixed: the same note type every export
DISPLAY = re.compile(r"\$\$(.+?)\$\$", re.S)
INLINE = re.compile(r"(?<![\\$])\$(?!\$)(.+?)(?<![\\$])\$")


class AnkiFormatError(ValueError):
    def __init__(self, line: int, message: str):
        super().__init__(f"line {line}: {message}")
        self.line = line


@dataclass
class Note:
    front: str
    back: str
    tags: list[str] = field(default_factory=list)
    guid: str | None = None
    line: int = 0


@dataclass
class Parsed:
    notes: list[Note]
    deck: str | None = None
    html: bool = False


def to_anki_latex(text: str) -> str:
    """``$$..$$`` → ``\\[..\\]`` and ``$..$`` → ``\\(..\\)`` (Anki's MathJax delimiters)."""
    text = DISPLAY.sub(lambda m: r"\[" + m.group(1) + r"\]", text)
    return INLINE.sub(lambda m: r"\(" + m.group(1) + r"\)", text)


def from_anki_latex(text: str) -> str:
    text = re.sub(r"\\\[(.+?)\\\]", lambda m: "$$" + m.group(1) + "$$", text, flags=re.S)
    return re.sub(r"\\\((.+?)\\\)", lambda m: "$" + m.group(1) + "$", text, flags=re.S)


def parse_tsv(data: bytes) -> Parsed:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise AnkiFormatError(line, f"not UTF-8 ({exc.reason} at byte {exc.start})") from None
    sep, html, deck = "\t", False, None
    columns: list[str] | None = None
    tags_col = guid_col = None
    notes: list[Note] = []
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for n, raw in enumerate(lines, start=1):
        line = raw.rstrip("\r")
        if line.startswith("#") and not notes:
            if ":" not in line:
                raise AnkiFormatError(n, f"header line without ':': {line!r}")
            name, value = line[1:].split(":", 1)
            name = name.strip().lower()
            if name not in KNOWN_HEADERS:
                raise AnkiFormatError(n, f"unknown header {name!r}")
            if name == "separator":
                seps = {"tab": "\t", "comma": ",", "semicolon": ";", "space": " ", "pipe": "|", "colon": ":"}
                if value.strip().lower() not in seps and len(value) != 1:
                    raise AnkiFormatError(n, f"unknown separator {value!r}")
                sep = seps.get(value.strip().lower(), value)
            elif name == "html":
                html = value.strip().lower() == "true"
            elif name == "deck":
                deck = value.strip()
            elif name == "columns":
                columns = [c.strip().lower() for c in value.split(sep)]
            elif name in ("tags column", "guid column"):
                try:
                    col = int(value) - 1
                except ValueError:
                    raise AnkiFormatError(n, f"{name} must be a column number") from None
                if name == "tags column":
                    tags_col = col
                else:
                    guid_col = col
            continue
        if not line.strip():
            continue
        fields = line.split(sep)
        width = len(columns) if columns else max(2, 1 + max([c for c in (tags_col, guid_col) if c is not None] or [0]))
        if len(fields) != width:
            raise AnkiFormatError(n, f"expected {width} columns, found {len(fields)}")
        if columns and ("front" in columns or "back" in columns):
            front_i, back_i = columns.index("front"), columns.index("back")
            tags_col = columns.index("tags") if "tags" in columns else tags_col
            guid_col = columns.index("guid") if "guid" in columns else guid_col
        else:
            rest = [i for i in range(width) if i not in (tags_col, guid_col)]
            front_i, back_i = rest[0], rest[1]
        note = Note(front=fields[front_i], back=fields[back_i], line=n,
                    tags=fields[tags_col].split() if tags_col is not None else [],
                    guid=fields[guid_col] or None if guid_col is not None else None)
        if not note.front.strip():
            raise AnkiFormatError(n, "empty front")
        notes.append(note)
    if not notes:
        raise AnkiFormatError(max(1, len(lines)), "no notes in the file")
    return Parsed(notes=notes, deck=deck, html=html)


def _tsv_field(text: str) -> str:
    return text.replace("\t", " ").replace("\r\n", "<br>").replace("\n", "<br>")


def render_tsv(*, deck_name: str, notes: list[Note]) -> str:
    out = ["#separator:tab", "#html:true", "#columns:guid\tfront\tback\ttags", f"#deck:{deck_name}",
           "#guid column:1", "#tags column:4"]
    for note in notes:
        out.append("\t".join([note.guid or "", _tsv_field(to_anki_latex(note.front)),
                              _tsv_field(to_anki_latex(note.back)), " ".join(note.tags)]))
    return "\n".join(out) + "\n"


def _int_id(name: str) -> int:
    return int(hashlib.sha1(name.encode()).hexdigest()[:8], 16)


MODEL = genanki.Model(MODEL_ID, "QuantPrep Basic", fields=[{"name": "Front"}, {"name": "Back"}],
                      templates=[{"name": "Card 1", "qfmt": "{{Front}}",
                                  "afmt": "{{FrontSide}}<hr id=answer>{{Back}}"}])


def render_apkg(*, deck_slug: str, deck_name: str, notes: list[Note], path: Path) -> None:
    deck = genanki.Deck(_int_id("quantprep-deck:" + deck_slug), deck_name)
    for note in notes:
        deck.add_note(genanki.Note(model=MODEL, fields=[to_anki_latex(note.front), to_anki_latex(note.back)],
                                   tags=[t.replace(" ", "_") for t in note.tags], guid=note.guid))
    genanki.Package(deck).write_to_file(str(path))


def read_apkg(path: Path) -> list[Note]:
    with zipfile.ZipFile(path) as z, tempfile.TemporaryDirectory() as tmp:
        z.extract("collection.anki2", tmp)
        con = sqlite3.connect(Path(tmp) / "collection.anki2")
        try:
            rows = con.execute("select guid, flds, tags from notes order by id").fetchall()
        finally:
            con.close()
    notes = []
    for guid, flds, tags in rows:
        front, back = (flds.split("\x1f") + [""])[:2]
        notes.append(Note(front=from_anki_latex(front), back=from_anki_latex(back), tags=tags.split(), guid=guid))
    return notes


# ----------------------------------------------------------------------------- thin DB helpers


def _deck_notes(deck) -> list[Note]:
    return [Note(front=c.front, back=c.back, tags=list(c.tags), guid=c.guid) for c in deck.cards.all()]


def export_tsv(deck) -> str:
    return render_tsv(deck_name=deck.title, notes=_deck_notes(deck))


def export_apkg_bytes(deck) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "deck.apkg"
        render_apkg(deck_slug=deck.slug, deck_name=deck.title, notes=_deck_notes(deck), path=path)
        return path.read_bytes()


def note_key(note: Note) -> str:
    """Our card id for an imported note: from its GUID when it has one, else from its front (so re-importing
    the same file updates instead of duplicating)."""
    basis = note.guid or note.front.strip()
    return "anki-" + hashlib.sha1(basis.encode()).hexdigest()[:12]


def import_notes(*, deck_slug: str, notes: list[Note], title: str | None = None) -> dict:
    """Write notes into deck ``deck_slug`` in one transaction: a note whose GUID is one of our cards updates it."""
    from django.db import transaction

    from content.upsert import upsert
    from quizzes.templatetags.mathdown import clean_rich_text

    from .models import Card, Deck
    from .services import card_guid

    report = {"created": 0, "updated": 0, "unchanged": 0}
    with transaction.atomic():
        deck = upsert(Deck, {"slug": deck_slug}, {"title": title or deck_slug, "description": "", "source": ""}).row
        for order, note in enumerate(notes):
            front, back = (clean_rich_text(from_anki_latex(t.replace("<br>", "\n"))) for t in (note.front, note.back))
            existing = Card.objects.filter(guid=note.guid).first() if note.guid else None
            key = existing.key if existing is not None and existing.deck_id == deck.id else note_key(note)
            fields = {"front": front, "back": back, "tags": list(note.tags)}
            if existing is None:
                fields["order"] = order
            row = Card.objects.filter(deck=deck, key=key).first() or existing
            written = upsert(Card, {"deck": deck, "key": key}, fields, row=row,
                             create={"guid": note.guid or card_guid(deck_slug=deck.slug, key=key)})
            report[written.outcome] += 1
    return report
