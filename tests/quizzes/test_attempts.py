"""Timed attempts (quizzes.services.attempts): the server's deadline is the only clock, closing happens once, grading is
idempotent and retried by the sweep, extensions move one learner's deadline, and the built-in catalogue."""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection

from content.catalogue import catalogue_sync
from content.reader import CARD_GROUP
from drills.models import Card, Deck
from drills.services import card_guid
from quizzes.models import Attempt, AttemptAnswer, Extension, Part, Question, Quiz
from quizzes.selectors import attempt_params
from quizzes.services.accommodations import extension_grant
from quizzes.services.attempts import (
    AttemptClosed,
    QuizUnavailable,
    _draws,
    answer_check,
    answer_save,
    attempt_grade,
    attempt_start,
    attempt_submit,
    attempts_close_overdue,
)
from quizzes.services.drill_quizzes import tag_quiz_get
from tests.conftest import stop, wait_for, worker_start
from tests.factories import instructor_make, question_make, user_make

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
S = timedelta(seconds=1)
RIGHT_A, RIGHT_B = "524.288 KB", "s*(q - z)"


def quiz_make(slug: str = "kv", *, questions: list[Question] | None = None, **fields) -> Quiz:
    questions = questions if questions is not None else [question_make()]
    return Quiz.objects.create(slug=slug, title=slug, question_slugs=[q.slug for q in questions], **fields)


def part_ids(attempt: Attempt) -> list[int]:
    return [pid for item in attempt.layout for pid in item["parts"]]


def part_id(attempt: Attempt, key: str) -> int:
    return Part.objects.get(id__in=part_ids(attempt), key=key).id


def fresh(attempt: Attempt) -> Attempt:
    return Attempt.objects.get(pk=attempt.pk)


# ----------------------------------------------------------------------------- the deadline


@pytest.mark.django_db
def test_a_write_after_the_deadline_is_refused_and_the_attempt_is_closed_at_the_deadline():
    """A save one second late raises AttemptClosed (time is up), closes and grades the attempt, stores nothing."""
    attempt = attempt_start(user=user_make("ana"), quiz=quiz_make(time_limit_s=600), now=T0)
    deadline = T0 + timedelta(seconds=600)
    assert attempt.deadline == deadline
    with pytest.raises(AttemptClosed, match="Time is up"):
        answer_save(attempt=attempt, part_id=part_id(attempt, "a"), answer=RIGHT_A, now=deadline + S)
    attempt = fresh(attempt)
    assert (attempt.status, attempt.closed_by, attempt.closed_at) == ("graded", "deadline", deadline)
    assert (attempt.score, attempt.max_score) == (0.0, 2.0)
    assert not AttemptAnswer.objects.filter(attempt=attempt).exclude(answer="").exists()


@pytest.mark.django_db
def test_an_answer_saved_one_second_before_the_deadline_counts():
    """Saved at deadline-1s, then swept at deadline+1s: closed by the sweep at the deadline, and it counts."""
    attempt = attempt_start(user=user_make("ana"), quiz=quiz_make(time_limit_s=600), now=T0)
    deadline = attempt.deadline
    answer_save(attempt=attempt, part_id=part_id(attempt, "a"), answer=RIGHT_A, now=deadline - S)
    assert attempts_close_overdue(now=deadline + S) == 1
    attempt = fresh(attempt)
    assert (attempt.status, attempt.closed_by, attempt.closed_at) == ("graded", "sweep", deadline)
    row = attempt.answers.get(part__key="a")
    assert (row.answer, row.graded, row.correct, row.score) == (RIGHT_A, True, True, 1.0)
    assert not attempt.answers.get(part__key="b").correct
    assert (attempt.score, attempt.max_score) == (1.0, 2.0)


@pytest.mark.django_db
def test_the_sweep_leaves_an_attempt_alone_before_its_deadline():
    """attempts_close_overdue at the deadline itself (not past it) does not close the attempt."""
    attempt = attempt_start(user=user_make("ana"), quiz=quiz_make(time_limit_s=600), now=T0)
    assert attempts_close_overdue(now=attempt.deadline) == 0
    assert fresh(attempt).status == "open"


