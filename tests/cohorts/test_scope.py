"""Who may reach what in the instructor's workspace and the quiz management pages: one request per URL (a
table of name, method and URL builder), for another instructor, a student and anonymous. Each answer is
checked for its status, for what it leaks (no username, score, answer, cohort name or invite code of the
other cohort in the body) and for what it changes (the database is compared before and after).

The rules: an instructor sees and acts on the cohorts they teach and nothing else (a superuser on every
cohort); any URL with an id of another instructor's cohort, student, quiz or attempt is 403 or 404; a
student gets 403 on every workspace URL; anonymous gets the login redirect."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from cohorts.models import AuditEntry, Cohort, Enrolment
from cohorts.services import cohort_create, cohort_submission_override
from labs.models import Lab, Submission
from quizzes.models import (
    Attempt,
    AttemptAnswer,
    AttemptGrant,
    Extension,
    GradeChange,
    Part,
    Question,
    Quiz,
    Regrade,
    Response,
)
from quizzes.services.accommodations import attempt_close_now, attempt_reopen
from quizzes.services.attempts import answer_save, attempt_start, attempt_submit
from tests.cohorts.demo_data import planner_statistics_refresh
from tests.factories import instructor_make, user_make

pytestmark = pytest.mark.django_db

SECRET_ANSWER = "31337"  # the victim's answer: a number no page of the attacker's cohort has
SECRET_POINTS = 7.25  # the victim's score: 7.25 / 7.25
SECRET_REASON = "confidential-medical-note"
SECRET_CODE = "def victim_secret_kernel_qx(): pass"  # the victim student's lab submission


# ----------------------------------------------------------------------------- the two cohorts


def question(slug: str, points: float = 1.0) -> Question:
    q = Question.objects.create(slug=slug, title=f"Question {slug}", body="How many?")
    Part.objects.create(question=q, key="a", kind="numeric", points=points,
                        spec={"kind": "numeric", "answer": SECRET_ANSWER, "rtol": 0.01})
    return q


def quiz(slug: str, q: Question, **fields) -> Quiz:
    return Quiz.objects.create(slug=slug, title=f"Title {slug}", question_slugs=[q.slug], **fields)


def graded(user: User, on: Quiz, answer: str = SECRET_ANSWER) -> Attempt:
    at = timezone.now() - timedelta(minutes=10)
    attempt = attempt_start(user=user, quiz=on, now=at)
    answer_save(attempt=attempt, part_id=attempt.layout[0]["parts"][0], answer=answer, now=at + timedelta(seconds=5))
    return attempt_submit(attempt=attempt, now=at + timedelta(minutes=1))


@dataclass
class World:
    victim_teacher: User
    victim: Cohort
    victim_student: User  # has a graded attempt (the secret answer, the secret score)
    victim_runner: User  # has an open attempt
    insider: User  # another student of the victim cohort: the "student" who probes
    victim_quiz: Quiz
    victim_empty_quiz: Quiz  # nobody attempted it: delete would succeed
    victim_graded: Attempt
    victim_open: Attempt
    attacker: User
    mine: Cohort
    my_student: User
    my_quiz: Quiz
    my_attempt: Attempt
    victim_submission: Submission  # a graded lab submission of victim_student

    def leaks(self) -> list[str]:
        return [self.victim_student.username, self.victim_runner.username, self.victim.name, self.victim.invite_code,
                SECRET_ANSWER, f"{SECRET_POINTS:g}", self.victim_quiz.title, self.victim_teacher.username,
                "victim_secret_kernel_qx"]


@pytest.fixture(scope="module")
def world_once(django_db_setup, django_db_blocker) -> Iterator[World]:
    """The two cohorts, made once for the module's tests, as Django's setUpTestData does: in a transaction
    that each test's own (a savepoint) nests in, rolled back at the module's end. Making them took half of
    the module's time, once per test."""
    with django_db_blocker.unblock(), transaction.atomic():
        made = world_make()
        planner_statistics_refresh()
        yield made
        transaction.set_rollback(True)


