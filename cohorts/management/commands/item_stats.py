"""``python manage.py item_stats QUIZ_SLUG --cohort ID [--json]``: the item analysis of a quiz in a cohort
(cohorts/item_analysis.py), over each student's first graded timed attempt. With ``--json`` the last line is
``{"quiz": slug, "cohort": id, "attempts": n, "parts": [{"question", "part", "n", "facility", "sd",
"discrimination", "misconceptions"}, ...]}``."""

import json

from django.core.management.base import BaseCommand, CommandError

from cohorts.item_analysis import item_stats_json
from cohorts.models import Cohort
from quizzes.models import Quiz


def _num(value) -> str:
    return "—" if value is None else f"{value:.3f}"


class Command(BaseCommand):
    help = "Item analysis of a quiz in a cohort: facility, sd, discrimination and misconceptions per part."

    def add_arguments(self, parser):
        parser.add_argument("quiz", metavar="QUIZ_SLUG")
        parser.add_argument("--cohort", type=int, required=True, metavar="ID")
        parser.add_argument("--json", action="store_true", help="end with one JSON line (the contract above)")

    def handle(self, *args, **options):
        cohort = Cohort.objects.filter(pk=options["cohort"]).first()
        if cohort is None:
            raise CommandError(f"no cohort with id {options['cohort']}")
        quiz = Quiz.objects.filter(slug=options["quiz"]).first()
        if quiz is None:
            raise CommandError(f"no quiz {options['quiz']!r}")
        if quiz.cohort_id not in (None, cohort.id):
            raise CommandError(f"quiz {quiz.slug!r} belongs to another cohort")
        stats = item_stats_json(cohort=cohort, quiz=quiz)
        w = self.stdout.write
        w(f"{quiz.slug} in cohort {cohort.id} ({cohort.name}): {stats['attempts']} first attempts")
        w(f"{'part':<48} {'n':>5} {'facility':>9} {'sd':>7} {'discr':>7}  misconceptions")
        for p in stats["parts"]:
            rules = ", ".join(f"{k} {v}" for k, v in p["misconceptions"].items())
            w(f"{p['question'] + ':' + p['part']:<48} {p['n']:>5} {_num(p['facility']):>9} {_num(p['sd']):>7} "
              f"{_num(p['discrimination']):>7}  {rules}")
        if options["json"]:
            w(json.dumps(stats))