@pytest.mark.django_db
def test_a_submit_after_the_deadline_is_recorded_as_closed_by_the_deadline():
    """attempt_submit past the deadline closes at the deadline with closed_by deadline, not learner."""
    attempt = attempt_start(user=user_make("ana"), quiz=quiz_make(time_limit_s=600), now=T0)
    answer_save(attempt=attempt, part_id=part_id(attempt, "b"), answer=RIGHT_B, now=T0 + S)
    graded = attempt_submit(attempt=attempt, now=attempt.deadline + timedelta(seconds=30))
    assert (graded.closed_by, graded.closed_at, graded.score) == ("deadline", attempt.deadline, 1.0)


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
@pytest.mark.redis
def test_a_real_worker_with_beat_submits_an_abandoned_attempt_at_its_deadline(stack_env, tmp_path):
    """With a real Celery worker and beat, an attempt nobody touches again is closed by the sweep at its deadline
    and graded."""
    worker = worker_start({**stack_env, "QUIZ_SWEEP_EVERY_S": "1"}, tmp_path / "worker.log", beat=True)
    try:
        attempt = attempt_start(user=user_make("ana"), quiz=quiz_make(time_limit_s=2))
        answer_save(attempt=attempt, part_id=part_id(attempt, "a"), answer=RIGHT_A)
        graded = wait_for(lambda: Attempt.objects.filter(pk=attempt.pk, status="graded").first(), timeout=40,
                          what="the sweep to grade the attempt", proc=worker)
    finally:
        stop(worker)
    assert (graded.closed_by, graded.closed_at) == ("sweep", attempt.deadline)
    assert graded.graded_at > attempt.deadline
    assert graded.answers.get(part__key="a").correct and (graded.score, graded.max_score) == (1.0, 2.0)


# ----------------------------------------------------------------------------- extensions and windows


@pytest.mark.django_db
def test_an_extension_moves_the_deadline_of_that_student_only():
    """extension_grant adds 300 s to a's open attempt and to a's later attempts; b's deadline is unchanged."""
    quiz = quiz_make(time_limit_s=600)
    a, b, teacher = user_make("ana"), user_make("bob"), instructor_make()
    first_a = attempt_start(user=a, quiz=quiz, now=T0)
    first_b = attempt_start(user=b, quiz=quiz, now=T0)
    extension = extension_grant(quiz=quiz, user=a, minutes=5, granted_by=teacher, reason="accommodation")
    assert fresh(first_a).deadline == T0 + timedelta(seconds=900)
    assert fresh(first_b).deadline == T0 + timedelta(seconds=600)
    assert Extension.objects.get() == extension
    assert (extension.user, extension.extra_s, extension.granted_by) == (a, 300, teacher)
    attempt_submit(attempt=fresh(first_a), now=T0 + timedelta(seconds=60))
    second_a = attempt_start(user=a, quiz=quiz, now=T0 + timedelta(seconds=120))
    assert second_a.number == 2 and second_a.deadline == T0 + timedelta(seconds=120 + 600 + 300)


@pytest.mark.django_db
def test_an_extension_lets_a_save_through_that_would_have_been_refused():
    """After a 5-minute extension, a save 100 s past the original deadline is stored and counts."""
    quiz = quiz_make(time_limit_s=600)
    ana = user_make("ana")
    attempt = attempt_start(user=ana, quiz=quiz, now=T0)
    extension_grant(quiz=quiz, user=ana, minutes=5, granted_by=instructor_make())
    late = T0 + timedelta(seconds=700)
    answer_save(attempt=fresh(attempt), part_id=part_id(attempt, "a"), answer=RIGHT_A, now=late)
    graded = attempt_submit(attempt=fresh(attempt), now=late + S)
    assert (graded.closed_by, graded.score) == ("learner", 1.0)


@pytest.mark.django_db
def test_the_window_close_cuts_the_deadline_and_an_extension_is_added_after_the_cut():
    """start + limit past closes_at gives deadline == closes_at; a's extension is added on top of it."""
    closes = T0 + timedelta(seconds=300)
    quiz = quiz_make(time_limit_s=600, closes_at=closes)
    a, b = user_make("ana"), user_make("bob")
    extension_grant(quiz=quiz, user=a, minutes=2, granted_by=instructor_make())
    assert attempt_start(user=b, quiz=quiz, now=T0).deadline == closes
    assert attempt_start(user=a, quiz=quiz, now=T0).deadline == closes + timedelta(seconds=120)


@pytest.mark.django_db
def test_a_non_positive_extension_is_refused():
    """extension_grant with 0 minutes raises ValueError and records nothing."""
    quiz = quiz_make(time_limit_s=600)
    with pytest.raises(ValueError):
        extension_grant(quiz=quiz, user=user_make("ana"), minutes=0, granted_by=instructor_make())
    assert not Extension.objects.exists()


# ----------------------------------------------------------------------------- concurrency (real database)


def at_once(n: int, fn) -> tuple[list, list]:
    """Run fn in n threads released together, each on its own connection; returns (results, errors)."""
    barrier = threading.Barrier(n)
    results, errors = [], []

    def run():
        try:
            barrier.wait(timeout=10)
            results.append(fn())
        except Exception as exc:  # collected and asserted on by the test
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results, errors


