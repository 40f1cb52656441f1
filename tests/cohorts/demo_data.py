"""Demo cohorts for a whole test module, made once (demo_cohort_make is the slow part)."""

from __future__ import annotations

from contextlib import contextmanager
from io import StringIO

from django.core.management import call_command
from django.db import transaction

from cohorts.demo import demo_cohort_make


@contextmanager
def demo_cohorts(django_db_blocker, **sizes: dict):
    """The content and one demo cohort per keyword (its demo_cohort_make arguments), inside a transaction
    rolled back at the end: each test of the module runs in a savepoint inside it."""
    with django_db_blocker.unblock():
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            call_command("load_content", stdout=StringIO(), stderr=StringIO())
            yield {name: demo_cohort_make(**size) for name, size in sizes.items()}
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)