@pytest.fixture
def world(world_once, db) -> World:
    """The module's cohorts, each object read again: what a test's requests changed was rolled back with its
    savepoint, and what a service changed on an instance in memory is not seen by the next test."""
    return World(*(type(obj).objects.get(pk=obj.pk) for obj in (getattr(world_once, f.name) for f in fields(World))))


def world_make() -> World:
    victim_teacher, attacker = instructor_make("victim-teacher-qx"), instructor_make("attacker-teacher")
    victim, mine = cohort_create(name="Victim cohort QX", instructor=victim_teacher), cohort_create(
        name="Attacker cohort", instructor=attacker)
    victim_student, victim_runner, insider, my_student = (
        user_make(n) for n in ("victim-student-qx", "victim-runner-qx", "insider-student", "my-student"))
    for student in (victim_student, victim_runner, insider):
        Enrolment.objects.create(cohort=victim, student=student)
    Enrolment.objects.create(cohort=mine, student=my_student)
    victim_quiz = quiz("victim-quiz-qx", question("victim-q", SECRET_POINTS), cohort=victim, max_attempts=1,
                       time_limit_s=600)
    victim_empty_quiz = quiz("victim-empty-qx", Question.objects.get(slug="victim-q"), cohort=victim)
    victim_graded = graded(victim_student, victim_quiz)
    assert victim_graded.score == SECRET_POINTS
    victim_open = attempt_start(user=victim_runner, quiz=victim_quiz)
    answer_save(attempt=victim_open, part_id=victim_open.layout[0]["parts"][0], answer=SECRET_ANSWER)
    my_quiz = quiz("my-quiz", question("my-q"), cohort=mine, max_attempts=1)
    my_attempt = graded(my_student, my_quiz, answer="1")
    lab = Lab.objects.create(slug="scope-lab", title="Scope lab", statement="", starter="")
    victim_submission = Submission.objects.create(
        user=victim_student, lab=lab, code=SECRET_CODE, status="done", verdict="accepted", score=80.0,
        result={"verdict": "accepted", "score": 80.0, "correct": True, "cases": [], "speedup": None,
                "diagnostics": "", "wall_s": 1.0})
    return World(victim_teacher, victim, victim_student, victim_runner, insider, victim_quiz, victim_empty_quiz,
                 victim_graded, victim_open, attacker, mine, my_student, my_quiz, my_attempt, victim_submission)


def snapshot() -> dict:
    """Every row the workspace and the quiz pages could write."""
    models = [Cohort, Cohort.instructors.through, Enrolment, Quiz, Attempt, AttemptAnswer, Extension, AttemptGrant,
              AuditEntry, Response, GradeChange, Regrade, Submission]
    state = {m.__name__: sorted(m.objects.values_list(), key=repr) for m in models}
    state["User"] = sorted(User.objects.values_list("id", "username", "is_superuser"))
    state["groups"] = sorted(User.groups.through.objects.values_list("user_id", "group_id"))
    return state


def victim_part(w: World) -> int:
    return Part.objects.get(question__slug="victim-q").id


def victim_answer(w: World) -> int:
    return AttemptAnswer.objects.get(attempt=w.victim_graded).id


def quiz_form(w: World, **fields) -> dict:
    return {"title": "Hijacked", "feedback": "after_submit", "questions": "victim-q", "draws": "",
            "time_limit_min": "", "cohort": w.victim.id, **fields}


# ----------------------------------------------------------------------------- the table of URLs


@dataclass(frozen=True)
class Route:
    name: str
    method: str
    url: Callable[[World], str]
    data: Callable[[World], dict] = lambda w: {}
    workspace: bool = True  # /cohorts/...: a student gets 403; the quiz pages may answer 404


def r(name: str, method: str, args: Callable[[World], list], data: Callable[[World], dict] = lambda w: {},
      *, workspace: bool = True) -> Route:
    return Route(name, method, lambda w: reverse(name, args=args(w)), data, workspace)