@pytest.mark.django_db(transaction=True)
def test_concurrent_submits_close_and_grade_the_attempt_once():
    """Four simultaneous submits: one closed_by, status graded, one row per part, one consistent score."""
    attempt = attempt_start(user=user_make("ana"), quiz=quiz_make(time_limit_s=600), now=T0)
    answer_save(attempt=attempt, part_id=part_id(attempt, "a"), answer=RIGHT_A, now=T0 + S)
    clicks = iter(range(4))  # each thread submits at its own second: T0+10 .. T0+13

    def submit():
        return attempt_submit(attempt=Attempt.objects.get(pk=attempt.pk), now=T0 + timedelta(seconds=10 + next(clicks)))

    results, errors = at_once(4, submit)
    assert errors == [] and len(results) == 4
    graded = fresh(attempt)
    assert (graded.status, graded.closed_by) == ("graded", "learner")
    assert T0 + timedelta(seconds=10) <= graded.closed_at <= T0 + timedelta(seconds=13)
    assert {(r.status, r.closed_by, r.closed_at, r.score, r.max_score, r.graded_at) for r in results} == {
        ("graded", "learner", graded.closed_at, 1.0, 2.0, graded.graded_at)}
    rows = AttemptAnswer.objects.filter(attempt=attempt)
    assert sorted(rows.values_list("part_id", flat=True)) == sorted(part_ids(attempt))
    assert sorted(rows.values_list("correct", flat=True)) == [False, True]


@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_starts_leave_one_open_attempt():
    """Two threads starting the same quiz get the same attempt; the database holds one open attempt."""
    ana, quiz = user_make("ana"), quiz_make(time_limit_s=600)
    results, errors = at_once(2, lambda: attempt_start(user=ana, quiz=quiz, now=T0))
    assert errors == [] and len(results) == 2
    assert results[0].pk == results[1].pk
    assert Attempt.objects.filter(quiz=quiz, user=ana).count() == 1


@pytest.mark.django_db
def test_a_second_submit_or_a_later_sweep_changes_nothing():
    """A repeated submit (double click, retried request) and a sweep past the deadline leave the result as it was."""
    attempt = attempt_start(user=user_make("ana"), quiz=quiz_make(time_limit_s=600), now=T0)
    answer_save(attempt=attempt, part_id=part_id(attempt, "a"), answer=RIGHT_A, now=T0 + S)
    first = attempt_submit(attempt=attempt, now=T0 + 10 * S)
    again = attempt_submit(attempt=fresh(attempt), now=T0 + 20 * S)
    late = attempt_submit(attempt=fresh(attempt), now=T0 + timedelta(hours=1))
    assert attempts_close_overdue(now=T0 + timedelta(hours=2)) == 0
    final = fresh(attempt)
    assert {(a.status, a.closed_by, a.closed_at, a.graded_at, a.score) for a in (first, again, late, final)} == {
        ("graded", "learner", T0 + 10 * S, first.graded_at, 1.0)}


@pytest.mark.django_db
def test_starting_again_while_open_resumes_the_same_attempt():
    """A second tab's attempt_start returns the open attempt with its layout and deadline, not a new one."""
    ana, quiz = user_make("ana"), quiz_make(time_limit_s=600)
    first = attempt_start(user=ana, quiz=quiz, now=T0)
    second = attempt_start(user=ana, quiz=quiz, now=T0 + timedelta(seconds=30))
    assert (second.pk, second.deadline, second.seed) == (first.pk, first.deadline, first.seed)
    assert Attempt.objects.count() == 1


@pytest.mark.django_db
def test_starting_after_the_deadline_closes_the_old_attempt_and_opens_a_new_one():
    """attempt_start past the open attempt's deadline grades that one (by the deadline) and starts number 2."""
    ana, quiz = user_make("ana"), quiz_make(time_limit_s=600)
    first = attempt_start(user=ana, quiz=quiz, now=T0)
    second = attempt_start(user=ana, quiz=quiz, now=T0 + timedelta(hours=1))
    assert second.pk != first.pk and second.number == 2 and second.status == "open"
    assert (fresh(first).status, fresh(first).closed_by) == ("graded", "deadline")


# ----------------------------------------------------------------------------- crash safety and closed_at


