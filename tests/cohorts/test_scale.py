"""The instructor's workspace at two cohort sizes (cohorts/demo.py): every page and both CSV exports make a
bounded number of queries, the same bound for 4 students × 2 quizzes and for 30 students × 4 quizzes; and the
demo data itself: attempts built and graded as the real services build and grade them, scores that spread,
misconception ids that occur, the ``demo_cohort --json`` contract, determinism in the seed."""

from __future__ import annotations

import json
import random
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client

from cohorts import demo
from cohorts.demo import DemoError, demo_cohort_make
from cohorts.models import Cohort, Enrolment
from drills.models import Card, ReviewLog, ReviewState
from labs.models import Submission
from quizzes.models import Attempt, AttemptAnswer, Part, Quiz
from quizzes.services.attempts import _draws, attempt_grade, attempt_layout
from tests.cohorts.demo_data import demo_cohorts

pytestmark = pytest.mark.django_db

SMALL = {"students": 4, "quizzes": 2, "seed": 11}
LARGE = {"students": 30, "quizzes": 4, "seed": 12}

# The most queries each page may make: what it makes at the small size (measured) plus a little. The same
# bound holds at the large size: a page that reads per student, per quiz or per attempt breaks it there.
PAGES = {
    "cohort list": ("/cohorts/", 21),
    "cohort matrix, best": ("/cohorts/{cohort}/", 21),
    "cohort matrix, latest by risk": ("/cohorts/{cohort}/?view=latest&sort=risk", 20),
    "roster": ("/cohorts/{cohort}/roster/", 20),
    "quiz gradebook": ("/cohorts/{cohort}/quizzes/{quiz}/", 26),
    "attempt": ("/cohorts/{cohort}/attempts/{attempt}/", 14),
    "wide CSV": ("/cohorts/{cohort}/export.csv", 19),
    "long CSV": ("/cohorts/{cohort}/responses.csv", 8),
    "part report": ("/cohorts/{cohort}/quizzes/{quiz}/parts/{part}/", 18),
    "answers behind a misconception": ("/cohorts/{cohort}/quizzes/{quiz}/parts/{part}/answers/?misconception=x", 18),
    "regrade dry run": ("/cohorts/{cohort}/quizzes/{quiz}/parts/{part}/regrade/", 17),
    "grading queue": ("/cohorts/{cohort}/quizzes/{quiz}/grading/", 18),
    "score by hand": ("/cohorts/{cohort}/answers/{answer}/", 18),
    "lab submission": ("/cohorts/{cohort}/submissions/{submission}/", 10),
}


@pytest.fixture(scope="module")
def cohorts(django_db_setup, django_db_blocker):
    """The content and two demo cohorts, made once for the module inside a transaction rolled back at its end
    (each test runs in a savepoint inside it)."""
    with demo_cohorts(django_db_blocker, small=SMALL, large=LARGE) as made:
        yield made


def _url(template: str, made: dict) -> str:
    quiz = made["quizzes"][-1]
    attempt = Attempt.objects.filter(quiz__slug=quiz).order_by("id").first()
    answer = AttemptAnswer.objects.filter(attempt=attempt).order_by("id").first()
    submission = Submission.objects.filter(user__enrolments__cohort_id=made["cohort_id"]).order_by("id").first()
    return template.format(cohort=made["cohort_id"], quiz=quiz, attempt=attempt.id, part=answer.part_id,
                           answer=answer.id, submission=submission.id)


def _get(client: Client, url: str):
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return response, body


@pytest.mark.parametrize("page", list(PAGES))
def test_every_instructor_page_makes_the_same_bounded_number_of_queries_at_both_sizes(
        page, cohorts, django_assert_max_num_queries):
    """At 4 students × 2 quizzes and at 30 × 4, each page and CSV makes at most K queries (the same K), and in
    fact exactly as many at both sizes."""
    template, most = PAGES[page]
    made_counts = {}
    for size in ("small", "large"):
        made = cohorts[size]
        client = Client()
        client.force_login(User.objects.get(username=made["instructor"]))
        url = _url(template, made)
        _get(client, url)  # warm-up: caches filled by the first request of a process do not count
        with django_assert_max_num_queries(most) as captured:
            _, body = _get(client, url)
        made_counts[size] = len(captured)
        assert body
    assert made_counts["small"] == made_counts["large"], made_counts