# Every URL with an id, pointed at the victim's cohort and what is in it.
VICTIM_URLS = [
    r("cohort", "get", lambda w: [w.victim.id]),
    r("cohort_roster", "get", lambda w: [w.victim.id]),
    r("cohort_rename", "post", lambda w: [w.victim.id], lambda w: {"name": "pwned"}),
    r("cohort_rotate_invite", "post", lambda w: [w.victim.id]),
    r("cohort_add_instructor", "post", lambda w: [w.victim.id], lambda w: {"username": "attacker-teacher"}),
    r("cohort_enrol", "post", lambda w: [w.victim.id], lambda w: {"usernames": "my-student\nvictim-student-qx"}),
    r("cohort_remove_student", "post", lambda w: [w.victim.id, w.victim_student.id], lambda w: {"reason": "x"}),
    r("cohort_set_multiplier", "post", lambda w: [w.victim.id, w.victim_student.id], lambda w: {"multiplier": "5"}),
    r("cohort_export_csv", "get", lambda w: [w.victim.id]),
    r("cohort_responses_csv", "get", lambda w: [w.victim.id]),
    r("quiz_gradebook", "get", lambda w: [w.victim.id, w.victim_quiz.slug]),
    r("quiz_extension", "post", lambda w: [w.victim.id, w.victim_quiz.slug],
      lambda w: {"learner": w.victim_runner.username, "minutes": "600"}),
    r("quiz_extra_attempts", "post", lambda w: [w.victim.id, w.victim_quiz.slug],
      lambda w: {"learner": w.victim_student.username, "extra": "5"}),
    r("attempt_reopen", "post", lambda w: [w.victim.id, w.victim_quiz.slug, w.victim_graded.id],
      lambda w: {"minutes": "60"}),
    r("attempt_close", "post", lambda w: [w.victim.id, w.victim_quiz.slug, w.victim_open.id]),
    r("cohort_attempt", "get", lambda w: [w.victim.id, w.victim_graded.id]),
    r("cohort_attempt", "post", lambda w: [w.victim.id, w.victim_graded.id]),
    r("part_report", "get", lambda w: [w.victim.id, w.victim_quiz.slug, victim_part(w)]),
    r("part_answers", "get", lambda w: [w.victim.id, w.victim_quiz.slug, victim_part(w)]),
    r("part_regrade", "get", lambda w: [w.victim.id, w.victim_quiz.slug, victim_part(w)]),
    r("part_regrade", "post", lambda w: [w.victim.id, w.victim_quiz.slug, victim_part(w)],
      lambda w: {"reason": "pwned", "include_overridden": "on"}),
    r("grading_queue", "get", lambda w: [w.victim.id, w.victim_quiz.slug]),
    r("answer_by_hand", "get", lambda w: [w.victim.id, victim_answer(w)]),
    r("answer_by_hand", "post", lambda w: [w.victim.id, victim_answer(w)], lambda w: {"score": "0", "comment": "x"}),
    r("cohort_submission", "get", lambda w: [w.victim.id, w.victim_submission.id]),
    r("cohort_submission", "post", lambda w: [w.victim.id, w.victim_submission.id],
      lambda w: {"score": "0", "reason": "pwned"}),
    # the quiz management views, on the victim's cohort quizzes
    r("quizzes:edit", "get", lambda w: [w.victim_quiz.slug], workspace=False),
    r("quizzes:edit", "post", lambda w: [w.victim_quiz.slug], lambda w: quiz_form(w, cohort=w.mine.id),
      workspace=False),
    r("quizzes:duplicate", "post", lambda w: [w.victim_quiz.slug], workspace=False),
    r("quizzes:archive", "post", lambda w: [w.victim_quiz.slug], lambda w: {"archived": "1"}, workspace=False),
    r("quizzes:delete", "post", lambda w: [w.victim_empty_quiz.slug], workspace=False),
]

# URLs without an id: a student gets 403 (quizzes:create too), anonymous the login page.
PLAIN_URLS = [
    r("cohort_list", "get", lambda w: []),
    r("cohort_new", "get", lambda w: []),
    r("cohort_new", "post", lambda w: [], lambda w: {"name": "A student's cohort"}),
    r("quizzes:create", "get", lambda w: [], workspace=True),
    r("quizzes:create", "post", lambda w: [], lambda w: quiz_form(w), workspace=True),
]