@pytest.mark.django_db
def test_an_attempt_closed_but_not_graded_is_graded_by_the_sweep_and_regrading_changes_nothing():
    """status closed (a worker died after closing) is graded by attempts_close_overdue; attempt_grade again is a no-op."""
    attempt = attempt_start(user=user_make("ana"), quiz=quiz_make(time_limit_s=600), now=T0)
    answer_save(attempt=attempt, part_id=part_id(attempt, "a"), answer=RIGHT_A, now=T0 + S)
    answer_save(attempt=attempt, part_id=part_id(attempt, "b"), answer="s*q - z", now=T0 + 2 * S)
    Attempt.objects.filter(pk=attempt.pk).update(status="closed", closed_by="learner",
                                                 closed_at=T0 + timedelta(seconds=60))
    assert attempts_close_overdue(now=T0 + timedelta(seconds=61)) == 1
    graded = fresh(attempt)
    assert (graded.status, graded.score, graded.max_score) == ("graded", 1.0, 2.0)

    def snapshot():
        a = fresh(attempt)
        rows = AttemptAnswer.objects.filter(attempt=attempt).order_by("part_id")
        return ((a.status, a.closed_by, a.closed_at, a.graded_at, a.score, a.max_score),
                list(rows.values_list("part_id", "answer", "saved_at", "graded", "correct", "score", "feedback")))

    before = snapshot()
    attempt_grade(attempt_id=attempt.pk)
    assert attempts_close_overdue(now=T0 + timedelta(hours=1)) == 0
    assert snapshot() == before


@pytest.mark.django_db
def test_answers_saved_after_closed_at_do_not_count():
    """A row whose saved_at is after closed_at is graded as not counted; one saved in time counts."""
    attempt = attempt_start(user=user_make("ana"), quiz=quiz_make(time_limit_s=600), now=T0)
    answer_save(attempt=attempt, part_id=part_id(attempt, "a"), answer=RIGHT_A, now=T0 + S)
    answer_save(attempt=attempt, part_id=part_id(attempt, "b"), answer=RIGHT_B, now=T0 + S)
    closed_at = T0 + timedelta(seconds=60)
    Attempt.objects.filter(pk=attempt.pk).update(status="closed", closed_by="learner", closed_at=closed_at)
    AttemptAnswer.objects.filter(attempt=attempt, part__key="b").update(saved_at=closed_at + S)
    graded = attempt_grade(attempt_id=attempt.pk)
    late = graded.answers.get(part__key="b")
    assert (late.graded, late.correct, late.score) == (True, False, 0.0)
    assert "after the attempt closed" in late.feedback
    assert graded.answers.get(part__key="a").correct
    assert (graded.score, graded.max_score) == (1.0, 2.0)


@pytest.mark.django_db
def test_a_save_after_the_learner_submitted_is_refused_with_its_own_message():
    """answer_save on a submitted attempt raises AttemptClosed saying it was submitted, and keeps the old answer."""
    attempt = attempt_start(user=user_make("ana"), quiz=quiz_make(time_limit_s=600), now=T0)
    answer_save(attempt=attempt, part_id=part_id(attempt, "a"), answer="262.144", now=T0 + S)
    attempt_submit(attempt=attempt, now=T0 + 2 * S)
    with pytest.raises(AttemptClosed, match="submitted"):
        answer_save(attempt=fresh(attempt), part_id=part_id(attempt, "a"), answer=RIGHT_A, now=T0 + 3 * S)
    assert fresh(attempt).answers.get(part__key="a").answer == "262.144"


# ----------------------------------------------------------------------------- availability


@pytest.mark.django_db
def test_max_attempts_is_enforced_and_practice_attempts_do_not_count():
    """With max_attempts=2, a third real start is refused; practice attempts before and after are allowed."""
    ana, quiz = user_make("ana"), quiz_make(time_limit_s=600, max_attempts=2, allow_practice=True)
    practice = attempt_start(user=ana, quiz=quiz, practice=True, now=T0)
    attempt_submit(attempt=practice, now=T0 + S)
    for k in range(2):
        attempt_submit(attempt=attempt_start(user=ana, quiz=quiz, now=T0 + (10 + k) * S), now=T0 + (20 + k) * S)
    with pytest.raises(QuizUnavailable, match="used all 2 attempts"):
        attempt_start(user=ana, quiz=quiz, now=T0 + 30 * S)
    again = attempt_start(user=ana, quiz=quiz, practice=True, now=T0 + 40 * S)
    assert again.practice and again.status == "open"
    assert Attempt.objects.filter(practice=False).count() == 2


@pytest.mark.django_db
def test_practice_attempts_have_no_deadline():
    """A practice attempt on a timed quiz with a closing window has no deadline and accepts late saves."""
    quiz = quiz_make(time_limit_s=60, closes_at=T0 + timedelta(seconds=120), allow_practice=True)
    attempt = attempt_start(user=user_make("ana"), quiz=quiz, practice=True, now=T0)
    assert attempt.deadline is None
    answer_save(attempt=attempt, part_id=part_id(attempt, "a"), answer=RIGHT_A, now=T0 + timedelta(days=3))
    assert attempts_close_overdue(now=T0 + timedelta(days=4)) == 0 and fresh(attempt).status == "open"


