"""``python manage.py demo_setup``: a demo instructor, a demo student and their cohort, for ``make run``.
Idempotent; prints the credentials. Refuses to run with DEBUG off unless --force (no demo passwords in
production by accident)."""

import os

from django.conf import settings
from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError

from cohorts.models import Cohort
from cohorts.roles import INSTRUCTOR, STUDENT, role_grant
from cohorts.services import cohort_join

COHORT = "Demo cohort"


class Command(BaseCommand):
    help = "Create (or reset) the demo instructor and student."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="also when DEBUG is off")

    def handle(self, *args, **options):
        if not settings.DEBUG and not options["force"]:
            raise CommandError("demo_setup makes accounts with known passwords; use --force with DEBUG off.")
        password = os.environ.get("DEMO_PASSWORD", "quantprep-demo")
        accounts = {}
        for username, role in (("instructor", INSTRUCTOR), ("student", STUDENT)):
            user, _ = User.objects.get_or_create(username=username)
            user.set_password(password)
            user.save()
            role_grant(user=user, role=role)
            accounts[username] = user
        cohort = Cohort.objects.filter(name=COHORT).first() or Cohort.objects.create(name=COHORT)
        cohort.instructors.add(accounts["instructor"])
        cohort_join(user=accounts["student"], invite_code=cohort.invite_code)
        self.stdout.write(f"Demo accounts (password {password!r}): instructor, student; "
                          f"cohort {COHORT!r}, invite code {cohort.invite_code}")
