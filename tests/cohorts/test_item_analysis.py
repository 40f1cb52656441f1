"""Item analysis by its definitions: a small cohort computed by hand, and a demo cohort recomputed from its
own long CSV export (the two must agree), through ``item_stats --json``."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import statistics
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.utils import timezone

from cohorts.demo import demo_cohort_make
from cohorts.models import Cohort, Enrolment
from cohorts.services import cohort_create
from quizzes.models import Attempt, AttemptAnswer, Part, Question, Quiz

pytestmark = pytest.mark.django_db


def _stats_json(slug: str, cohort_id: int) -> dict:
    out = StringIO()
    call_command("item_stats", slug, "--cohort", str(cohort_id), "--json", stdout=out)
    return json.loads(out.getvalue().strip().splitlines()[-1])


# ----------------------------------------------------------------------------- a cohort computed by hand


@pytest.fixture
def small():
    """Three parts (points 1, 2, 1) and four students. Their first attempts' scores (fractions):

        student  a     b     c     | a second attempt (ignored by "first", used by "best")
        s1       1     1     0     |
        s2       0     0.5   0     | 1 1 1
        s3       1     0     0     |
        s4       0     0     0     |  (c unanswered everywhere: zero variance)
    plus a practice attempt (never counted) and an ungraded open one."""
    question = Question.objects.create(slug="hand-q", title="Hand", body="b")
    parts = [Part.objects.create(question=question, key=k, order=i, kind="numeric", points=pts,
                                 spec={"kind": "numeric", "answer": 1})
             for i, (k, pts) in enumerate([("a", 1.0), ("b", 2.0), ("c", 1.0)])]
    teacher = User.objects.create_user("teach", password="pw")
    cohort = cohort_create(name="Hand", instructor=teacher)
    quiz = Quiz.objects.create(slug="hand-quiz", title="Hand quiz", question_slugs=["hand-q"], cohort=cohort,
                               time_limit_s=600)
    now = timezone.now()

    def attempt(user, number, scores, practice=False, status=Attempt.Status.GRADED, misconceptions=()):
        layout = [{"question": question.id, "parts": [p.id for p in parts], "options": {}}]
        total = sum(p.points * s for p, s in zip(parts, scores, strict=True))
        a = Attempt.objects.create(quiz=quiz, user=user, number=number, practice=practice, seed=1, layout=layout,
                                   status=status, started_at=now, closed_at=now, score=total, max_score=4.0)
        for p, s, rule in zip(parts, scores, list(misconceptions) + [""] * 3, strict=False):
            AttemptAnswer.objects.create(attempt=a, part=p, answer="" if s == 0 and not rule else "x", saved_at=now,
                                         graded=True, score=s, correct=s == 1, misconception=rule)
        return a

    students = [User.objects.create_user(f"s{i}", password="pw") for i in range(1, 5)]
    for s in students:
        Enrolment.objects.create(cohort=cohort, student=s)
    attempt(students[0], 1, [1, 1, 0])
    attempt(students[1], 1, [0, 0.5, 0], misconceptions=["swap-sign", "", ""])
    attempt(students[1], 2, [1, 1, 1])
    attempt(students[2], 1, [1, 0, 0])
    attempt(students[3], 1, [0, 0, 0], misconceptions=["swap-sign"])
    attempt(students[3], 2, [1, 0, 0], practice=True)
    outsider = User.objects.create_user("outsider", password="pw")  # not enrolled: never counted
    attempt(outsider, 1, [1, 1, 1])
    return cohort, quiz, parts


def _by_hand(x: list[float], points: list[float], totals: list[float]) -> tuple:
    """facility, sd, discrimination from the definitions (statistics module, not the aggregates' sums)."""
    rest = [t - p * s for t, p, s in zip(totals, points, x, strict=True)]
    facility = statistics.fmean(x)
    sd = statistics.stdev(x)
    try:
        r = statistics.correlation(x, rest)
    except statistics.StatisticsError:
        r = None
    return facility, sd, r


def test_first_attempts_by_hand(small):
    cohort, quiz, parts = small
    stats = _stats_json(quiz.slug, cohort.id)
    assert stats["quiz"] == "hand-quiz" and stats["cohort"] == cohort.id and stats["attempts"] == 4
    assert [(p["question"], p["part"]) for p in stats["parts"]] == [("hand-q", "a"), ("hand-q", "b"), ("hand-q", "c")]
    a, b, c = stats["parts"]
    # totals of the first attempts: s1 1+2=3, s2 0+1=1, s3 1, s4 0
    totals = [3.0, 1.0, 1.0, 0.0]
    fa, sa, ra = _by_hand([1, 0, 1, 0], [1] * 4, totals)  # rests 2, 1, 0, 0
    assert (a["n"], a["facility"], a["sd"]) == (4, pytest.approx(fa), pytest.approx(sa))
    assert a["discrimination"] == pytest.approx(ra) and ra == pytest.approx(0.301511, abs=1e-6)
    fb, sb, rb = _by_hand([1, 0.5, 0, 0], [2] * 4, totals)  # rests 1, 0, 1, 0
    assert (b["facility"], b["sd"], b["discrimination"]) == (pytest.approx(fb), pytest.approx(sb), pytest.approx(rb))
    assert b["facility"] == pytest.approx(0.375)
    assert c["facility"] == 0 and c["sd"] == 0 and c["discrimination"] is None  # no variance
    assert a["misconceptions"] == {"swap-sign": 2} and b["misconceptions"] == {} == c["misconceptions"]


def test_best_attempts_and_flags_on_the_gradebook(small):
    cohort, quiz, parts = small
    from cohorts.item_analysis import BEST, item_stats

    n, best = item_stats(cohort=cohort, quiz=quiz, which=BEST)
    assert n == 4
    a, b, c = best  # s2's second attempt (4 points) is their best
    assert a.facility == pytest.approx(0.75) and b.facility == pytest.approx(0.5) and c.facility == pytest.approx(0.25)
    assert a.histogram == [1, 0, 0, 0, 3]
    _, first = item_stats(cohort=cohort, quiz=quiz)
    assert first[2].flags == ["very hard"] and first[1].histogram == [2, 0, 1, 0, 1]
    client = Client()
    client.force_login(User.objects.get(username="teach"))
    page = client.get(f"/cohorts/{cohort.id}/quizzes/{quiz.slug}/").content.decode()
    assert "Item analysis" in page and "very hard" in page and "0.375" in page


def test_the_command_refuses_what_does_not_exist(small):
    cohort, quiz, _ = small
    with pytest.raises(CommandError, match="no cohort"):
        call_command("item_stats", quiz.slug, "--cohort", "99999")
    with pytest.raises(CommandError, match="no quiz"):
        call_command("item_stats", "nope", "--cohort", str(cohort.id))
    other = cohort_create(name="Other", instructor=User.objects.get(username="teach"))
    with pytest.raises(CommandError, match="another cohort"):
        call_command("item_stats", quiz.slug, "--cohort", str(other.id))


# ----------------------------------------------------------------------------- from the CSV, on a demo cohort


def _from_csv(rows: list[dict], quiz: str) -> dict[tuple[str, str], tuple]:
    """The item statistics recomputed from the long CSV alone, by the definitions."""
    rows = [r for r in rows if r["quiz"] == quiz and r["practice"] == "false"]
    first = {}
    for r in rows:
        key = r["student"]
        first[key] = min(first.get(key, 10**9), int(r["attempt_number"]))
    chosen = [r for r in rows if int(r["attempt_number"]) == first[r["student"]]]
    totals: dict[str, float] = {}
    for r in chosen:
        totals[r["attempt"]] = totals.get(r["attempt"], 0.0) + float(r["score"]) * float(r["points"])
    by_part: dict[tuple[str, str], list[dict]] = {}
    for r in chosen:
        by_part.setdefault((r["question"], r["part"]), []).append(r)
    out = {}
    for key, part_rows in by_part.items():
        x = [float(r["score"]) for r in part_rows]
        rest = [totals[r["attempt"]] - float(r["score"]) * float(r["points"]) for r in part_rows]
        try:
            r_ = statistics.correlation(x, rest)
        except statistics.StatisticsError:
            r_ = None
        rules: dict[str, int] = {}
        for r in part_rows:
            if r["misconception"]:
                rules[r["misconception"]] = rules.get(r["misconception"], 0) + 1
        out[key] = (len(x), statistics.fmean(x), statistics.stdev(x) if len(x) > 1 else None, r_, rules,
                    len({r["attempt"] for r in part_rows}))
    return out


def test_item_stats_agree_with_the_long_csv_of_a_demo_cohort():
    call_command("load_content", stdout=StringIO(), stderr=StringIO())
    made = demo_cohort_make(students=40, quizzes=2, seed=41)
    cohort = Cohort.objects.get(pk=made["cohort_id"])
    client = Client()
    client.force_login(User.objects.get(username=made["instructor"]))
    response = client.get(f"/cohorts/{cohort.id}/responses.csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    checked = 0
    for slug in made["quizzes"]:
        stats = _stats_json(slug, cohort.id)
        expected = _from_csv(rows, slug)
        assert {(p["question"], p["part"]) for p in stats["parts"]} == set(expected)
        assert stats["attempts"] == 40
        for p in stats["parts"]:
            n, facility, sd, r, rules, attempts = expected[(p["question"], p["part"])]
            assert (p["n"], attempts) == (n, n)
            assert p["facility"] == pytest.approx(facility, abs=1e-9)
            assert p["sd"] == pytest.approx(sd, abs=1e-9)
            if r is None:
                assert p["discrimination"] is None
            else:
                assert p["discrimination"] == pytest.approx(r, abs=1e-6)
            assert p["misconceptions"] == rules
            checked += 1
    assert checked >= 8
    assert any(p for p in expected.values() if p[4])  # some misconceptions occurred


def test_the_cohort_page_shows_this_weeks_misconceptions(small):
    cohort, quiz, parts = small
    from cohorts.item_analysis import cohort_top_misconceptions

    top = cohort_top_misconceptions(cohort=cohort)
    assert [(m["id"], m["part"], m["count"], m["quiz"]) for m in top] == [("swap-sign", "hand-q:a", 2, "hand-quiz")]
    Attempt.objects.filter(quiz=quiz).update(closed_at=timezone.now() - dt.timedelta(days=8))
    assert cohort_top_misconceptions(cohort=cohort) == []
    Attempt.objects.filter(quiz=quiz).update(closed_at=timezone.now())
    client = Client()
    client.force_login(User.objects.get(username="teach"))
    page = client.get(f"/cohorts/{cohort.id}/").content.decode()
    assert "Misconceptions this week" in page and "swap-sign" in page
    assert f"/cohorts/{cohort.id}/quizzes/hand-quiz/parts/{parts[0].id}/" in page


def test_a_parts_report_compares_the_instructors_cohorts_and_no_others(small):
    """The report's per-cohort table: each cohort the instructor teaches, never another instructor's."""
    cohort, quiz, parts = small
    teacher = User.objects.get(username="teach")
    second = cohort_create(name="Second cohort", instructor=teacher)
    foreign = cohort_create(name="Foreign cohort", instructor=User.objects.create_user("foreign", password="pw"))
    for c, name, score, rule in [(second, "t1", 1.0, ""), (foreign, "f1", 0.0, "secret-rule")]:
        student = User.objects.create_user(name, password="pw")
        Enrolment.objects.create(cohort=c, student=student)
        platform = Quiz.objects.get_or_create(slug="platform-hand", defaults={
            "title": "Platform", "question_slugs": ["hand-q"]})[0]
        a = Attempt.objects.create(quiz=platform, user=student, number=1, seed=1, layout=[], status="graded",
                                   started_at=timezone.now(), closed_at=timezone.now(), score=score, max_score=4)
        AttemptAnswer.objects.create(attempt=a, part=parts[0], answer="x", saved_at=timezone.now(), graded=True,
                                     score=score, misconception=rule)
    client = Client()
    client.force_login(teacher)
    page = client.get(f"/cohorts/{cohort.id}/quizzes/{quiz.slug}/parts/{parts[0].id}/").content.decode()
    assert "Second cohort" in page and "Hand (this one)" in page
    assert "Foreign cohort" not in page and "secret-rule" not in page