@pytest.mark.django_db
def test_practice_is_refused_on_a_quiz_that_does_not_allow_it():
    """attempt_start(practice=True) on a quiz without allow_practice raises QuizUnavailable."""
    with pytest.raises(QuizUnavailable, match="practice"):
        attempt_start(user=user_make("ana"), quiz=quiz_make(time_limit_s=60), practice=True, now=T0)


@pytest.mark.django_db
def test_a_quiz_not_yet_open_or_already_closed_is_unavailable_with_the_time():
    """Before opens_at and at/after closes_at, attempt_start raises QuizUnavailable naming the time."""
    ana = user_make("ana")
    early = quiz_make("early", opens_at=T0 + timedelta(hours=1), time_limit_s=600)
    with pytest.raises(QuizUnavailable, match="opens at 2026-03-01 10:00"):
        attempt_start(user=ana, quiz=early, now=T0)
    late = quiz_make("late", questions=[question_make("other")], closes_at=T0 - timedelta(hours=1))
    with pytest.raises(QuizUnavailable, match="closed at 2026-03-01 08:00"):
        attempt_start(user=ana, quiz=late, now=T0)
    assert not Attempt.objects.exists()


@pytest.mark.django_db
def test_a_quiz_without_questions_is_unavailable():
    """A quiz whose draws find no question raises QuizUnavailable and starts nothing."""
    quiz = Quiz.objects.create(slug="empty", title="empty", blueprint=[{"count": 3, "group": "nowhere"}])
    with pytest.raises(QuizUnavailable, match="no questions"):
        attempt_start(user=user_make("ana"), quiz=quiz, now=T0)
    assert not Attempt.objects.exists()


# ----------------------------------------------------------------------------- what an attempt asks


def param_question(slug: str = "double-n") -> Question:
    question = Question.objects.create(slug=slug, title="Double n", body="What is $2n$?")
    Part.objects.create(question=question, key="a", kind="numeric", spec={
        "kind": "numeric", "formula": "2*n", "params": {"n": {"min": 1, "max": 1000, "step": 1}}})
    return question


@pytest.mark.django_db
def test_parameterized_values_are_fixed_for_an_attempt_and_graded_with_them():
    """attempt_params is the same for the same attempt and part on every call, and the grader uses it."""
    quiz = quiz_make(questions=[param_question()], time_limit_s=600)
    ana = user_make("ana")
    attempt = attempt_start(user=ana, quiz=quiz, now=T0)
    part = Part.objects.get(question__slug="double-n")
    params = attempt_params(attempt=attempt, part=part)
    assert set(params) == {"n"} and 1 <= params["n"] <= 1000
    assert [attempt_params(attempt=fresh(attempt), part=Part.objects.get(pk=part.pk)) for _ in range(3)] == [params] * 3
    answer_save(attempt=attempt, part_id=part.id, answer=str(2 * params["n"]), now=T0 + S)
    assert attempt_submit(attempt=attempt, now=T0 + 2 * S).score == 1.0
    seen = {params["n"]}
    for k in range(5):
        later = attempt_start(user=ana, quiz=quiz, now=T0 + timedelta(minutes=10 + k))
        seen.add(attempt_params(attempt=later, part=part)["n"])
        attempt_submit(attempt=later, now=T0 + timedelta(minutes=10 + k, seconds=1))
    assert len(seen) > 1  # new attempts get new numbers (all six equal: about 1e-15)


@pytest.mark.django_db
def test_a_part_without_params_has_no_attempt_params():
    """attempt_params is {} for a part whose spec has no params."""
    attempt = attempt_start(user=user_make("ana"), quiz=quiz_make(), now=T0)
    assert attempt_params(attempt=attempt, part=Part.objects.get(pk=part_id(attempt, "a"))) == {}


def bank_question(slug: str, *, group: str = "g", tier: str = "L2", tags: tuple = ("x",), parts: bool = True):
    question = Question.objects.create(slug=slug, title=slug, body=slug, group=group, tier=tier, tags=list(tags))
    if parts:
        Part.objects.create(question=question, key="a", kind="numeric", spec={"kind": "numeric", "answer": "1"})
    return question