# The attacker's own cohort in the URL, the victim's student, quiz or attempt in the rest of it.
MIXED_URLS = [
    r("cohort_remove_student", "post", lambda w: [w.mine.id, w.victim_student.id]),
    r("cohort_set_multiplier", "post", lambda w: [w.mine.id, w.victim_student.id], lambda w: {"multiplier": "5"}),
    r("quiz_gradebook", "get", lambda w: [w.mine.id, w.victim_quiz.slug]),
    r("quiz_extension", "post", lambda w: [w.mine.id, w.victim_quiz.slug],
      lambda w: {"learner": w.my_student.username, "minutes": "600"}),
    r("quiz_extra_attempts", "post", lambda w: [w.mine.id, w.victim_quiz.slug],
      lambda w: {"learner": w.my_student.username, "extra": "5"}),
    r("attempt_reopen", "post", lambda w: [w.mine.id, w.my_quiz.slug, w.victim_graded.id], lambda w: {"minutes": "60"}),
    r("attempt_reopen", "post", lambda w: [w.mine.id, w.victim_quiz.slug, w.victim_graded.id],
      lambda w: {"minutes": "60"}),
    r("attempt_close", "post", lambda w: [w.mine.id, w.my_quiz.slug, w.victim_open.id]),
    r("attempt_close", "post", lambda w: [w.mine.id, w.victim_quiz.slug, w.victim_open.id]),
    r("cohort_attempt", "get", lambda w: [w.mine.id, w.victim_graded.id]),
    r("part_report", "get", lambda w: [w.mine.id, w.victim_quiz.slug, victim_part(w)]),
    r("part_report", "get", lambda w: [w.mine.id, w.my_quiz.slug, victim_part(w)]),
    r("part_answers", "get", lambda w: [w.mine.id, w.my_quiz.slug, victim_part(w)]),
    r("part_regrade", "post", lambda w: [w.mine.id, w.my_quiz.slug, victim_part(w)], lambda w: {"reason": "pwned"}),
    r("grading_queue", "get", lambda w: [w.mine.id, w.victim_quiz.slug]),
    r("answer_by_hand", "get", lambda w: [w.mine.id, victim_answer(w)]),
    r("answer_by_hand", "post", lambda w: [w.mine.id, victim_answer(w)], lambda w: {"score": "0", "comment": "x"}),
    r("cohort_submission", "get", lambda w: [w.mine.id, w.victim_submission.id]),
    r("cohort_submission", "post", lambda w: [w.mine.id, w.victim_submission.id],
      lambda w: {"score": "0", "reason": "pwned"}),
    r("quizzes:quiz", "get", lambda w: [w.victim_quiz.slug], workspace=False),
    r("quizzes:start", "post", lambda w: [w.victim_quiz.slug], lambda w: {"mode": "timed"}, workspace=False),
]


def ids(routes: list[Route]) -> list[str]:
    return [f"{route.method.upper()} {route.name}" for route in routes]


def request(client, route: Route, w: World):
    return getattr(client, route.method)(route.url(w), route.data(w))


def body_of(response) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode()
    return response.content.decode()


def assert_no_leak(response, w: World, *, but: tuple[str, ...] = ()) -> None:
    body = body_of(response)
    leaked = [s for s in w.leaks() if s not in but and s in body]
    assert not leaked, f"the answer shows {leaked}"


# ----------------------------------------------------------------------------- another instructor


@pytest.mark.parametrize("route", VICTIM_URLS, ids=ids(VICTIM_URLS))
def test_another_instructor_gets_404_leaks_nothing_and_changes_nothing(client, world, route):
    client.force_login(world.attacker)
    before = snapshot()
    response = request(client, route, world)
    assert response.status_code in (403, 404), response.status_code
    assert_no_leak(response, world)
    assert snapshot() == before


@pytest.mark.parametrize("route", MIXED_URLS, ids=ids(MIXED_URLS))
def test_another_instructor_cannot_reach_a_victim_object_through_their_own_cohort(client, world, route):
    """The attacker's own cohort id with the victim's student, quiz or attempt: 404, nothing leaks or changes."""
    client.force_login(world.attacker)
    before = snapshot()
    response = request(client, route, world)
    assert response.status_code in (403, 404), response.status_code
    assert_no_leak(response, world)
    assert snapshot() == before


