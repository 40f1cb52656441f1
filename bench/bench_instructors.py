"""The instructor's workspace at the size of a large course: every instructor page (the workspace, the
item analysis, grade corrections) and both CSV exports for a demo cohort of 500 students × 10 quizzes
(cohorts/demo.py), timed through django.test.Client as the
instructor, with the number of queries each one makes, against the target "under 1 s each". Baselines
measured in the same run: the cohort matrix (best and latest score per student and quiz) computed by the
database's aggregates vs. every graded attempt loaded into Python and reduced in a loop; the long CSV as
one streamed query vs. one query per attempt. A throwaway SQLite database, or with ``--postgres URL`` (or
TEST_POSTGRES_URL) a throwaway PostgreSQL database ``quantprep_bench_<pid>`` on that server, dropped at the end.

    python bench/bench_instructors.py [--students 500] [--quizzes 10] [--repeats 5] [--postgres URL]
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
WORK = Path(tempfile.mkdtemp(prefix="quantprep-bench-instructors-"))
TARGET_S = 1.0


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=500)
    parser.add_argument("--quizzes", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per page, after one warm-up")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--postgres", default=os.environ.get("TEST_POSTGRES_URL", ""),
                        help="a PostgreSQL server URL: the benchmark runs in a throwaway database on it")
    return parser.parse_args()


def _with_db(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


def _admin(url: str, sql: str) -> None:
    """CREATE/DROP DATABASE through the URL's own database, or the server's ``postgres`` one."""
    import psycopg

    try:
        conn = psycopg.connect(url, autocommit=True)
    except psycopg.OperationalError:
        conn = psycopg.connect(_with_db(url, "postgres"), autocommit=True)
    with conn:
        conn.execute(sql)


def main() -> None:
    args = _parse()
    pg_db = f"quantprep_bench_{os.getpid()}" if args.postgres else None
    if pg_db:
        _admin(args.postgres, f'CREATE DATABASE "{pg_db}"')
        database_url = _with_db(args.postgres, pg_db)
    else:
        database_url = f"sqlite:///{WORK / 'bench.sqlite3'}"
    os.environ.update(DJANGO_SETTINGS_MODULE="config.settings.dev", QUANTPREP_VAR_DIR=str(WORK),
                      DATABASE_URL=database_url, DEBUG="0")
    try:
        run(args, "PostgreSQL" if pg_db else "SQLite")
    finally:
        if pg_db:
            from django.db import connections

            connections.close_all()
            _admin(args.postgres, f'DROP DATABASE IF EXISTS "{pg_db}"')
        shutil.rmtree(WORK, ignore_errors=True)


def _consume(response) -> int:
    if response.streaming:
        return sum(len(chunk) for chunk in response.streaming_content)
    return len(response.content)


def _timed(fn, repeats: int) -> tuple[float, object]:
    """Median seconds of ``repeats`` runs after one warm-up, and the last run's value."""
    value = fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), value