@pytest.mark.django_db
def test_a_blueprint_draw_picks_only_matching_questions_without_duplicates():
    """{count, group, tier, tags} draws only questions matching all three (with parts), never one twice."""
    matching = {bank_question(f"m{i}", tags=("x", "y") if i % 2 else ("x",)).id for i in range(5)}
    bank_question("other-group", group="h")
    bank_question("other-tier", tier="L1")
    bank_question("other-tag", tags=("z",))
    bank_question("no-parts", parts=False)
    quiz = Quiz.objects.create(slug="bp", title="bp", time_limit_s=600, shuffle_questions=True,
                               blueprint=[{"count": 3, "group": "g", "tier": "L2", "tags": ["x"]}])
    for k in range(20):
        attempt = attempt_start(user=user_make(f"u{k}"), quiz=quiz, now=T0)
        drawn = [item["question"] for item in attempt.layout]
        assert len(drawn) == 3 and len(set(drawn)) == 3 and set(drawn) <= matching


@pytest.mark.django_db
def test_two_draws_from_overlapping_pools_never_repeat_a_question():
    """Two draws of 2 from the same pool of 3 give 3 distinct questions (the second draw takes what is left)."""
    pool = {bank_question(f"m{i}").id for i in range(3)}
    quiz = Quiz.objects.create(slug="bp", title="bp", blueprint=[{"count": 2, "tags": ["x"]}, {"count": 2, "tags": ["x"]}])
    for seed in range(20):
        drawn = [q.id for q in _draws(quiz, random.Random(seed))]
        assert sorted(drawn) == sorted(pool)


@pytest.mark.django_db
def test_fixed_questions_keep_their_order_without_shuffle():
    """question_slugs [c, a, b] with shuffle_questions False give the layout in that order, every time."""
    c, a, b = question_make("c"), question_make("a"), question_make("b")
    quiz = quiz_make(questions=[c, a, b], time_limit_s=600, shuffle_questions=False)
    for k in range(5):
        attempt = attempt_start(user=user_make(f"u{k}"), quiz=quiz, now=T0)
        assert [item["question"] for item in attempt.layout] == [c.id, a.id, b.id]


@pytest.mark.django_db
def test_shuffled_options_are_a_permutation_of_the_spec_options():
    """With shuffle_options, the layout's option order of a choice part is a permutation of the spec's ids."""
    question = Question.objects.create(slug="pick", title="pick", body="pick one")
    ids = ["a", "b", "c", "d", "e", "f"]
    part = Part.objects.create(question=question, key="a", kind="single_choice", spec={
        "kind": "single_choice", "options": [{"id": i, "text": i.upper(), "correct": i == "c"} for i in ids]})
    quiz = quiz_make(questions=[question], time_limit_s=600, shuffle_options=True)
    orders = set()
    for k in range(10):
        order = attempt_start(user=user_make(f"u{k}"), quiz=quiz, now=T0).layout[0]["options"][str(part.id)]
        assert sorted(order) == ids
        orders.add(tuple(order))
    assert len(orders) > 1  # shuffled (ten identical orders of six: about 1e-26)


@pytest.mark.django_db
def test_options_keep_the_spec_order_without_shuffle():
    """Without shuffle_options, a single_choice part's options keep the spec's order."""
    question = Question.objects.create(slug="pick", title="pick", body="pick one")
    part = Part.objects.create(question=question, key="a", kind="single_choice", spec={
        "kind": "single_choice", "options": [{"id": i, "text": i, "correct": i == "b"} for i in "dcba"]})
    attempt = attempt_start(user=user_make("ana"), quiz=quiz_make(questions=[question]), now=T0)
    assert attempt.layout[0]["options"][str(part.id)] == ["d", "c", "b", "a"]


@pytest.mark.django_db
def test_a_part_not_in_the_attempt_is_refused():
    """answer_save for a part outside the attempt's layout raises Part.DoesNotExist and stores nothing."""
    attempt = attempt_start(user=user_make("ana"), quiz=quiz_make(), now=T0)
    stranger = Part.objects.get(question=question_make("stranger"), key="a")
    with pytest.raises(Part.DoesNotExist):
        answer_save(attempt=attempt, part_id=stranger.id, answer=RIGHT_A, now=T0 + S)
    assert not AttemptAnswer.objects.exists()


# ----------------------------------------------------------------------------- practice mode


@pytest.mark.django_db
def test_practice_checks_grade_at_once_and_count_tries():
    """answer_check on a practice attempt grades each try and counts them; the row keeps the latest grade."""
    quiz = quiz_make(time_limit_s=600, allow_practice=True)
    attempt = attempt_start(user=user_make("ana"), quiz=quiz, practice=True, now=T0)
    pid = part_id(attempt, "a")
    row, result = answer_check(attempt=attempt, part_id=pid, answer="262.144", now=T0 + S)
    assert (result.correct, row.tries) == (False, 1) and "multiply by 2" in result.feedback
    row, result = answer_check(attempt=attempt, part_id=pid, answer=RIGHT_A, now=T0 + 2 * S)
    assert (result.correct, row.tries) == (True, 2)
    stored = AttemptAnswer.objects.get(attempt=attempt, part_id=pid)
    assert (stored.tries, stored.graded, stored.correct, stored.score, stored.answer) == (2, True, True, 1.0, RIGHT_A)