@pytest.mark.parametrize("route", [
    r("quiz_extension", "post", lambda w: [w.mine.id, w.my_quiz.slug],
      lambda w: {"learner": w.victim_runner.username, "minutes": "600"}),
    r("quiz_extra_attempts", "post", lambda w: [w.mine.id, w.my_quiz.slug],
      lambda w: {"learner": w.victim_student.username, "extra": "5"}),
    r("quiz_extension", "post", lambda w: [w.mine.id, w.my_quiz.slug],
      lambda w: {"learner": w.victim_teacher.username, "minutes": "600"}),
], ids=["extension for a victim student", "attempts for a victim student", "extension for an instructor"])
def test_a_learner_outside_the_cohort_named_in_a_form_is_refused(client, world, route):
    """The picker only takes the cohort's students: the form is refused, nothing is created."""
    client.force_login(world.attacker)
    before = snapshot()
    response = request(client, route, world)
    assert response.status_code == 302 and response["Location"] == reverse(
        "quiz_gradebook", args=[world.mine.id, world.my_quiz.slug])
    page = client.get(response["Location"])
    said = [str(m) for m in page.context["messages"]]
    assert any("not a student of this cohort" in m.lower() for m in said), said
    assert_no_leak(page, world)
    assert snapshot() == before


def test_a_quiz_cannot_be_created_in_or_moved_to_another_instructors_cohort(client, world):
    client.force_login(world.attacker)
    before = snapshot()
    create = client.post(reverse("quizzes:create"), quiz_form(world))
    edit = client.post(reverse("quizzes:edit", args=[world.my_quiz.slug]), quiz_form(world, questions="my-q"))
    for response in (create, edit):
        assert response.status_code == 200 and "cohort" in response.context["form"].errors
        assert_no_leak(response, world)
    assert snapshot() == before


@pytest.mark.parametrize("route", [x for x in PLAIN_URLS if x.method == "get"], ids=ids(
    [x for x in PLAIN_URLS if x.method == "get"]))
def test_the_pages_without_an_id_show_another_instructor_none_of_the_victims_cohort(client, world, route):
    client.force_login(world.attacker)
    response = request(client, route, world)
    assert response.status_code == 200
    assert_no_leak(response, world)


def test_the_new_quiz_form_preselecting_another_instructors_cohort_shows_nothing_of_it(client, world):
    """/quizzes/new/?cohort=<the victim's id> offers the attacker's cohorts only, none chosen for them."""
    client.force_login(world.attacker)
    response = client.get(reverse("quizzes:create"), {"cohort": world.victim.id})
    assert response.status_code == 200
    assert_no_leak(response, world)
    assert [c.id for c in response.context["form"].fields["cohort"].queryset] == [world.mine.id]


def test_an_instructors_export_of_their_cohort_has_none_of_another_cohort(client, world):
    """A student in both cohorts: the attacker's CSVs have the attacker's quiz only."""
    Enrolment.objects.create(cohort=world.mine, student=world.victim_student)
    client.force_login(world.attacker)
    for name in ("cohort_export_csv", "cohort_responses_csv"):
        body = body_of(client.get(reverse(name, args=[world.mine.id])))
        assert world.victim_quiz.slug not in body and SECRET_ANSWER not in body
    page = client.get(reverse("cohort", args=[world.mine.id])).content.decode()
    assert world.victim_quiz.slug not in page and world.victim_quiz.title not in page


# ----------------------------------------------------------------------------- a student


@pytest.mark.parametrize("route", VICTIM_URLS + PLAIN_URLS, ids=ids(VICTIM_URLS + PLAIN_URLS))
def test_a_student_gets_403_leaks_nothing_and_changes_nothing(client, world, route):
    """A student of the victim's own cohort: 403 on every workspace URL (and on quizzes:create); the quiz
    management URLs of an existing quiz answer 403 or 404."""
    client.force_login(world.insider)
    before = snapshot()
    response = request(client, route, world)
    assert response.status_code == 403 if route.workspace else response.status_code in (403, 404)
    assert_no_leak(response, world)
    assert snapshot() == before


