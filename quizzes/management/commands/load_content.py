"""``manage.py load_content [--path fixtures] [--check]``: validate every content file, then load the questions.

Everything is validated first (questions, drill decks, labs); any problem is printed as ``path:line: message``
and the command exits 1 without writing anything. Otherwise questions and parts are loaded in one transaction,
keyed by slug and part key and updated in place (responses survive), a changed answer spec writes an
``AnswerKeyChange`` row, and a question whose content hash is unchanged is not touched. ``--check`` runs the
whole load and rolls it back, so it prints what a real run would change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from drills.services import decks_load
from quizzes.catalogue import catalogue_sync
from quizzes.content import CARD_GROUP, Content, QuestionData, read_content
from quizzes.models import AnswerKeyChange, Part, Question


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
            "corrections": q.corrections, "content_hash": q.content_hash}


def _load_question(q: QuestionData, report: LoadReport) -> None:
    row = Question.objects.filter(slug=q.slug).first()
    file_keys = {p.key for p in q.parts}
    if row is not None and row.content_hash == q.content_hash:
        report.unchanged.append(q.slug)
        kept = list(row.parts.exclude(key__in=file_keys).values_list("key", flat=True))
        for key in kept:
            report.notes.append(f"{q.slug}:{key}: removed from the file but kept (it has responses)")
        return
    if row is None:
        row = Question.objects.create(slug=q.slug, **_question_fields(q))
        report.created.append(q.slug)
    else:
        for name, value in _question_fields(q).items():
            setattr(row, name, value)
        row.save()
        report.updated.append(q.slug)
    existing = {p.key: p for p in row.parts.all()}
    for part in q.parts:
        fields = {"order": part.order, "kind": part.kind, "prompt": part.prompt, "spec": part.spec,
                  "points": part.points, "tags": part.tags, "explanation": part.explanation}
        old = existing.get(part.key)
        if old is None:
            Part.objects.create(question=row, key=part.key, **fields)
            continue
        if old.spec != part.spec:
            AnswerKeyChange.objects.create(part=old, old_spec=old.spec, new_spec=part.spec)
            report.key_changes.append(f"{q.slug}:{part.key}")
        if any(getattr(old, k) != v for k, v in fields.items()):
            for k, v in fields.items():
                setattr(old, k, v)
            old.save()
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


class _Rollback(Exception):
    pass


def _labs_sync():
    """``labs.content.labs_sync``, or (None, reason) when the labs side is not there yet."""
    try:
        from labs.content import labs_sync
    except ImportError as exc:
        return None, f"labs: skipped (labs.content.labs_sync is not importable: {exc})"
    return labs_sync, None


class Command(BaseCommand):
    help = "Validate the content files (questions, drill decks, labs) and load them into the database."

    def add_arguments(self, parser):
        default = Path(getattr(settings, "BASE_DIR", Path.cwd())) / "fixtures"
        parser.add_argument("--path", default=str(default), help="the content root (default: fixtures/)")
        parser.add_argument("--check", action="store_true",
                            help="validate and show what would change, write nothing")

    def handle(self, *args, **opts):
        root = Path(opts["path"])
        if not root.is_dir():
            raise CommandError(f"{root} is not a folder")
        check = opts["check"]
        content = read_content(root)
        problems = [str(p) for p in content.problems]
        labs_sync, labs_skip = _labs_sync()
        labs_changes: list[str] = []
        if labs_sync is not None:
            try:
                labs_changes, lab_problems = labs_sync(root=root / "labs", dry_run=True)
            except Exception as exc:  # the labs side failing must not hide the content problems
                lab_problems = [f"{root / 'labs'}: labs_sync failed: {type(exc).__name__}: {exc}"]
            problems += [str(p) for p in lab_problems]
        if problems:
            for p in problems:
                self.stderr.write(p)
            raise CommandError(f"{len(problems)} problem{'s' if len(problems) != 1 else ''} found; "
                               f"nothing was loaded")
        n_cards = len(content.cards)
        try:
            with transaction.atomic():
                report = content_load(content)
                drills = decks_load(content.decks)
                catalogue = catalogue_sync()
                if labs_sync is not None and not check:
                    labs_changes, lab_problems = labs_sync(root=root / "labs", dry_run=False)
                    if lab_problems:
                        raise CommandError("labs: " + "; ".join(map(str, lab_problems)))
                if check:
                    raise _Rollback
        except _Rollback:
            pass
        w = self.stdout.write
        prefix = "check (nothing written): would have " if check else ""
        w(f"{prefix}questions: {report.summary()}")
        for slug in report.created:
            w(f"  created {slug}")
        for slug in report.updated:
            w(f"  updated {slug}")
        for ref in report.key_changes:
            w(f"  answer key changed: {ref} (recorded; `python manage.py regrade --part {ref}` shows what a "
              "regrade would change)")
        for note in report.notes:
            w(f"  note: {note}")
        w(f"{prefix}drills: {n_cards} cards in {len(content.decks)} decks: created {drills['created']}, "
          f"updated {drills['updated']}, unchanged {drills['unchanged']}")
        for note in drills["notes"]:
            w(f"  note: {note}")
        n_quizzes, n_mirrors = len(catalogue["quizzes"]), len(catalogue["card_questions"])
        w(f"{prefix}quizzes: {n_quizzes} built-in quiz{'zes' if n_quizzes != 1 else ''} created or updated, "
          f"{n_mirrors} drill card question{'s' if n_mirrors != 1 else ''} changed")
        if labs_skip:
            w(labs_skip)
        else:
            w(f"labs: {len(labs_changes)} change{'s' if len(labs_changes) != 1 else ''}")
            for c in labs_changes:
                w(f"  {c}")
        if not report.changed and not (drills["created"] or drills["updated"]) and not n_quizzes and not n_mirrors and not (labs_changes and labs_sync is not None):
            w("nothing changed")
