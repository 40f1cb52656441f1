"""Worlds made once for a whole test module, in a transaction rolled back at its end (demo_cohort_make is
the slow part)."""

from __future__ import annotations

from contextlib import contextmanager
from io import StringIO

from django.core.management import call_command
from django.db import connection, transaction

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
            made = {name: demo_cohort_make(**size) for name, size in sizes.items()}
            planner_statistics_refresh()
            yield made
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


def planner_statistics_refresh() -> None:
    """On PostgreSQL, ANALYZE what a module-long transaction made, as autovacuum would once it commits. An
    autovacuum that analyzed meanwhile saw none of its uncommitted rows and left zero-row estimates: the
    planner then chose nested loops, and the quiz gradebook took 4 s instead of 0.07 (20-40 s in a loaded
    run). ANALYZE in the transaction counts its own rows, and autovacuum does not analyze again before the
    transaction ends, when its changes are reported."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