@pytest.mark.parametrize("route", MIXED_URLS[-2:], ids=ids(MIXED_URLS[-2:]))
def test_a_student_outside_the_cohort_cannot_open_or_start_its_quiz(client, world, route):
    client.force_login(world.my_student)
    before = snapshot()
    response = request(client, route, world)
    assert response.status_code == 404
    assert_no_leak(response, world)
    assert snapshot() == before


# ----------------------------------------------------------------------------- anonymous


@pytest.mark.parametrize("route", VICTIM_URLS + PLAIN_URLS + MIXED_URLS, ids=ids(VICTIM_URLS + PLAIN_URLS + MIXED_URLS))
def test_anonymous_is_sent_to_the_login_page_and_changes_nothing(client, world, route):
    before = snapshot()
    response = request(client, route, world)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login") + "?next=")
    assert_no_leak(response, world)
    assert snapshot() == before


# ----------------------------------------------------------------------------- who may: the victim and a superuser


VICTIM_GETS = [route for route in VICTIM_URLS if route.method == "get"]


@pytest.mark.parametrize("who", ["victim", "superuser"])
@pytest.mark.parametrize("route", VICTIM_GETS, ids=ids(VICTIM_GETS))
def test_the_cohorts_instructor_and_a_superuser_open_every_page(client, world, route, who):
    """The table's URLs are the real ones: the cohort's own instructor and a superuser get 200."""
    client.force_login(world.victim_teacher if who == "victim" else
                       User.objects.create_superuser("root", password="x"))
    assert request(client, route, world).status_code == 200


# ----------------------------------------------------------------------------- a student in two cohorts


@pytest.fixture
def shared(world):
    """The victim student is in both cohorts and took a platform-wide quiz; the victim's instructor reopened
    and closed that attempt with a confidential reason (an audit row of the victim cohort)."""
    Enrolment.objects.create(cohort=world.mine, student=world.victim_student)
    platform = quiz("platform-quiz", Question.objects.get(slug="my-q"))
    attempt = graded(world.victim_student, platform, answer="2")
    attempt_reopen(attempt=attempt, minutes=5, actor=world.victim_teacher, reason=SECRET_REASON, cohort=world.victim)
    attempt_close_now(attempt=attempt, actor=world.victim_teacher, reason=SECRET_REASON, cohort=world.victim)
    return {"quiz": platform, "attempt": attempt}


def test_the_gradebook_of_a_platform_quiz_shows_only_the_cohorts_own_audit_rows(client, world, shared):
    client.force_login(world.attacker)
    page = client.get(reverse("quiz_gradebook", args=[world.mine.id, shared["quiz"].slug])).content.decode()
    assert world.victim_student.username in page  # the attacker's student too: their attempt is shown
    assert SECRET_REASON not in page and world.victim_teacher.username not in page


def test_the_attempt_view_shows_only_the_cohorts_own_audit_rows(client, world, shared):
    """The shared student's attempt opened from the attacker's cohort: the victim cohort's audit rows (who
    reopened and closed it, and why) are not shown."""
    client.force_login(world.attacker)
    response = client.get(reverse("cohort_attempt", args=[world.mine.id, shared["attempt"].id]))
    assert response.status_code == 200
    page = response.content.decode()
    assert SECRET_REASON not in page and world.victim_teacher.username not in page


def test_a_shared_students_submission_shows_only_the_cohorts_own_override_rows(client, world):
    """The victim's instructor overrode the shared student's lab score with a confidential reason: from the
    attacker's cohort the page opens (their student too), with the score that counts, but neither who set it,
    nor why, nor the victim cohort's audit row."""
    Enrolment.objects.create(cohort=world.mine, student=world.victim_student)
    cohort_submission_override(cohort=world.victim, submission=world.victim_submission, score=55.0,
                               reason=SECRET_REASON, actor=world.victim_teacher)
    client.force_login(world.attacker)
    response = client.get(reverse("cohort_submission", args=[world.mine.id, world.victim_submission.id]))
    assert response.status_code == 200
    page = response.content.decode()
    assert "55" in page and SECRET_REASON not in page and world.victim_teacher.username not in page
    assert list(response.context["audit"]) == []