def test_the_pages_show_the_demo_data(cohorts):
    """The matrix lists every student; the long CSV has a row for every stored answer of the cohort."""
    made = cohorts["large"]
    client = Client()
    client.force_login(User.objects.get(username=made["instructor"]))
    _, page = _get(client, f"/cohorts/{made['cohort_id']}/")
    assert page.count(b"data-student=") == LARGE["students"]
    _, long_csv = _get(client, f"/cohorts/{made['cohort_id']}/responses.csv")
    answers = AttemptAnswer.objects.filter(attempt__quiz__cohort_id=made["cohort_id"]).count()
    assert len(long_csv.decode().strip().splitlines()) == answers + 1


# ----------------------------------------------------------------------------- the demo data


def _attempts(made: dict):
    return Attempt.objects.filter(quiz__cohort_id=made["cohort_id"])


def test_the_demo_makes_what_it_says(cohorts):
    """The instructor teaches the cohort; every student is enrolled, has a graded timed attempt of every quiz
    and some lab submissions or drill reviews; the quizzes are timed, of the cohort, with fixed questions."""
    made = cohorts["large"]
    cohort = Cohort.objects.get(pk=made["cohort_id"])
    assert cohort.instructors.filter(username=made["instructor"]).exists()
    students = list(Enrolment.objects.filter(cohort=cohort).values_list("student_id", flat=True))
    assert len(students) == LARGE["students"] == made["students"]
    quizzes = list(Quiz.objects.filter(cohort=cohort))
    assert sorted(q.slug for q in quizzes) == sorted(made["quizzes"])
    assert all(q.time_limit_s and q.max_attempts == 2 and 4 <= len(q.question_slugs) <= 6 for q in quizzes)
    firsts = set(_attempts(made).filter(number=1).values_list("user_id", "quiz_id"))
    assert firsts == {(s, q.id) for s in students for q in quizzes}
    assert not _attempts(made).exclude(status="graded").exists()
    assert not _attempts(made).filter(practice=True).exists()
    assert set(_attempts(made).values_list("closed_by", flat=True)) == {"learner", "deadline"}
    assert Submission.objects.filter(user_id__in=students, status="done").exists()
    assert set(Submission.objects.filter(user_id__in=students).values_list("verdict", flat=True)) >= {"accepted"}
    assert ReviewLog.objects.filter(user_id__in=students).exists()
    assert ReviewState.objects.filter(user_id__in=students).exists()
    assert not made["drills_skipped"]


def test_every_graded_attempt_is_laid_out_as_attempt_start_lays_it_out_with_an_answer_per_part(cohorts):
    """The layout is what attempt_start builds from the attempt's seed; one graded AttemptAnswer per part of it."""
    for size in ("small", "large"):
        attempts = list(_attempts(cohorts[size]).select_related("quiz"))
        answers: dict[int, list[int]] = {}
        for attempt_id, part_id, graded in AttemptAnswer.objects.filter(attempt__in=attempts).values_list(
                "attempt_id", "part_id", "graded"):
            assert graded
            answers.setdefault(attempt_id, []).append(part_id)
        for attempt in attempts:
            parts = [pid for item in attempt.layout for pid in item["parts"]]
            assert sorted(answers[attempt.id]) == sorted(parts), attempt.id
        for attempt in attempts[:6]:
            rng = random.Random(attempt.seed)
            assert attempt.layout == attempt_layout(_draws(attempt.quiz, rng), shuffle_options=attempt.quiz.shuffle_options,
                                             rng=rng)


def test_the_demo_grades_as_attempt_grade_grades(cohorts):
    """Reopened to closed and graded again by quizzes.services.attempts.attempt_grade (the real one, with the
    attempt's own numbers), a demo attempt keeps its score and every answer its score and misconception."""
    attempts = list(_attempts(cohorts["large"]).order_by("id")[::23])
    for attempt in attempts:
        before = {a.part_id: (a.score, a.correct, a.misconception, a.feedback)
                  for a in AttemptAnswer.objects.filter(attempt=attempt)}
        Attempt.objects.filter(pk=attempt.pk).update(status="closed")
        regraded = attempt_grade(attempt_id=attempt.id)
        assert (regraded.status, regraded.score, regraded.max_score) == ("graded", attempt.score, attempt.max_score)
        after = {a.part_id: (a.score, a.correct, a.misconception, a.feedback)
                 for a in AttemptAnswer.objects.filter(attempt=attempt)}
        assert after == before
    points = dict(Part.objects.values_list("id", "points"))
    attempt = attempts[0]
    assert attempt.max_score == sum(points[pid] for item in attempt.layout for pid in item["parts"])


