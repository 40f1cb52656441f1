"""Loading validated content into the apps' models, every row through ``content.upsert``.

``content_validate(root)`` reads everything (questions, drill decks, labs) and returns every problem;
``content_write(content, root=..., check=...)`` then writes it in one transaction: questions and parts,
decks and cards, the card mirrors and built-in quizzes (``content.catalogue``), and the labs. Rows are keyed
by their identity in the files (question slug and part key, deck slug and card id, lab slug) and updated in
place, so whatever points at them survives; ``manage.py load_content`` prints what changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from django.apps import apps
from django.db import transaction

from content.catalogue import catalogue_sync
from content.labs import lab_folder_read
from content.reader import CARD_GROUP, Content, DeckData, QuestionData, read_content
from content.upsert import upsert
from drills.models import Card, Deck
from drills.services import card_guid
from labs.models import Lab
from quizzes.models import AnswerKeyChange, Part, Question

# ----------------------------------------------------------------------------- questions


@dataclass
class LoadReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    key_changes: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated)

    def summary(self) -> str:
        return f"created {len(self.created)}, updated {len(self.updated)}, unchanged {len(self.unchanged)}"


def _question_fields(q: QuestionData) -> dict:
    return {"group": q.group, "title": q.title, "tier": q.tier, "tags": q.tags, "source": q.source, "body": q.body,
            "answer_points": q.answer_points, "pitfalls": q.pitfalls, "explanation": q.explanation,
            "corrections": q.corrections, "sources": q.sources, "content_hash": q.content_hash}


def _load_question(q: QuestionData, report: LoadReport) -> None:
    row = Question.objects.filter(slug=q.slug).first()
    file_keys = {p.key for p in q.parts}
    if row is not None and row.content_hash == q.content_hash:
        report.unchanged.append(q.slug)
        kept = list(row.parts.exclude(key__in=file_keys).values_list("key", flat=True))
        for key in kept:
            report.notes.append(f"{q.slug}:{key}: removed from the file but kept (it has responses)")
        return
    written = upsert(Question, {"slug": q.slug}, _question_fields(q), row=row)
    row = written.row
    (report.created if written.outcome == "created" else report.updated).append(q.slug)
    existing = {p.key: p for p in row.parts.all()}
    for part in q.parts:
        fields = {"order": part.order, "kind": part.kind, "prompt": part.prompt, "spec": part.spec,
                  "points": part.points, "tags": part.tags, "explanation": part.explanation}
        old = existing.get(part.key)
        if old is not None and old.spec != part.spec:
            AnswerKeyChange.objects.create(part=old, old_spec=old.spec, new_spec=part.spec)
            report.key_changes.append(f"{q.slug}:{part.key}")
        upsert(Part, {"question": row, "key": part.key}, fields, row=old)
    for key, old in existing.items():
        if key in file_keys:
            continue
        if old.responses.exists() or old.attempt_answers.exists():
            report.notes.append(f"{q.slug}:{key}: removed from the file but kept (it has responses)")
        else:
            old.delete()
            report.notes.append(f"{q.slug}:{key}: removed from the file, deleted (no responses)")


def content_load(content: Content) -> LoadReport:
    """Write the questions of already validated ``content``; call inside a transaction."""
    report = LoadReport()
    for q in content.questions:
        _load_question(q, report)
    file_slugs = {q.slug for q in content.questions}
    for slug in Question.objects.exclude(slug__in=file_slugs).exclude(group=CARD_GROUP).values_list("slug", flat=True):
        report.notes.append(f"{slug}: in the database but not in the files (kept)")
    return report


# ----------------------------------------------------------------------------- drill decks


def decks_load(decks: list[DeckData]) -> dict:
    """Load validated decks, keyed by deck slug and card id, updating in place.

    A card removed from its file is deleted only when nobody has review state for it. Call in a transaction.
    """
    report = {"created": 0, "updated": 0, "unchanged": 0, "notes": []}
    for d in decks:
        deck = upsert(Deck, {"slug": d.slug}, {"title": d.title, "description": d.description,
                                               "source": d.source}).row
        keys = set()
        existing = {card.key: card for card in deck.cards.all()}
        for order, c in enumerate(d.cards):
            keys.add(c.id)
            fields = {"order": order, "front": c.front, "back": c.back, "tags": list(c.tags), "source": c.source,
                      "answer": c.answer, "corrections": list(c.corrections), "sources": list(c.sources)}
            written = upsert(Card, {"deck": deck, "key": c.id}, fields, row=existing.get(c.id),
                             create={"guid": card_guid(deck_slug=deck.slug, key=c.id)})
            report[written.outcome] += 1
        for card in deck.cards.exclude(key__in=keys):
            if card.review_states.exists():
                report["notes"].append(f"{d.slug}/{card.key}: removed from the file but kept (it has review state)")
            else:
                card.delete()
                report["notes"].append(f"{d.slug}/{card.key}: removed from the file, deleted (no review state)")
    return report


# ----------------------------------------------------------------------------- labs


def labs_sync(*, root: Path, dry_run: bool = False) -> tuple[list[str], list[str]]:
    """Mirror every lab folder into a Lab row, in one transaction; idempotent (unchanged folders are no-ops).
    Returns (changes, problems); with problems, or ``dry_run``, nothing is written."""
    with transaction.atomic():
        return _labs_write(root=root, dry_run=dry_run)


def _labs_write(*, root: Path, dry_run: bool) -> tuple[list[str], list[str]]:
    changes: list[str] = []
    problems: list[str] = []
    folders = []
    for folder in sorted(p for p in root.iterdir() if (p / "lab.toml").exists()) if root.is_dir() else []:
        lab, found = lab_folder_read(folder)
        problems += found
        if lab:
            folders.append(lab)
    if problems or dry_run:
        return changes, problems
    for lab in folders:
        fields = {"title": lab.meta["title"], "summary": lab.meta.get("summary", ""), "statement": lab.statement,
                  "starter": lab.starter, "config": lab.meta, "cases": lab.cases, "content_hash": lab.content_hash}
        row = Lab.objects.filter(slug=lab.slug).first()
        if row is not None and row.content_hash == lab.content_hash:
            continue
        # saving sets updated_at, which marks the new version: submissions finished before it may be re-run
        # (rerun_lab)
        written = upsert(Lab, {"slug": lab.slug}, fields, row=row)
        changes.append(f"lab {lab.slug}: {written.outcome}")
    return changes, problems


def _labs_sync():
    """``labs_sync``, or (None, reason) when the labs app is not installed."""
    if not apps.is_installed("labs"):
        return None, "labs: skipped (the labs app is not installed)"
    return labs_sync, None


# ----------------------------------------------------------------------------- everything


class LoadFailed(Exception):
    """The labs could not be written after they validated; the transaction is rolled back."""


@dataclass
class Loaded:
    """What ``content_write`` did (with ``check``: what it would have done)."""

    questions: LoadReport
    drills: dict
    catalogue: dict
    labs: list[str]
    labs_skip: str | None = None

    @property
    def changed(self) -> bool:
        return bool(self.questions.changed or self.drills["created"] or self.drills["updated"]
                    or self.catalogue["quizzes"] or self.catalogue["card_questions"]
                    or (self.labs and self.labs_skip is None))


def content_validate(root: Path) -> tuple[Content, list[str]]:
    """Everything under ``root`` read and checked: the content, and every problem as ``path:line: message``
    (the labs' as ``path: message``)."""
    content = read_content(root)
    problems = [str(p) for p in content.problems]
    sync, _ = _labs_sync()
    if sync is not None:
        try:
            _, lab_problems = sync(root=root / "labs", dry_run=True)
        except Exception as exc:  # the labs side failing must not hide the content problems
            lab_problems = [f"{root / 'labs'}: labs_sync failed: {type(exc).__name__}: {exc}"]
        problems += [str(p) for p in lab_problems]
    return content, problems


class _Rollback(Exception):
    pass


def content_write(content: Content, *, root: Path, check: bool = False) -> Loaded:
    """Write validated ``content`` (and the labs under ``root``) in one transaction; ``check`` rolls it back,
    so the result says what a real run would change (the labs, synced last, say nothing then)."""
    sync, labs_skip = _labs_sync()
    labs_changes: list[str] = []
    try:
        with transaction.atomic():
            loaded = Loaded(questions=content_load(content), drills=decks_load(content.decks),
                            catalogue=catalogue_sync(), labs=labs_changes, labs_skip=labs_skip)
            if sync is not None and not check:
                loaded.labs, lab_problems = sync(root=root / "labs", dry_run=False)
                if lab_problems:
                    raise LoadFailed("labs: " + "; ".join(map(str, lab_problems)))
            if check:
                raise _Rollback
    except _Rollback:
        pass
    return loaded
