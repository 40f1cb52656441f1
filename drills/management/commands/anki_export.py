"""``manage.py anki_export SLUG --format tsv|apkg --output PATH``."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from drills import anki
from drills.models import Deck


class Command(BaseCommand):
    help = "Export a deck as Anki TSV (with #separator:tab headers) or as an .apkg with stable GUIDs."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--format", choices=["tsv", "apkg"], default="tsv")
        parser.add_argument("--output", required=True)

    def handle(self, *args, **opts):
        deck = Deck.objects.filter(slug=opts["slug"]).first()
        if deck is None:
            raise CommandError(f"no deck {opts['slug']!r}")
        out = Path(opts["output"])
        if opts["format"] == "tsv":
            out.write_text(anki.export_tsv(deck), encoding="utf-8")
        else:
            out.write_bytes(anki.export_apkg_bytes(deck))
        self.stdout.write(f"{deck.slug}: {deck.cards.count()} cards → {out}")
