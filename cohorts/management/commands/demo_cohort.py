"""``python manage.py demo_cohort --students N --quizzes Q --seed S [--json]``: a demo cohort with graded
attempts, lab submissions and drill reviews, deterministic in the seed (cohorts/demo.py). Needs the
question bank: run ``load_content`` first. With ``--json`` the last line is
``{"cohort_id": ..., "instructor": "...", "quizzes": ["slug", ...]}``."""

import json

from django.core.management.base import BaseCommand, CommandError

from cohorts.demo import DemoError, demo_cohort_make


class Command(BaseCommand):
    help = "Create a demo cohort (instructor, students, quizzes with graded attempts, labs, drills)."

    def add_arguments(self, parser):
        parser.add_argument("--students", type=int, default=30)
        parser.add_argument("--quizzes", type=int, default=4)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--json", action="store_true",
                            help="end with one JSON line: cohort_id, instructor, quizzes")

    def handle(self, *args, **options):
        try:
            made = demo_cohort_make(students=options["students"], quizzes=options["quizzes"], seed=options["seed"])
        except DemoError as exc:
            raise CommandError(str(exc)) from exc
        c = made["counts"]
        w = self.stdout.write
        w(f"Demo cohort {made['cohort_id']}: {made['students']} students, {len(made['quizzes'])} quizzes, "
          f"{c['attempts']} graded attempts ({c['answers']} answers, {c['distinct_grades']} distinct gradings), "
          f"{c['submissions']} lab submissions, {c['review_logs']} drill reviews, {c['review_states']} card "
          f"states, in {made['seconds']:.1f} s")
        if made["drills_skipped"]:
            w("drills: skipped (no drill cards loaded: run `python manage.py load_content`)")
        w(f"instructor: {made['instructor']} (password {made['password']!r}); cohort page /cohorts/{made['cohort_id']}/")
        w(f"quizzes: {', '.join(made['quizzes'])}")
        if options["json"]:
            w(json.dumps({"cohort_id": made["cohort_id"], "instructor": made["instructor"],
                          "quizzes": made["quizzes"]}))