def test_the_scores_spread(cohorts):
    """At least three distinct percentages, some attempts under 50 % and some over 80 %."""
    percents = [a.percent for a in _attempts(cohorts["large"])]
    assert len({round(p) for p in percents}) >= 3
    assert any(p < 50 for p in percents) and any(p > 80 for p in percents)


def test_misconception_ids_of_the_specs_occur_in_the_answers(cohorts):
    rows = AttemptAnswer.objects.filter(attempt__quiz__cohort_id=cohorts["large"]["cohort_id"]).exclude(
        misconception="").select_related("part")
    assert rows
    from_spec = [r for r in rows if r.misconception in {str(m.get("id")) for m in r.part.spec.get("misconceptions") or []}]
    assert len({r.misconception for r in from_spec}) >= 3
    assert AttemptAnswer.objects.filter(attempt__quiz__cohort_id=cohorts["large"]["cohort_id"], answer="",
                                        feedback="No answer.", score=0).exists()


def test_the_json_line_is_the_last_line_of_the_command(cohorts):
    out = StringIO()
    call_command("demo_cohort", "--students", "3", "--quizzes", "1", "--seed", "5", "--json", stdout=out)
    lines = out.getvalue().strip().splitlines()
    assert len(lines) > 1  # a human summary first
    last = json.loads(lines[-1])
    assert set(last) == {"cohort_id", "instructor", "quizzes"}
    cohort = Cohort.objects.get(pk=last["cohort_id"])
    assert cohort.instructors.filter(username=last["instructor"]).exists()
    assert sorted(last["quizzes"]) == sorted(Quiz.objects.filter(cohort=cohort).values_list("slug", flat=True))
    assert len(last["quizzes"]) == 1 and cohort.enrolments.count() == 3


def _scores(made: dict) -> list[tuple]:
    """Every attempt's score, keyed by the student's position and the quiz's, not by names or ids."""
    students = {u: i for i, u in enumerate(Enrolment.objects.filter(cohort_id=made["cohort_id"])
                                           .order_by("student__username").values_list("student_id", flat=True))}
    quizzes = {slug: i for i, slug in enumerate(made["quizzes"])}
    return sorted((students[a.user_id], quizzes[a.quiz.slug], a.number, a.score, a.max_score)
                  for a in _attempts(made).select_related("quiz"))


def test_the_same_seed_gives_the_same_scores_and_another_seed_other_accounts(cohorts):
    """Twice seed 21 in one database: new usernames and slugs the second time, the same scores; seed 22:
    other usernames and slugs, other scores."""
    first = demo_cohort_make(students=5, quizzes=2, seed=21)
    again = demo_cohort_make(students=5, quizzes=2, seed=21)
    other = demo_cohort_make(students=5, quizzes=2, seed=22)
    assert len({first["instructor"], again["instructor"], other["instructor"]}) == 3
    assert not set(first["quizzes"]) & set(again["quizzes"]) and not set(first["quizzes"]) & set(other["quizzes"])
    assert _scores(first) == _scores(again)
    assert _scores(first) != _scores(other)
    assert first["instructor"] == "demo-21-instructor" and first["quizzes"][0] == "demo-21-quiz-1"


def test_without_drill_cards_the_drills_are_skipped_and_it_says_so(cohorts):
    Card.objects.all().delete()
    out = StringIO()
    call_command("demo_cohort", "--students", "2", "--quizzes", "1", "--seed", "6", stdout=out)
    assert "drills: skipped" in out.getvalue()


def test_without_questions_it_asks_for_load_content(cohorts, monkeypatch):
    monkeypatch.setattr(demo, "_eligible_questions", lambda: ([], {}))
    with pytest.raises(DemoError, match="load_content"):
        demo_cohort_make(students=2, quizzes=1, seed=7)
