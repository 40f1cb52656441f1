"""``python manage.py regrade --part QUESTION_SLUG:PART_KEY [--apply] [--reason TEXT] [--include-overridden]
[--json]``: grade every graded attempt answer to a part again against its current key, with each attempt's own
numbers (quizzes/services/regrades.py). Without ``--apply`` a dry run: it lists what would change and writes
nothing. With ``--json`` the last line is the plan: ``{"part", "answers_checked", "answers_changed",
"skipped_overridden", "changes": [...], "attempt_totals": [...], "applied", "regrade"}``."""

import json

from django.core.management.base import BaseCommand, CommandError

from quizzes.services.regrades import RegradeError, part_by_ref, regrade_apply, regrade_plan


class Command(BaseCommand):
    help = "Regrade a part's answers against its current key (a dry run unless --apply)."

    def add_arguments(self, parser):
        parser.add_argument("--part", required=True, metavar="QUESTION_SLUG:PART_KEY")
        parser.add_argument("--apply", action="store_true", help="write the changes (default: a dry run)")
        parser.add_argument("--reason", default="",
                            help="shown to the learners whose grade changes (default, after a key change: "
                                 "'answer key corrected')")
        parser.add_argument("--include-overridden", action="store_true",
                            help="also regrade answers an instructor scored by hand")
        parser.add_argument("--json", action="store_true", help="end with one JSON line (the plan)")

    def handle(self, *args, **options):
        try:
            part = part_by_ref(options["part"])
            if options["apply"]:
                plan, regrade = regrade_apply(part=part, reason=options["reason"],
                                              include_overridden=options["include_overridden"],
                                              key_change=part.key_changes.order_by("-changed_at").first())
            else:
                plan, regrade = regrade_plan(part=part, include_overridden=options["include_overridden"]), None
        except RegradeError as exc:
            raise CommandError(str(exc)) from exc
        w = self.stdout.write
        for c in plan.changes:
            w(f"{c.student} {c.quiz} attempt {c.attempt_id}: {c.old_score:g} -> {c.new_score:g}"
              + (f" ({c.old_misconception or '-'} -> {c.new_misconception or '-'})"
                 if c.old_misconception != c.new_misconception else ""))
        verb = "changed" if options["apply"] else "would change"
        w(f"{options['part']}: {plan.answers_checked} answers checked, {len(plan.changes)} {verb}, "
          f"{len(plan.totals)} attempt totals {'moved' if options['apply'] else 'would move'}"
          + (f", {plan.skipped_overridden} scored by hand left alone" if plan.skipped_overridden else "")
          + ("" if options["apply"] else " (dry run: nothing written; --apply to write)"))
        if options["json"]:
            w(json.dumps({**plan.as_json(), "applied": bool(options["apply"]),
                          "regrade": regrade.id if regrade else None}))
