"""``manage.py load_content [--path fixtures] [--check]``: validate every content file, then load the questions.

Everything is validated first (questions, drill decks, labs); any problem is printed as ``path:line: message``
and the command exits 1 without writing anything. Otherwise questions and parts are loaded in one transaction,
keyed by slug and part key and updated in place (responses survive), a changed answer spec writes an
``AnswerKeyChange`` row, and a question whose content hash is unchanged is not touched. ``--check`` runs the
whole load and rolls it back, so it prints what a real run would change. The work is ``content.load``'s;
this command prints it.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from content.load import LoadFailed, content_validate, content_write


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
        content, problems = content_validate(root)
        if problems:
            for p in problems:
                self.stderr.write(p)
            raise CommandError(f"{len(problems)} problem{'s' if len(problems) != 1 else ''} found; "
                               f"nothing was loaded")
        try:
            loaded = content_write(content, root=root, check=check)
        except LoadFailed as exc:
            raise CommandError(str(exc)) from exc
        report, drills, catalogue = loaded.questions, loaded.drills, loaded.catalogue
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
        w(f"{prefix}drills: {len(content.cards)} cards in {len(content.decks)} decks: created {drills['created']}, "
          f"updated {drills['updated']}, unchanged {drills['unchanged']}")
        for note in drills["notes"]:
            w(f"  note: {note}")
        n_quizzes, n_mirrors = len(catalogue["quizzes"]), len(catalogue["card_questions"])
        w(f"{prefix}quizzes: {n_quizzes} built-in quiz{'zes' if n_quizzes != 1 else ''} created or updated, "
          f"{n_mirrors} drill card question{'s' if n_mirrors != 1 else ''} changed")
        if loaded.labs_skip:
            w(loaded.labs_skip)
        else:
            w(f"labs: {len(loaded.labs)} change{'s' if len(loaded.labs) != 1 else ''}")
            for c in loaded.labs:
                w(f"  {c}")
        if not loaded.changed:
            w("nothing changed")