@pytest.mark.django_db
def test_answer_check_on_a_timed_attempt_is_refused():
    """answer_check on a non-practice attempt raises AttemptClosed and saves nothing."""
    attempt = attempt_start(user=user_make("ana"), quiz=quiz_make(time_limit_s=600), now=T0)
    with pytest.raises(AttemptClosed, match="after submission"):
        answer_check(attempt=attempt, part_id=part_id(attempt, "a"), answer=RIGHT_A, now=T0 + S)
    assert not AttemptAnswer.objects.exists()


@pytest.mark.django_db
def test_an_each_part_feedback_quiz_is_always_practice():
    """A quiz with feedback each_part starts a practice attempt (no deadline) even when not asked for practice."""
    quiz = quiz_make(time_limit_s=600, feedback=Quiz.Feedback.EACH_PART)
    attempt = attempt_start(user=user_make("ana"), quiz=quiz, now=T0)
    assert attempt.practice and attempt.deadline is None


# ----------------------------------------------------------------------------- the built-in catalogue


@pytest.fixture
def content(db):
    call_command("load_content", stdout=StringIO(), stderr=StringIO())


@pytest.mark.django_db
def test_load_content_makes_the_builtin_quizzes_and_a_second_sync_changes_nothing(content):
    """After load_content the built-in quizzes exist (mock-interview is 20 minutes); catalogue_sync again is a no-op."""
    slugs = set(Quiz.objects.filter(builtin=True).values_list("slug", flat=True))
    assert {"interview-l1", "interview-l2", "interview-l3", "qa-002", "qa-003", "mock-interview"} <= slugs
    assert any(s.startswith("deck-") for s in slugs)
    assert Quiz.objects.get(slug="mock-interview").time_limit_s == 1200
    assert catalogue_sync() == {"quizzes": [], "card_questions": []}


@pytest.mark.django_db
def test_the_mock_interview_draws_two_l1_two_l2_and_one_l3_interview_questions(content):
    """Starting mock-interview gives 5 distinct interview questions: 2 L1, 2 L2, 1 L3, with a 20-minute deadline."""
    attempt = attempt_start(user=user_make("ana"), quiz=Quiz.objects.get(slug="mock-interview"), now=T0)
    questions = Question.objects.in_bulk([item["question"] for item in attempt.layout])
    assert len(attempt.layout) == len(questions) == 5
    assert {q.group for q in questions.values()} == {"interview"}
    assert sorted(q.tier for q in questions.values()) == ["L1", "L1", "L2", "L2", "L3"]
    assert attempt.deadline == T0 + timedelta(minutes=20)


@pytest.mark.django_db
def test_a_deck_quiz_draws_only_that_decks_card_questions(content):
    """Each deck-<slug> quiz draws only mirrored card questions tagged deck:<slug>."""
    deck_quizzes = Quiz.objects.filter(builtin=True, slug__startswith="deck-")
    assert deck_quizzes.count() >= 2
    for k, quiz in enumerate(deck_quizzes):
        deck = quiz.slug.removeprefix("deck-")
        attempt = attempt_start(user=user_make(f"u{k}"), quiz=quiz, now=T0)
        questions = Question.objects.in_bulk([item["question"] for item in attempt.layout]).values()
        assert questions and len(questions) == len(attempt.layout)
        for q in questions:
            assert q.group == CARD_GROUP and f"deck:{deck}" in q.tags and q.slug.startswith(f"card_{deck}_")


@pytest.mark.django_db
def test_a_tag_quiz_draws_only_cards_with_that_tag(content):
    """tag_quiz_get makes a quiz of the cards with one tag (the same one on a second call); an unknown tag gives None."""
    assert tag_quiz_get(tag="no-such-tag-anywhere") is None
    tag = next(t for q in Question.objects.filter(group=CARD_GROUP) for t in q.tags if not t.startswith("deck:"))
    quiz = tag_quiz_get(tag=tag)
    assert tag_quiz_get(tag=tag) == quiz
    attempt = attempt_start(user=user_make("ana"), quiz=quiz, now=T0)
    for q in Question.objects.in_bulk([item["question"] for item in attempt.layout]).values():
        assert q.group == CARD_GROUP and tag in q.tags


# ----------------------------------------------------------------------------- regressions (bugs found and fixed)


