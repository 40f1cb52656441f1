"""``python manage.py cohort_create NAME --instructor USERNAME [--json]``: what /cohorts/new/ does, from a
shell: the cohort, its first instructor (given the instructor role) and an audit row. Prints the id and
the invite code."""

import json

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError

from cohorts.services import RosterError, cohort_create


class Command(BaseCommand):
    help = "Create a cohort taught by an existing user."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--instructor", required=True, help="username of an existing account")
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args, **options):
        instructor = User.objects.filter(username=options["instructor"]).first()
        if instructor is None:
            raise CommandError(f"No user is called {options['instructor']!r}: create the account first.")
        try:
            cohort = cohort_create(name=options["name"], instructor=instructor)
        except RosterError as exc:
            raise CommandError(str(exc)) from exc
        if options["json"]:
            self.stdout.write(json.dumps({"cohort_id": cohort.id, "name": cohort.name,
                                          "invite_code": cohort.invite_code, "instructor": instructor.username}))
        else:
            self.stdout.write(f"Cohort {cohort.id} “{cohort.name}”, taught by {instructor.username}; "
                              f"invite code {cohort.invite_code}")
