"""``manage.py anki_import FILE --deck SLUG``: import an Anki TSV (or .apkg) into a deck; all or nothing."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from drills import anki


class Command(BaseCommand):
    help = "Import an Anki notes-in-plain-text file (or .apkg) into a deck; a malformed file imports nothing."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--deck", required=True, help="deck slug (created if missing)")

    def handle(self, *args, **opts):
        path = Path(opts["file"])
        if not path.is_file():
            raise CommandError(f"{path}: no such file")
        try:
            if path.suffix == ".apkg":
                notes, title = anki.read_apkg(path), None
            else:
                parsed = anki.parse_tsv(path.read_bytes())
                notes, title = parsed.notes, parsed.deck
        except anki.AnkiFormatError as exc:
            raise CommandError(f"{path}:{exc.line}: {exc}; nothing was imported") from None
        report = anki.import_notes(deck_slug=opts["deck"], notes=notes, title=title)
        self.stdout.write(f"{opts['deck']}: created {report['created']}, updated {report['updated']}, "
                          f"unchanged {report['unchanged']}")