@pytest.mark.django_db
def test_an_extension_never_shortens_a_deadline_after_the_quiz_limit_was_edited():
    """A 1-minute extension moves a deadline fixed at start+600 s to start+660 s, whatever the quiz says now."""
    quiz = quiz_make(time_limit_s=600)
    ana = user_make("ana")
    attempt = attempt_start(user=ana, quiz=quiz, now=T0)
    quiz.time_limit_s = 60
    quiz.save()
    extension_grant(quiz=quiz, user=ana, minutes=1, granted_by=instructor_make())
    assert fresh(attempt).deadline == T0 + timedelta(seconds=660)


@pytest.mark.django_db
def test_a_blueprint_quiz_without_shuffle_asks_in_the_same_order_every_time():
    """With shuffle_questions False, a blueprint drawing its whole pool gives the same order on every attempt."""
    for i in range(6):
        bank_question(f"m{i}")
    quiz = Quiz.objects.create(slug="bp", title="bp", blueprint=[{"count": 6, "group": "g"}], shuffle_questions=False)
    orders = {tuple(item["question"] for item in attempt_start(user=user_make(f"u{k}"), quiz=quiz, now=T0).layout)
              for k in range(5)}
    assert len(orders) == 1


@pytest.mark.django_db
def test_a_timed_start_is_not_answered_with_an_open_practice_attempt():
    """attempt_start(practice=False) while a practice attempt is open does not return the untimed practice one."""
    quiz = quiz_make(time_limit_s=600, allow_practice=True)
    ana = user_make("ana")
    attempt_start(user=ana, quiz=quiz, practice=True, now=T0)
    timed = attempt_start(user=ana, quiz=quiz, now=T0 + S)
    assert not timed.practice and timed.deadline == T0 + S + timedelta(seconds=600)


@pytest.mark.django_db
def test_a_timed_start_ends_the_practice_run_only_when_it_may_start():
    """Starting the timed attempt submits an open practice run, but a refused start leaves the run open."""
    quiz = quiz_make(time_limit_s=600, allow_practice=True, max_attempts=1)
    ana = user_make("ana")
    attempt_submit(attempt=attempt_start(user=ana, quiz=quiz, now=T0), now=T0 + S)  # the one timed attempt, used
    practice = attempt_start(user=ana, quiz=quiz, practice=True, now=T0 + 2 * S)
    with pytest.raises(QuizUnavailable):
        attempt_start(user=ana, quiz=quiz, now=T0 + 3 * S)
    assert fresh(practice).status == Attempt.Status.OPEN
    again = attempt_start(user=ana, quiz=quiz, practice=True, now=T0 + 4 * S)
    assert again.id == practice.id  # practising again resumes the run


@pytest.mark.django_db
def test_one_attempt_that_cannot_be_graded_does_not_keep_the_sweep_from_the_others():
    """A closed attempt whose grading fails is logged and left for the next sweep; the others are graded."""
    quiz = quiz_make(time_limit_s=60)
    broken = attempt_start(user=user_make("ana"), quiz=quiz, now=T0)
    Attempt.objects.filter(pk=broken.pk).update(layout=[{"question": 1}])  # a layout without its parts
    fine = attempt_start(user=user_make("bea"), quiz=quiz, now=T0)
    assert attempts_close_overdue(now=T0 + timedelta(minutes=5)) == 1
    assert (fresh(broken).status, fresh(fine).status) == (Attempt.Status.CLOSED, Attempt.Status.GRADED)


@pytest.mark.django_db
def test_a_card_that_loses_its_answer_leaves_the_quizzes_and_keeps_what_learners_answered():
    """Its mirror is deleted when nobody answered it, or kept untagged (so no quiz draws it) when somebody did."""
    deck = Deck.objects.create(slug="mem", title="Memory")
    spec = {"kind": "numeric", "answer": 14, "unit": "GB"}
    answered, unanswered = (Card.objects.create(deck=deck, key=k, guid=card_guid(deck_slug="mem", key=k), order=i,
                                                front=f"{k}?", back="14 GB", answer=spec, tags=["memory"])
                            for i, k in enumerate(("a", "b")))
    catalogue_sync()
    attempt = attempt_start(user=user_make("ana"), quiz=Quiz.objects.get(slug="deck-mem"), now=T0)
    pid = Part.objects.get(question__slug="card_mem_a").id
    answer_save(attempt=attempt, part_id=pid, answer="14 GB", now=T0 + S)
    Card.objects.filter(pk__in=[answered.pk, unanswered.pk]).update(answer=None)
    changed = catalogue_sync()["card_questions"]
    assert sorted(changed) == ["card_mem_a", "card_mem_b"]
    assert not Question.objects.filter(slug="card_mem_b").exists()
    assert Question.objects.get(slug="card_mem_a").tags == []
    assert AttemptAnswer.objects.get(part_id=pid).answer == "14 GB"