def run(args: argparse.Namespace, engine: str) -> None:
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.db import connection
    from django.db.models import Count
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, setup_test_environment

    from cohorts.demo import demo_cohort_make
    from cohorts.models import Cohort
    from cohorts.selectors import cohort_quizzes, cohort_students
    from labs.models import Submission
    from quizzes.models import Attempt, AttemptAnswer, Part

    setup_test_environment()  # the test client's host, and no e-mail leaves
    warnings.filterwarnings("ignore", message="No directory at")  # no collectstatic here
    start = time.perf_counter()
    call_command("migrate", verbosity=0)
    call_command("load_content", stdout=io.StringIO())
    setup_s = time.perf_counter() - start
    made = demo_cohort_make(students=args.students, quizzes=args.quizzes, seed=args.seed)
    c = made["counts"]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")  # the planner's statistics, as autovacuum keeps them on a live server
    version = (connection.Database.sqlite_version if connection.vendor == "sqlite"
               else f"{connection.pg_version // 10000}.{connection.pg_version % 10000}")
    print(f"{engine} {version}, {os.cpu_count()} CPUs; migrate + load_content {setup_s:.1f} s; demo_cohort "
          f"{args.students} students × {args.quizzes} quizzes in {made['seconds']:.1f} s: {c['attempts']} graded "
          f"attempts, {c['answers']} answers, {c['submissions']} submissions, {c['review_logs']} reviews"
          + ("; ANALYZE after seeding" if connection.vendor == "postgresql" else "") + "\n")

    cohort = Cohort.objects.get(pk=made["cohort_id"])
    quiz = made["quizzes"][len(made["quizzes"]) // 2]
    attempt = Attempt.objects.filter(quiz__slug=quiz).order_by("id").first()
    # the quiz's part whose answers matched misconceptions most often: the busiest report
    part_id, rule = (AttemptAnswer.objects.filter(attempt__quiz__slug=quiz).exclude(misconception="")
                     .values("part_id", "misconception").annotate(n=Count("id")).order_by("-n")
                     .values_list("part_id", "misconception").first())
    lab = Submission.objects.values("lab__slug").annotate(n=Count("id")).order_by("-n")[0]["lab__slug"]
    answer_id = AttemptAnswer.objects.filter(attempt__quiz__slug=quiz, part_id=part_id).values_list("id", flat=True)[0]
    client = Client()
    client.force_login(User.objects.get(username=made["instructor"]))
    base = f"/cohorts/{cohort.id}/"
    pages = [("/cohorts/", "cohorts overview"), (base, "cohort matrix, best"),
             (base + "?view=latest&sort=risk", "cohort matrix, latest, by risk"), (base + "roster/", "roster"),
             (f"{base}quizzes/{quiz}/", "quiz gradebook"), (f"{base}attempts/{attempt.id}/", "one attempt"),
             (base + "export.csv", "wide CSV"), (base + "responses.csv", "long CSV"),
             (f"{base}quizzes/{quiz}/parts/{part_id}/", "part report"),
             (f"{base}quizzes/{quiz}/parts/{part_id}/answers/?misconception={rule}", "answers behind a misconception"),
             (f"{base}quizzes/{quiz}/parts/{part_id}/regrade/", "regrade dry run (a rule removed)"),
             (f"{base}quizzes/{quiz}/grading/", "grading queue"), (f"{base}answers/{answer_id}/", "score by hand"),
             (f"{base}labs/{lab}/", "lab analytics")]
    # The dry run with work to do: the part's commonest misconception rule taken out of its key, so every
    # answer that matched it grades again to a plain "wrong" (the worst case: no answer left unchanged by luck)
    part = Part.objects.get(pk=part_id)
    part.spec = {**part.spec, "misconceptions": [m for m in part.spec.get("misconceptions") or []
                                                 if str(m.get("id")) != rule]}
    part.save(update_fields=["spec"])
    print(f"{'page':<44} {'ms':>8} {'queries':>8} {'KiB':>8}   (median of {args.repeats} after 1 warm-up)")
    results = []
    for url, what in pages:
        def get():
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)
            return _consume(response)

        with CaptureQueriesContext(connection) as captured:
            get()
        queries = len(captured)  # now: the next request empties the connection's log
        seconds, size = _timed(get, args.repeats)
        results.append((url, seconds))
        print(f"{url:<44} {seconds * 1e3:>8.1f} {queries:>8} {size / 1024:>8.0f}   {what}")

    # Baseline 1: the matrix. The selector's aggregates against every graded attempt loaded and reduced in Python.
    quizzes = cohort_quizzes(cohort=cohort)

    def aggregated():
        rows = cohort_students(cohort=cohort, quizzes=quizzes, best=True)
        return ({(r.id, q): v for r in rows for q, v in r.scores.items()},
                {(r.id, q): v for r in rows for q, v in r.latest.items()})

    def naive():
        best, latest = {}, {}
        for a in Attempt.objects.filter(user__enrolments__cohort=cohort, quiz__in=quizzes, practice=False,
                                        status=Attempt.Status.GRADED):
            if not a.max_score:
                continue
            key, fraction = (a.user_id, a.quiz_id), a.score / a.max_score
            best[key] = max(best.get(key, 0.0), fraction)
            if key not in latest or a.number > latest[key][0]:
                latest[key] = (a.number, fraction)
        return best, {k: v for k, (_, v) in latest.items()}

    with CaptureQueriesContext(connection) as captured:
        aggregated()
    q_agg = len(captured)
    with CaptureQueriesContext(connection) as captured:
        naive()
    q_naive = len(captured)
    t_agg, (best_a, latest_a) = _timed(aggregated, args.repeats)
    t_naive, (best_n, latest_n) = _timed(naive, args.repeats)
    same = (best_a.keys() == best_n.keys() and latest_a.keys() == latest_n.keys()
            and all(abs(best_a[k] - best_n[k]) < 1e-9 for k in best_n)
            and all(abs(latest_a[k] - latest_n[k]) < 1e-9 for k in latest_n))

    # Baseline 2: the long CSV. One streamed query against one query per attempt.
    def long_naive():
        out = io.StringIO()
        writer = csv.writer(out)
        attempts = (Attempt.objects.filter(user__enrolments__cohort=cohort, status=Attempt.Status.GRADED)
                    .select_related("user", "quiz").order_by("user__username", "quiz__slug", "number"))
        for a in attempts:
            for row in (AttemptAnswer.objects.filter(attempt=a).select_related("part__question")
                        .order_by("part__question__slug", "part__order")):
                writer.writerow([a.user.username, a.quiz.slug, a.id, a.number, a.practice, row.part.question.slug,
                                 row.part.key, row.part.points, row.answer, row.score, row.misconception, a.closed_at])
        return out.tell()

    csv_url = base + "responses.csv"
    t_csv = dict(results)[csv_url]
    with CaptureQueriesContext(connection) as captured:
        long_naive()
    q_csv_naive = len(captured)
    naive_repeats = max(1, min(args.repeats, 3))
    t_csv_naive, _ = _timed(long_naive, naive_repeats)

    print("\nbaselines (same data, same run):")
    print(f"  matrix, best + latest per student and quiz: aggregates {t_agg * 1e3:.1f} ms ({q_agg} queries), "
          f"naive loop over every graded attempt {t_naive * 1e3:.1f} ms ({q_naive} query), "
          f"ratio {t_naive / t_agg:.2f}; same numbers: {'yes' if same else 'NO'}")
    print(f"  long CSV: two queries, streamed, the whole response {t_csv * 1e3:.1f} ms; one query per attempt "
          f"{t_csv_naive * 1e3:.1f} ms ({q_csv_naive} queries, median of {naive_repeats}), "
          f"ratio {t_csv_naive / t_csv:.2f}")
    slow = [(url, s) for url, s in results if s >= TARGET_S]
    verdict = "PASS" if not slow and same else "FAIL"
    detail = "every page and CSV under 1 s" if not slow else "over 1 s: " + ", ".join(
        f"{url} {s:.2f} s" for url, s in slow)
    print(f"\n{verdict}: {detail} ({engine}, {args.students} students × {args.quizzes} quizzes)"
          + ("" if same else "; the matrix differs from the naive computation"))


if __name__ == "__main__":
    main()
