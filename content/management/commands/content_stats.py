"""``manage.py content_stats [--path fixtures] [--json]``: counts of the content, computed from the files."""

from __future__ import annotations

import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from content.reader import Content, content_stats, read_content


def errata_index(content: Content) -> str:
    """Every correction in the content files, one Markdown item each, grouped by file."""
    lines = []
    for q in content.questions:
        for c in q.corrections:
            lines.append(f"- `{q.slug}` ({q.path}): {c}")
    for card in content.cards:
        for c in card.corrections:
            lines.append(f"- card `{card.id}` ({card.path}): {c}")
    return "\n".join(lines)


class Command(BaseCommand):
    help = ("Count questions (by group and tier), parts (by kind), formula topics, drill cards, labs, the "
            "questions and cards with sources and the parts with per-learner numbers.")

    def add_arguments(self, parser):
        default = Path(getattr(settings, "BASE_DIR", Path.cwd())) / "fixtures"
        parser.add_argument("--path", default=str(default), help="the content root (default: fixtures/)")
        parser.add_argument("--json", action="store_true", help="print one JSON object")
        parser.add_argument("--errata", action="store_true",
                            help="print every `corrections:` entry of the content as a Markdown list (for docs/errata.md)")

    def handle(self, *args, **opts):
        root = Path(opts["path"])
        if not root.is_dir():
            raise CommandError(f"{root} is not a folder")
        content = read_content(root)
        stats = content_stats(content)
        if opts["errata"]:
            self.stdout.write(errata_index(content))
            return
        if opts["json"]:
            self.stdout.write(json.dumps(stats, sort_keys=False))
            return
        w = self.stdout.write
        q, p = stats["questions"], stats["parts"]
        w(f"questions        {q['total']:>5}")
        for name, n in q["by_source"].items():
            w(f"  {name:<15}{n:>5}")
        w("interview questions by tier")
        for name, n in q["by_tier"].items():
            w(f"  {name:<15}{n:>5}")
        w(f"parts            {p['total']:>5}")
        for name, n in p["by_kind"].items():
            w(f"  {name:<15}{n:>5}")
        w(f"formula topics   {len(stats['symbolic_topics']):>5}  {', '.join(stats['symbolic_topics'])}")
        w(f"drill cards      {stats['cards']:>5}  ({stats['cards_with_answers']} with a graded answer)")
        w(f"decks            {stats['decks']:>5}")
        w(f"labs             {stats['labs']:>5}")
        w(f"with sources     {stats['sources']:>5}  (questions and cards)")
        w(f"variants         {stats['variants']:>5}  (parts with per-learner numbers)")
        if content.problems:
            w(f"problems         {len(content.problems):>5}  (files with problems are not counted; "
              f"run load_content --check)")
