"""The instructor's workspace through real requests: cohorts and rosters (create, rename, invite code,
co-instructors, bulk enrolment, removal, time multipliers), the cohort page (matrix, labs, drills, activity,
at-risk, sorting and filtering), the per-quiz gradebook and its accommodations (extra time, extra attempts,
reopen, close now), the read-only attempt view, the CSV exports, quiz management (create, edit, duplicate,
archive, delete), the audit rows, and the misconception ids stored with every answer.

Who may reach what (another instructor, a student, anonymous, on every URL) is tests/cohorts/test_scope.py."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, timedelta
from html.parser import HTMLParser

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from cohorts.models import AuditEntry, Cohort, Enrolment
from cohorts.services import cohort_create
from drills.models import Card, Deck, ReviewLog, ReviewState, State
from labs.models import Lab, Submission
from quizzes.models import Attempt, AttemptAnswer, AttemptGrant, Extension, Part, Question, Quiz, Response
from quizzes.services.attempts import answer_save, attempt_start, attempt_submit, attempts_close_overdue
from tests.factories import instructor_make, question_make, user_make

pytestmark = pytest.mark.django_db

RIGHT_A, RIGHT_B = "524.288 KB", "s*(q - z)"
MISCONCEIVED_A = "262.144 KB"  # 32*4096*2/1000: only K cached, not K and V → misconception "no-k-and-v"
RESPONSE_COLUMNS = ["student", "quiz", "attempt", "attempt_number", "practice", "question", "part", "points",
                    "answer", "score", "misconception", "submitted_at"]


# ----------------------------------------------------------------------------- helpers


class Page(HTMLParser):
    """The tables (by id: rows with their attributes, cell texts and links) and the selects of a page."""

    def __init__(self, html: str):
        super().__init__()
        self.tables: dict[str, list[dict]] = {}
        self.selects: list[tuple[str, list[str]]] = []
        self._table = self._row = self._cell = self._select = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            self._table = attrs.get("id") or ""
            self.tables.setdefault(self._table, [])
        elif tag == "tr" and self._table is not None:
            self._row = {"attrs": attrs, "cells": [], "links": []}
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif tag == "a" and self._row is not None:
            self._row["links"].append(attrs.get("href"))
        elif tag == "select":
            self._select = []
            self.selects.append((attrs.get("name"), self._select))
        elif tag == "option" and self._select is not None:
            self._select.append(attrs.get("value"))

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row["cells"].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[self._table].append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None
        elif tag == "select":
            self._select = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)

    def rows(self, table: str, attr: str) -> list[dict]:
        """The rows of a table that carry ``attr`` (the body rows: data-student, data-attempt)."""
        return [r for r in self.tables.get(table, []) if attr in r["attrs"]]

    def options(self, name: str) -> list[list[str]]:
        return [[v for v in values if v] for n, values in self.selects if n == name]


def page_of(client, url: str, **params) -> tuple[str, Page]:
    response = client.get(url, params)
    assert response.status_code == 200, (url, response.status_code)
    html = response.content.decode()
    return html, Page(html)


def students_in(client, url: str, **params) -> list[str]:
    _, page = page_of(client, url, **params)
    return [r["attrs"]["data-student"] for r in page.rows("matrix", "data-student")]


def matrix_row(client, cohort: Cohort, username: str, **params) -> list[str]:
    _, page = page_of(client, reverse("cohort", args=[cohort.id]), **params)
    (row,) = [r for r in page.rows("matrix", "data-student") if r["attrs"]["data-student"] == username]
    return row["cells"]


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def csv_rows(response) -> list[list[str]]:
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    body = b"".join(response.streaming_content).decode("utf-8")
    return list(csv.reader(io.StringIO(body)))


def quiz_make(slug: str = "week-1", *, questions: list[Question] | None = None, **fields) -> Quiz:
    questions = questions if questions is not None else [question_for(slug)]
    return Quiz.objects.create(slug=slug, title=f"Quiz {slug}", question_slugs=[q.slug for q in questions],
                               **fields)


def question_for(slug: str) -> Question:
    """The factory's question (parts a: numeric with a misconception, b: symbolic), made once."""
    return Question.objects.filter(slug="kv-cache-7b").first() or question_make()


def part_id(attempt: Attempt, key: str) -> int:
    return Part.objects.get(id__in=[p for item in attempt.layout for p in item["parts"]], key=key).id


def fresh(obj):
    return type(obj).objects.get(pk=obj.pk)


def take(user: User, quiz: Quiz, *, a: str = "", b: str = "", at=None, minutes: float = 1,
         practice: bool = False) -> Attempt:
    """A graded attempt: started at ``at``, answered, submitted ``minutes`` later."""
    at = at or timezone.now() - timedelta(minutes=minutes + 1)
    attempt = attempt_start(user=user, quiz=quiz, practice=practice, now=at)
    for key, answer in (("a", a), ("b", b)):
        if answer:
            answer_save(attempt=attempt, part_id=part_id(attempt, key), answer=answer, now=at + timedelta(seconds=1))
    return attempt_submit(attempt=attempt, now=at + timedelta(minutes=minutes))


def enrol(cohort: Cohort, *users: User) -> None:
    for user in users:
        Enrolment.objects.create(cohort=cohort, student=user)


def audit_of(action: str) -> AuditEntry:
    (entry,) = AuditEntry.objects.filter(action=action)
    return entry


def assert_audited(entry: AuditEntry, *, actor: User, reason: str = "", before=None) -> None:
    """Who, when and why of one audit row."""
    assert entry.actor == actor
    assert entry.at is not None and (before is None or entry.at >= before)
    assert entry.at <= timezone.now()
    assert entry.reason == reason


@pytest.fixture
def teacher() -> User:
    return instructor_make("teacher")


@pytest.fixture
def cohort(teacher) -> Cohort:
    return cohort_create(name="Spring", instructor=teacher)


@pytest.fixture
def ana(cohort) -> User:
    user = user_make("ana")
    enrol(cohort, user)
    return user


@pytest.fixture
def bea(cohort) -> User:
    user = user_make("bea")
    enrol(cohort, user)
    return user


@pytest.fixture
def outsider() -> User:
    """A student of another instructor's cohort."""
    user = user_make("zed-outsider")
    enrol(cohort_create(name="Autumn", instructor=instructor_make("other-teacher")), user)
    return user


@pytest.fixture
def as_teacher(client, teacher):
    client.force_login(teacher)
    return client


# ----------------------------------------------------------------------------- the list of cohorts, a new cohort


def test_the_cohort_list_shows_the_cohorts_one_teaches_with_size_and_at_risk_count(as_teacher, teacher, cohort, ana,
                                                                                    bea, outsider):
    """/cohorts/: each taught cohort with its size and how many are at risk; another instructor's is absent."""
    quiet = cohort_create(name="Evening", instructor=teacher)
    Enrolment.objects.filter(student=bea).update(joined_at=timezone.now() - timedelta(days=30))  # inactive
    html, page = page_of(as_teacher, reverse("cohort_list"))
    rows = [(r["cells"][0], r["cells"][1:3]) for r in page.tables["cohorts"][1:]]
    assert rows == [("Evening", ["0", "0"]), ("Spring", ["2", "1"])]  # by name
    assert cohort.invite_code in html and quiet.invite_code in html
    assert "Autumn" not in html and "zed-outsider" not in html


def test_a_superuser_lists_and_opens_every_cohort(client, cohort, ana, outsider):
    """A superuser sees every cohort on /cohorts/ and opens any of them."""
    admin = User.objects.create_superuser("root", password="x")
    client.force_login(admin)
    html, _ = page_of(client, reverse("cohort_list"))
    assert "Spring" in html and "Autumn" in html
    autumn = Cohort.objects.get(name="Autumn")
    assert "zed-outsider" in page_of(client, reverse("cohort", args=[autumn.id]))[0]
    assert "ana" in page_of(client, reverse("cohort_roster", args=[cohort.id]))[0]


def test_a_new_cohort_is_taught_by_its_creator_and_audited(as_teacher, teacher):
    """POST /cohorts/new/ creates the cohort, its creator teaches it, an audit row says who created it."""
    before = timezone.now()
    response = as_teacher.post(reverse("cohort_new"), {"name": "  Summer school "})
    cohort = Cohort.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("cohort_roster", args=[cohort.id])
    assert cohort.name == "Summer school"
    assert list(cohort.instructors.all()) == [teacher]
    entry = audit_of("cohort_created")
    assert entry.cohort == cohort
    assert_audited(entry, actor=teacher, before=before)
    roster, _ = page_of(as_teacher, reverse("cohort_roster", args=[cohort.id]))
    assert "created the cohort" in roster and cohort.invite_code in roster


def test_a_new_cohort_needs_a_name(as_teacher):
    response = as_teacher.post(reverse("cohort_new"), {"name": ""})
    assert response.status_code == 200
    assert not Cohort.objects.exists() and not AuditEntry.objects.exists()


# ----------------------------------------------------------------------------- the roster


def test_rename_changes_the_name_and_is_audited(as_teacher, teacher, cohort):
    response = as_teacher.post(reverse("cohort_rename", args=[cohort.id]), {"name": "Spring 2026"}, follow=True)
    assert fresh(cohort).name == "Spring 2026"
    entry = audit_of("cohort_renamed")
    assert (entry.cohort, entry.detail) == (cohort, {"old": "Spring", "new": "Spring 2026"})
    assert_audited(entry, actor=teacher)
    assert "renamed the cohort" in response.content.decode()


def test_rename_to_nothing_is_refused(as_teacher, cohort):
    response = as_teacher.post(reverse("cohort_rename", args=[cohort.id]), {"name": "   "}, follow=True)
    assert fresh(cohort).name == "Spring"
    assert not AuditEntry.objects.filter(action="cohort_renamed").exists()
    assert any("needs a name" in m for m in messages_of(response))


def test_a_new_invite_code_stops_the_old_one_and_keeps_the_students(client, teacher, cohort, ana):
    """After rotating: /join/ with the old code enrols nobody, the new one works, ana is still enrolled."""
    old = cohort.invite_code
    client.force_login(teacher)
    client.post(reverse("cohort_rotate_invite", args=[cohort.id]))
    new = fresh(cohort).invite_code
    assert new != old
    assert Enrolment.objects.filter(cohort=cohort, student=ana).exists()
    assert_audited(audit_of("invite_rotated"), actor=teacher)

    late = user_make("late")
    client.force_login(late)
    response = client.post(reverse("join"), {"invite_code": old}, follow=True)
    assert not Enrolment.objects.filter(student=late).exists()
    assert any("No cohort has the invite code" in m for m in messages_of(response))
    client.post(reverse("join"), {"invite_code": f" {new.lower()} "})  # read case-insensitively
    assert Enrolment.objects.filter(cohort=cohort, student=late).exists()


def test_a_co_instructor_is_added_by_username_and_then_teaches_the_cohort(client, teacher, cohort, ana):
    colleague = instructor_make("colleague")
    client.force_login(colleague)
    assert client.get(reverse("cohort", args=[cohort.id])).status_code == 404
    client.force_login(teacher)
    response = client.post(reverse("cohort_add_instructor", args=[cohort.id]), {"username": "colleague"},
                           follow=True)
    assert set(cohort.instructors.values_list("username", flat=True)) == {"teacher", "colleague"}
    entry = audit_of("instructor_added")
    assert (entry.cohort, entry.learner) == (cohort, colleague)
    assert_audited(entry, actor=teacher)
    assert "added a co-instructor" in response.content.decode()
    client.force_login(colleague)
    assert "ana" in page_of(client, reverse("cohort", args=[cohort.id]))[0]


@pytest.mark.parametrize("username,says", [("ghost", "No user is called"), ("teacher", "already teaches")])
def test_a_co_instructor_that_cannot_be_added_is_refused(as_teacher, cohort, username, says):
    response = as_teacher.post(reverse("cohort_add_instructor", args=[cohort.id]), {"username": username},
                               follow=True)
    assert any(says in m for m in messages_of(response))
    assert list(cohort.instructors.values_list("username", flat=True)) == ["teacher"]
    assert not AuditEntry.objects.filter(action="instructor_added").exists()


def test_an_instructor_who_does_not_teach_the_cohort_cannot_add_themselves(client, cohort):
    intruder = instructor_make("intruder")
    client.force_login(intruder)
    response = client.post(reverse("cohort_add_instructor", args=[cohort.id]), {"username": "intruder"})
    assert response.status_code == 404
    assert not cohort.instructors.filter(pk=intruder.pk).exists()
    assert not AuditEntry.objects.filter(action="instructor_added").exists()


def test_removing_a_student_ends_the_enrolment_and_keeps_their_work(as_teacher, teacher, cohort, ana, bea):
    """The enrolment goes; ana's attempts, answers and lab submissions stay; an audit row with the reason."""
    quiz = quiz_make(cohort=cohort)
    attempt = take(ana, quiz, a=RIGHT_A)
    lab = Lab.objects.create(slug="lab-1", title="Lab 1", statement="s", starter="x")
    submission = Submission.objects.create(user=ana, lab=lab, code="print(1)", verdict="accepted")
    response = as_teacher.post(reverse("cohort_remove_student", args=[cohort.id, ana.id]), {"reason": "dropped out"},
                               follow=True)
    assert response.status_code == 200
    assert not Enrolment.objects.filter(cohort=cohort, student=ana).exists()
    assert Enrolment.objects.filter(cohort=cohort, student=bea).exists()
    assert fresh(attempt).score == 1.0 and AttemptAnswer.objects.filter(attempt=attempt).count() == 2
    assert Submission.objects.filter(pk=submission.pk).exists() and User.objects.filter(pk=ana.pk).exists()
    entry = audit_of("student_removed")
    assert (entry.cohort, entry.learner) == (cohort, ana)
    assert_audited(entry, actor=teacher, reason="dropped out")
    page = Page(response.content.decode())
    assert [r["attrs"]["data-student"] for r in page.rows("roster", "data-student")] == ["bea"]
    assert "removed a student" in response.content.decode() and "dropped out" in response.content.decode()
    assert "ana" not in [r["attrs"]["data-student"]
                         for r in page_of(as_teacher, reverse("cohort", args=[cohort.id]))[1].rows("matrix",
                                                                                                 "data-student")]
    # removed: a second removal is a 404, not a second audit row
    assert as_teacher.post(reverse("cohort_remove_student", args=[cohort.id, ana.id])).status_code == 404
    assert AuditEntry.objects.filter(action="student_removed").count() == 1


def enrol_report(response) -> list[tuple[str, str, str]]:
    page = Page(response.content.decode())
    return [tuple(r["cells"]) for r in page.tables["enrol-report"][1:]]


def test_bulk_enrolment_from_a_pasted_list_reports_every_line(as_teacher, teacher, cohort, ana):
    """One username per line: enrolled / already enrolled / no such user / an instructor of this cohort."""
    user_make("cleo"), user_make("dan")
    text = "cleo\n\nana\nghost\n  dan  \nteacher\ncleo\n"
    response = as_teacher.post(reverse("cohort_enrol", args=[cohort.id]), {"usernames": text}, follow=True)
    assert enrol_report(response) == [("1", "cleo", "enrolled"), ("3", "ana", "already enrolled"),
                                      ("4", "ghost", "no such user"), ("5", "dan", "enrolled"),
                                      ("6", "teacher", "an instructor of this cohort"),
                                      ("7", "cleo", "already enrolled")]
    assert set(Enrolment.objects.filter(cohort=cohort).values_list("student__username", flat=True)) == {
        "ana", "cleo", "dan"}
    assert not User.objects.filter(username="ghost").exists()  # nobody is created
    entry = audit_of("students_enrolled")
    assert entry.cohort == cohort and sorted(entry.detail["usernames"]) == ["cleo", "dan"]
    assert_audited(entry, actor=teacher)
    assert any("2 students enrolled" in m for m in messages_of(response))


def test_bulk_enrolment_from_a_csv_upload_with_a_username_column(as_teacher, cohort):
    user_make("cleo"), user_make("dan")
    upload = SimpleUploadedFile("class.csv", "\ufeffemail,Username\nc@x.org,cleo\nd@x.org,dan\ng@x.org,ghost\n"
                                .encode(), content_type="text/csv")
    response = as_teacher.post(reverse("cohort_enrol", args=[cohort.id]), {"usernames": "", "csv_file": upload},
                               follow=True)
    assert enrol_report(response) == [("file line 2", "cleo", "enrolled"), ("file line 3", "dan", "enrolled"),
                                      ("file line 4", "ghost", "no such user")]
    assert set(Enrolment.objects.filter(cohort=cohort).values_list("student__username", flat=True)) == {
        "cleo", "dan"}


def test_bulk_enrolment_from_a_csv_upload_without_a_header_reads_the_first_column(as_teacher, cohort):
    user_make("cleo"), user_make("dan")
    upload = SimpleUploadedFile("class.csv", b"cleo,Cleo C\ndan,Dan D\n", content_type="text/csv")
    response = as_teacher.post(reverse("cohort_enrol", args=[cohort.id]), {"csv_file": upload}, follow=True)
    assert enrol_report(response) == [("file line 1", "cleo", "enrolled"), ("file line 2", "dan", "enrolled")]


def test_a_pasted_list_and_a_csv_upload_together_each_enrol_their_usernames(as_teacher, cohort):
    """The form takes both at once; each is read by its own rule (one per line; the CSV's username column)."""
    user_make("cleo"), user_make("dan")
    upload = SimpleUploadedFile("class.csv", b"email,username\nd@x.org,dan\n", content_type="text/csv")
    response = as_teacher.post(reverse("cohort_enrol", args=[cohort.id]), {"usernames": "cleo", "csv_file": upload},
                               follow=True)
    assert set(Enrolment.objects.filter(cohort=cohort).values_list("student__username", flat=True)) == {
        "cleo", "dan"}, enrol_report(response)


def test_a_removed_student_enrolled_again_comes_back_with_their_work(as_teacher, cohort, ana):
    quiz = quiz_make(cohort=cohort)
    attempt = take(ana, quiz, a=RIGHT_A)
    as_teacher.post(reverse("cohort_remove_student", args=[cohort.id, ana.id]))
    assert attempt.id not in gradebook_rows(as_teacher, cohort, quiz)
    assert as_teacher.get(reverse("cohort_attempt", args=[cohort.id, attempt.id])).status_code == 404
    as_teacher.post(reverse("cohort_enrol", args=[cohort.id]), {"usernames": "ana"})
    assert attempt.id in gradebook_rows(as_teacher, cohort, quiz)
    assert matrix_row(as_teacher, cohort, "ana")[1] == "50%"


@pytest.mark.parametrize("data", [{"usernames": "  \n "}, {}])
def test_bulk_enrolment_of_nothing_is_refused(as_teacher, cohort, data):
    response = as_teacher.post(reverse("cohort_enrol", args=[cohort.id]), data, follow=True)
    assert any("Paste some usernames" in m for m in messages_of(response))
    assert not Enrolment.objects.exists() and not AuditEntry.objects.filter(action="students_enrolled").exists()


def test_a_csv_upload_that_is_not_utf8_is_refused(as_teacher, cohort):
    user_make("cléo")
    upload = SimpleUploadedFile("class.csv", "cléo\n".encode("latin-1"), content_type="text/csv")
    response = as_teacher.post(reverse("cohort_enrol", args=[cohort.id]), {"csv_file": upload}, follow=True)
    assert any("not UTF-8" in m for m in messages_of(response))
    assert not Enrolment.objects.exists()


def test_a_time_multiplier_is_set_per_student_and_audited(as_teacher, teacher, cohort, ana):
    response = as_teacher.post(reverse("cohort_set_multiplier", args=[cohort.id, ana.id]),
                               {"multiplier": "1.5", "reason": "dyslexia, per the office"}, follow=True)
    assert Enrolment.objects.get(cohort=cohort, student=ana).time_multiplier == 1.5
    entry = audit_of("time_multiplier")
    assert (entry.cohort, entry.learner, entry.detail["old"], entry.detail["new"]) == (cohort, ana, 1.0, 1.5)
    assert_audited(entry, actor=teacher, reason="dyslexia, per the office")
    html = response.content.decode()
    assert "set a time multiplier" in html and "dyslexia, per the office" in html


@pytest.mark.parametrize("value,kept", [("0.5", 1.0), ("5.5", 1.0), ("0", 1.0), ("lots", 1.0), ("1", 1.0),
                                        ("5", 5.0)])
def test_a_time_multiplier_is_between_1_and_5(as_teacher, cohort, ana, value, kept):
    as_teacher.post(reverse("cohort_set_multiplier", args=[cohort.id, ana.id]), {"multiplier": value})
    assert Enrolment.objects.get(cohort=cohort, student=ana).time_multiplier == kept
    refused = value in ("0.5", "5.5", "0", "lots")
    assert AuditEntry.objects.filter(action="time_multiplier").exists() is not refused


def test_the_time_multiplier_applies_to_the_cohorts_timed_quizzes_only(client, teacher, cohort, ana):
    """1.5×: an attempt started after setting it ends at start + 1.5 × limit on a quiz of the cohort, at
    start + limit on a platform-wide quiz; an untimed cohort quiz stays untimed."""
    question_make()
    own = quiz_make("own-timed", cohort=cohort, time_limit_s=600)
    everyone = quiz_make("everyone-timed", time_limit_s=600)
    untimed = quiz_make("own-untimed", cohort=cohort)
    client.force_login(teacher)
    client.post(reverse("cohort_set_multiplier", args=[cohort.id, ana.id]), {"multiplier": "1.5"})
    client.force_login(ana)
    for quiz in (own, everyone, untimed):
        client.post(reverse("quizzes:start", args=[quiz.slug]), {"mode": "timed"})
    attempts = {a.quiz.slug: a for a in Attempt.objects.filter(user=ana).select_related("quiz")}
    assert attempts["own-timed"].deadline == attempts["own-timed"].started_at + timedelta(seconds=900)
    assert attempts["everyone-timed"].deadline == attempts["everyone-timed"].started_at + timedelta(seconds=600)
    assert attempts["own-untimed"].deadline is None


def test_a_new_multiplier_moves_the_deadline_of_an_attempt_in_progress(as_teacher, cohort, ana):
    """Documented: the running attempt's deadline is computed again from its start (extensions kept)."""
    quiz = quiz_make(cohort=cohort, time_limit_s=600)
    running = attempt_start(user=ana, quiz=quiz)
    Extension.objects.create(quiz=quiz, user=ana, extra_s=60)
    as_teacher.post(reverse("cohort_set_multiplier", args=[cohort.id, ana.id]), {"multiplier": "2"})
    assert fresh(running).deadline == running.started_at + timedelta(seconds=1200 + 60)
    assert audit_of("time_multiplier").detail["running_attempts"] == 1


def test_setting_a_multiplier_keeps_the_time_of_a_reopened_attempt(client, teacher, cohort, ana):
    quiz = quiz_make(cohort=cohort, time_limit_s=1800)
    graded = take(ana, quiz, a=RIGHT_A, at=timezone.now() - timedelta(hours=2), minutes=5)
    client.force_login(teacher)
    client.post(reverse("attempt_reopen", args=[cohort.id, quiz.slug, graded.id]), {"minutes": "30"})
    reopened = fresh(graded).deadline
    client.post(reverse("cohort_set_multiplier", args=[cohort.id, ana.id]), {"multiplier": "1.5"})
    assert fresh(graded).deadline >= reopened
    client.force_login(ana)
    assert client.get(reverse("quizzes:attempt", args=[graded.id])).status_code == 200
    assert fresh(graded).status == "open"


def test_lowering_a_multiplier_does_not_discard_answers_saved_in_time(as_teacher, cohort, ana):
    quiz = quiz_make(cohort=cohort, time_limit_s=600)
    Enrolment.objects.filter(cohort=cohort, student=ana).update(time_multiplier=2.0)
    started = timezone.now() - timedelta(minutes=15)
    running = attempt_start(user=ana, quiz=quiz, now=started)
    assert running.deadline == started + timedelta(minutes=20)
    answer_save(attempt=running, part_id=part_id(running, "a"), answer=RIGHT_A)  # minute 15 of 20: in time
    as_teacher.post(reverse("cohort_set_multiplier", args=[cohort.id, ana.id]), {"multiplier": "1"})
    attempts_close_overdue(now=timezone.now() + timedelta(minutes=30))
    attempt = fresh(running)
    assert attempt.status == "graded" and attempt.score == 1.0


REASON_OF = "the head of department asked"

ROSTER_ACTIONS = [
    pytest.param("cohort_rename", lambda s: {"name": "Renamed"}, "cohort_renamed"),
    pytest.param("cohort_rotate_invite", lambda s: {}, "invite_rotated"),
    pytest.param("cohort_add_instructor", lambda s: {"username": "colleague"}, "instructor_added"),
    pytest.param("cohort_enrol", lambda s: {"usernames": "cleo"}, "students_enrolled"),
    pytest.param("cohort_remove_student", lambda s: {}, "student_removed", id="cohort_remove_student"),
    pytest.param("cohort_set_multiplier", lambda s: {"multiplier": "2"}, "time_multiplier",
                 id="cohort_set_multiplier"),
]


@pytest.mark.parametrize("name,data,action", ROSTER_ACTIONS)
def test_every_roster_action_is_audited_with_who_when_what_and_why_on_the_roster(as_teacher, teacher, cohort, ana,
                                                                               name, data, action):
    """Each roster action posted with a reason writes one AuditEntry (actor, time, action, reason) that the
    roster shows."""
    instructor_make("colleague"), user_make("cleo")
    args = [cohort.id, ana.id] if name in ("cohort_remove_student", "cohort_set_multiplier") else [cohort.id]
    before = timezone.now()
    response = as_teacher.post(reverse(name, args=args), {**data(None), "reason": REASON_OF}, follow=True)
    entry = audit_of(action)
    assert entry.cohort == cohort and entry.get_action_display() in response.content.decode()
    assert_audited(entry, actor=teacher, reason=REASON_OF, before=before)
    assert REASON_OF in response.content.decode()


# ----------------------------------------------------------------------------- the cohort page


@pytest.fixture
def progress(cohort, teacher, settings):
    """Five students with known quiz scores, labs, drill reviews, overdue cards and activity.

    ana: quiz 50 %, 1 card overdue, reviews 2 and 10 days ago (last activity 2 days ago)
    bea: quiz 100 % then 50 % (best 100, latest 50), 2 labs accepted of 2 tried, last activity 1 h ago
    cleo: quiz 0 %, 1 lab tried (not accepted), 2 cards overdue, last activity 30 min ago
    dan: 3 cards overdue, never active
    eve: joined 10 days ago, never active
    """
    settings.AT_RISK_INACTIVE_DAYS, settings.AT_RISK_MEAN_SCORE, settings.AT_RISK_OVERDUE_CARDS = 7, 0.5, 2
    now = timezone.now()
    users = {name: user_make(name) for name in ("ana", "bea", "cleo", "dan", "eve")}
    enrol(cohort, *users.values())
    Enrolment.objects.filter(student=users["eve"]).update(joined_at=now - timedelta(days=10))
    quiz = quiz_make("week-1", cohort=cohort)
    take(users["ana"], quiz, a=RIGHT_A, at=now - timedelta(days=3))
    take(users["bea"], quiz, a=RIGHT_A, b=RIGHT_B, at=now - timedelta(hours=5))
    take(users["bea"], quiz, b=RIGHT_B, at=now - timedelta(hours=4))
    take(users["cleo"], quiz, a="1", at=now - timedelta(hours=6))
    lab1, lab2 = (Lab.objects.create(slug=f"lab-{i}", title=f"Lab {i}", statement="s", starter="x") for i in (1, 2))
    for user, lab, verdict, ago in ((users["bea"], lab1, "wrong_answer", 2), (users["bea"], lab1, "accepted", 1.5),
                                    (users["bea"], lab2, "accepted", 1), (users["cleo"], lab1, "wrong_answer", 0.5)):
        sub = Submission.objects.create(user=user, lab=lab, code="x", verdict=verdict, status="done")
        Submission.objects.filter(pk=sub.pk).update(created_at=now - timedelta(hours=ago))
    deck = Deck.objects.create(slug="mem", title="Memory")
    cards = [Card.objects.create(deck=deck, key=f"c{i}", guid=f"guid-{i}", front="?", back="!") for i in range(3)]
    for user, n in ((users["ana"], 1), (users["cleo"], 2), (users["dan"], 3)):
        for card in cards[:n]:
            ReviewState.objects.create(user=user, card=card, state=State.REVIEW, due=now - timedelta(days=1))
    ReviewState.objects.create(user=users["bea"], card=cards[0], state=State.REVIEW, due=now + timedelta(days=3))
    for days in (2, 10):
        ReviewLog.objects.create(user=users["ana"], card=cards[0], rating=3, reviewed_at=now - timedelta(days=days),
                                 state_before=State.REVIEW, state_after=State.REVIEW, due_after=now)
    return {"quiz": quiz, **users}


def test_the_matrix_shows_the_best_score_by_default_and_the_latest_on_request(as_teacher, cohort, progress):
    """A student × quiz cell: best graded attempt (default) or latest (?view=latest); empty if not attempted."""
    assert matrix_row(as_teacher, cohort, "bea")[1] == "100%"
    assert matrix_row(as_teacher, cohort, "bea", view="latest")[1] == "50%"
    assert matrix_row(as_teacher, cohort, "ana")[1] == "50%"
    assert matrix_row(as_teacher, cohort, "cleo")[1] == "0%"
    assert matrix_row(as_teacher, cohort, "dan")[1] == "" and matrix_row(as_teacher, cohort, "dan",
                                                                          view="latest")[1] == ""


def test_a_practice_run_does_not_score_in_the_matrix(as_teacher, cohort, ana):
    quiz = quiz_make(cohort=cohort, allow_practice=True)
    take(ana, quiz, a=RIGHT_A, b=RIGHT_B, practice=True)
    assert matrix_row(as_teacher, cohort, "ana")[1] == ""


def test_the_matrix_shows_labs_drills_overdue_cards_and_activity(as_teacher, cohort, progress):
    """Labs accepted / tried, reviews in the last 7 days, cards overdue, last activity ("never" when none)."""
    rows = {name: matrix_row(as_teacher, cohort, name) for name in ("ana", "bea", "cleo", "dan", "eve")}
    # cells: student, the quiz, labs, reviews in 7 days, cards overdue, last activity, at risk
    assert {name: row[2:5] for name, row in rows.items()} == {
        "ana": ["0 / 0", "1", "1"], "bea": ["2 / 2", "0", "0"], "cleo": ["0 / 1", "0", "2"],
        "dan": ["0 / 0", "0", "3"], "eve": ["0 / 0", "0", "0"]}
    assert rows["dan"][5] == "never" and rows["eve"][5] == "never"
    local = timezone.localtime(timezone.now() - timedelta(days=2))
    assert rows["ana"][5][:10] == local.strftime("%Y-%m-%d")


def test_at_risk_students_are_flagged_with_their_reasons(as_teacher, cohort, progress):
    """cleo: mean score 0 %; dan: 3 cards overdue (> 2); eve: no activity since joining 10 days ago. ana's mean is
    exactly 50 % (not under) and bea's latest is 50 %: not at risk."""
    rows = {name: matrix_row(as_teacher, cohort, name)[-1] for name in ("ana", "bea", "cleo", "dan", "eve")}
    assert rows["ana"] == rows["bea"] == ""
    assert "mean quiz score 0%" in rows["cleo"]
    assert "3 drill cards overdue" in rows["dan"]
    assert "no activity since joining 10 days ago" in rows["eve"]
    html, _ = page_of(as_teacher, reverse("cohort", args=[cohort.id]))
    assert "<strong>3</strong> at risk" in html


def test_the_at_risk_thresholds_come_from_the_settings(as_teacher, cohort, progress, settings):
    settings.AT_RISK_MEAN_SCORE, settings.AT_RISK_INACTIVE_DAYS, settings.AT_RISK_OVERDUE_CARDS = 0.6, 30, 50
    rows = {name: matrix_row(as_teacher, cohort, name)[-1] for name in ("ana", "bea", "cleo", "dan", "eve")}
    assert "mean quiz score 50%" in rows["ana"] and "mean quiz score 50%" in rows["bea"]  # latest attempts
    assert rows["dan"] == rows["eve"] == ""


def test_the_inactivity_threshold_counts_from_the_last_activity(as_teacher, cohort, progress, settings):
    settings.AT_RISK_INACTIVE_DAYS = 1
    assert "no activity for 2 days" in matrix_row(as_teacher, cohort, "ana")[-1]


def test_the_at_risk_filter_shows_only_students_at_risk(as_teacher, cohort, progress):
    assert students_in(as_teacher, reverse("cohort", args=[cohort.id]), at_risk="1") == ["cleo", "dan", "eve"]


@pytest.mark.parametrize("sort,order", [
    ("name", ["ana", "bea", "cleo", "dan", "eve"]),
    ("risk", ["cleo", "dan", "eve", "ana", "bea"]),
    ("activity", ["dan", "eve", "ana", "bea", "cleo"]),  # never active first, then the least recently active
    ("labs", ["bea", "ana", "cleo", "dan", "eve"]),
    ("overdue", ["dan", "cleo", "ana", "bea", "eve"]),
    ("quiz", ["cleo", "ana", "bea", "dan", "eve"]),  # lowest score first, not attempted last
    ("nonsense", ["ana", "bea", "cleo", "dan", "eve"]),
])
def test_the_matrix_sorts_by_each_column(as_teacher, cohort, progress, sort, order):
    sort = f"quiz-{progress['quiz'].id}" if sort == "quiz" else sort
    assert students_in(as_teacher, reverse("cohort", args=[cohort.id]), sort=sort) == order


def test_sorting_and_the_at_risk_filter_combine(as_teacher, cohort, progress):
    assert students_in(as_teacher, reverse("cohort", args=[cohort.id]), sort="overdue", at_risk="1") == [
        "dan", "cleo", "eve"]


def test_the_cohort_page_has_its_own_quizzes_and_platform_quizzes_taken_but_no_other_cohorts(as_teacher, cohort,
                                                                                             ana, outsider):
    """Columns: the cohort's quizzes (attempted or not) and platform-wide quizzes its students took; never
    another cohort's quiz or student, even when a student of both took it."""
    other = Cohort.objects.get(name="Autumn")
    enrol(other, ana)  # ana is in both cohorts
    own = quiz_make("own-quiz", cohort=cohort)
    taken = quiz_make("open-taken")
    quiz_make("open-untaken")  # nobody took it: no column
    theirs = quiz_make("their-quiz", cohort=other)
    take(ana, taken, a=RIGHT_A)
    take(ana, theirs, a=RIGHT_A, b=RIGHT_B)
    take(outsider, theirs, a=RIGHT_A)
    html, page = page_of(as_teacher, reverse("cohort", args=[cohort.id]))
    header = page.tables["matrix"][0]["cells"]
    assert len(header) == 1 + 2 + 5 and set(header[1:3]) == {"Quiz open-taken ↕", "Quiz own-quiz ↕"}
    assert "their-quiz" not in html and "open-untaken" not in html and "zed-outsider" not in html
    assert {own.slug, taken.slug} == {reverse_slug(link) for link in page.tables["matrix"][0]["links"]
                                      if "/quizzes/" in link}


def reverse_slug(link: str) -> str:
    return link.rstrip("/").rsplit("/", 1)[1]


# ----------------------------------------------------------------------------- the gradebook


@pytest.fixture
def gradebook(cohort, teacher, ana, bea):
    """A timed quiz of the cohort: ana graded (5 minutes, a right), a practice run of ana, bea's attempt open."""
    quiz = quiz_make(cohort=cohort, time_limit_s=1800, allow_practice=True, max_attempts=2)
    graded = take(ana, quiz, a=RIGHT_A, at=timezone.now() - timedelta(minutes=20), minutes=5)
    practice = take(ana, quiz, a="1", practice=True)
    running = attempt_start(user=bea, quiz=quiz)
    answer_save(attempt=running, part_id=part_id(running, "a"), answer=MISCONCEIVED_A)
    return {"quiz": quiz, "graded": graded, "practice": practice, "running": running}


def gradebook_url(cohort: Cohort, quiz: Quiz) -> str:
    return reverse("quiz_gradebook", args=[cohort.id, quiz.slug])


def gradebook_rows(client, cohort: Cohort, quiz: Quiz) -> dict[int, dict]:
    _, page = page_of(client, gradebook_url(cohort, quiz))
    return {int(r["attrs"]["data-attempt"]): r for r in page.rows("gradebook", "data-attempt")}


def test_the_gradebook_lists_every_attempt_with_its_details_and_links(as_teacher, cohort, gradebook):
    """student, number, mode, status, score, time used, closed by, extra time; each links to the attempt view."""
    Extension.objects.create(quiz=gradebook["quiz"], user=gradebook["running"].user, extra_s=300)
    rows = gradebook_rows(as_teacher, cohort, gradebook["quiz"])
    graded, practice, running = (rows[gradebook[k].id] for k in ("graded", "practice", "running"))
    assert graded["cells"][:8] == ["ana", "1", "timed", "graded", "1 / 2 (50%)", "5:00", "submitted by the learner", ""]
    assert practice["cells"][:7] == ["ana", "2", "practice", "graded", "0 / 2 (0%)", "1:00",
                                     "submitted by the learner"]
    assert running["cells"][:8] == ["bea", "1", "timed", "in progress", "", "", "", "+5 min"]
    for key in ("graded", "practice", "running"):
        assert reverse("cohort_attempt", args=[cohort.id, gradebook[key].id]) in rows[gradebook[key].id]["links"]


def test_the_learner_picker_offers_only_the_cohorts_students(as_teacher, cohort, gradebook, outsider):
    instructor_make("colleague")
    _, page = page_of(as_teacher, gradebook_url(cohort, gradebook["quiz"]))
    pickers = page.options("learner")
    assert len(pickers) == 2 and all(options == ["ana", "bea"] for options in pickers)


def test_a_student_made_co_instructor_is_not_offered_as_a_learner(as_teacher, cohort, gradebook):
    as_teacher.post(reverse("cohort_add_instructor", args=[cohort.id]), {"username": "bea"})
    assert cohort.instructors.filter(username="bea").exists()
    as_teacher.post(reverse("quiz_extension", args=[cohort.id, gradebook["quiz"].slug]),
                    {"learner": "bea", "minutes": "60"})
    assert not Extension.objects.filter(user__username="bea").exists()


def test_an_extension_moves_the_open_attempts_deadline_and_the_next_ones(as_teacher, teacher, cohort, gradebook):
    running = gradebook["running"]
    before = timezone.now()
    response = as_teacher.post(reverse("quiz_extension", args=[cohort.id, gradebook["quiz"].slug]),
                               {"learner": "bea", "minutes": "5", "reason": "fire alarm"}, follow=True)
    assert fresh(running).deadline - running.deadline == timedelta(seconds=300)
    assert Extension.objects.get().extra_s == 300
    entry = audit_of("extension")
    assert (entry.cohort, entry.quiz, entry.learner) == (cohort, gradebook["quiz"], running.user)
    assert_audited(entry, actor=teacher, reason="fire alarm", before=before)
    html = response.content.decode()
    assert "granted extra time" in html and "fire alarm" in html
    # the next attempt gets it too
    attempt_submit(attempt=running)
    Quiz.objects.filter(pk=gradebook["quiz"].pk).update(max_attempts=None)
    later = attempt_start(user=running.user, quiz=gradebook["quiz"])
    assert later.deadline == later.started_at + timedelta(seconds=1800 + 300)


@pytest.mark.parametrize("learner", ["zed-outsider", "teacher", "colleague", "ghost"])
def test_an_extension_for_someone_outside_the_cohort_is_refused(as_teacher, cohort, gradebook, outsider, learner):
    """A student of another cohort, the instructor, a co-instructor, nobody: refused, nothing created."""
    colleague = instructor_make("colleague")
    cohort.instructors.add(colleague)
    Attempt.objects.create(quiz=gradebook["quiz"], user=outsider, number=1, seed=1, started_at=timezone.now(),
                           deadline=timezone.now() + timedelta(minutes=10))
    deadlines = dict(Attempt.objects.values_list("id", "deadline"))
    response = as_teacher.post(reverse("quiz_extension", args=[cohort.id, gradebook["quiz"].slug]),
                               {"learner": learner, "minutes": "60"}, follow=True)
    assert any("not a student of this cohort" in m.lower() for m in messages_of(response))
    assert not Extension.objects.exists() and not AuditEntry.objects.filter(action="extension").exists()
    assert dict(Attempt.objects.values_list("id", "deadline")) == deadlines


@pytest.mark.parametrize("learner", ["zed-outsider", "teacher"])
def test_extra_attempts_for_someone_outside_the_cohort_are_refused(as_teacher, cohort, gradebook, outsider, learner):
    as_teacher.post(reverse("quiz_extra_attempts", args=[cohort.id, gradebook["quiz"].slug]),
                    {"learner": learner, "extra": "3"})
    assert not AttemptGrant.objects.exists() and not AuditEntry.objects.filter(action="attempts_added").exists()


@pytest.mark.parametrize("minutes", ["0", "-5", "", "lots"])
def test_an_extension_of_no_time_is_refused(as_teacher, cohort, gradebook, minutes):
    as_teacher.post(reverse("quiz_extension", args=[cohort.id, gradebook["quiz"].slug]),
                    {"learner": "bea", "minutes": minutes})
    assert not Extension.objects.exists()
    assert fresh(gradebook["running"]).deadline == gradebook["running"].deadline


def test_extra_attempts_let_a_learner_who_used_them_all_start_again(client, teacher, cohort, ana):
    quiz = quiz_make(cohort=cohort, max_attempts=1)
    take(ana, quiz, a=RIGHT_A)
    client.force_login(ana)
    response = client.post(reverse("quizzes:start", args=[quiz.slug]), {"mode": "timed"}, follow=True)
    assert any("used all 1 attempt" in m for m in messages_of(response))
    assert Attempt.objects.filter(user=ana).count() == 1

    client.force_login(teacher)
    response = client.post(reverse("quiz_extra_attempts", args=[cohort.id, quiz.slug]),
                           {"learner": "ana", "extra": "1", "reason": "sick on the day"}, follow=True)
    assert AttemptGrant.objects.get().extra == 1
    entry = audit_of("attempts_added")
    assert (entry.cohort, entry.quiz, entry.learner, entry.detail) == (cohort, quiz, ana, {"extra": 1})
    assert_audited(entry, actor=teacher, reason="sick on the day")
    assert "added attempts" in response.content.decode() and "sick on the day" in response.content.decode()

    client.force_login(ana)
    client.post(reverse("quizzes:start", args=[quiz.slug]), {"mode": "timed"})
    assert list(Attempt.objects.filter(user=ana).order_by("number").values_list("number", "status")) == [
        (1, "graded"), (2, "open")]
    # and then they are used up again
    take_open = Attempt.objects.get(user=ana, number=2)
    attempt_submit(attempt=take_open)
    client.post(reverse("quizzes:start", args=[quiz.slug]), {"mode": "timed"})
    assert Attempt.objects.filter(user=ana).count() == 2


@pytest.mark.parametrize("extra", ["0", "21", "-1", ""])
def test_extra_attempts_are_between_1_and_20(as_teacher, cohort, gradebook, extra):
    as_teacher.post(reverse("quiz_extra_attempts", args=[cohort.id, gradebook["quiz"].slug]),
                    {"learner": "ana", "extra": extra})
    assert not AttemptGrant.objects.exists() and not AuditEntry.objects.filter(action="attempts_added").exists()


def test_extra_attempts_on_a_quiz_without_a_limit_are_refused(as_teacher, cohort, ana):
    quiz = quiz_make(cohort=cohort)
    response = as_teacher.post(reverse("quiz_extra_attempts", args=[cohort.id, quiz.slug]),
                               {"learner": "ana", "extra": "1"}, follow=True)
    assert any("any number of attempts" in m for m in messages_of(response))
    assert not AttemptGrant.objects.exists()


def test_reopening_keeps_the_saved_answers_and_regrades_at_close(client, teacher, cohort, gradebook):
    """ana's graded attempt (a right, b empty) reopened for 30 minutes: open again with a new deadline, a still
    saved; ana answers b and submits: graded 2 / 2, both answers counted; an audit row with the reason."""
    graded, quiz = gradebook["graded"], gradebook["quiz"]
    client.force_login(teacher)
    before = timezone.now()
    response = client.post(reverse("attempt_reopen", args=[cohort.id, quiz.slug, graded.id]),
                           {"minutes": "30", "reason": "the network went down"}, follow=True)
    attempt = fresh(graded)
    assert (attempt.status, attempt.closed_at, attempt.score) == ("open", None, None)
    assert before + timedelta(minutes=30) <= attempt.deadline <= timezone.now() + timedelta(minutes=30)
    assert attempt.answers.get(part__key="a").answer == RIGHT_A
    entry = audit_of("attempt_reopened")
    assert (entry.cohort, entry.quiz, entry.learner, entry.attempt) == (cohort, quiz, graded.user, graded)
    assert_audited(entry, actor=teacher, reason="the network went down", before=before)
    assert "reopened an attempt" in response.content.decode()
    assert Attempt.objects.filter(user=graded.user, quiz=quiz, practice=False).count() == 1  # no attempt charged

    client.force_login(graded.user)
    assert client.get(reverse("quizzes:attempt", args=[graded.id])).status_code == 200
    client.post(reverse("quizzes:autosave", args=[graded.id, part_id(graded, "b")]), {"answer": RIGHT_B})
    client.post(reverse("quizzes:submit", args=[graded.id]))
    attempt = fresh(graded)
    assert (attempt.status, attempt.closed_by, attempt.score, attempt.max_score) == ("graded", "learner", 2.0, 2.0)
    assert sorted(attempt.answers.values_list("answer", "graded", "correct")) == [(RIGHT_A, True, True),
                                                                                  (RIGHT_B, True, True)]


def test_a_reopened_attempt_left_alone_is_closed_by_the_sweep_and_regraded(as_teacher, cohort, gradebook):
    graded, quiz = gradebook["graded"], gradebook["quiz"]
    as_teacher.post(reverse("attempt_reopen", args=[cohort.id, quiz.slug, graded.id]), {"minutes": "1"})
    deadline = fresh(graded).deadline
    assert attempts_close_overdue(now=deadline + timedelta(seconds=1)) == 1
    attempt = fresh(graded)
    assert (attempt.status, attempt.closed_by, attempt.closed_at, attempt.score) == ("graded", "sweep", deadline, 1.0)


def test_a_practice_run_is_not_reopened(as_teacher, cohort, gradebook):
    practice = gradebook["practice"]
    response = as_teacher.post(reverse("attempt_reopen", args=[cohort.id, gradebook["quiz"].slug, practice.id]),
                               {"minutes": "30"}, follow=True)
    assert any("practice run is not reopened" in m for m in messages_of(response))
    assert fresh(practice).status == "graded"
    assert not AuditEntry.objects.filter(action="attempt_reopened").exists()


def test_an_attempt_is_not_reopened_while_another_of_the_quiz_is_open(as_teacher, cohort, gradebook):
    graded, quiz = gradebook["graded"], gradebook["quiz"]
    running = attempt_start(user=graded.user, quiz=quiz)
    response = as_teacher.post(reverse("attempt_reopen", args=[cohort.id, quiz.slug, graded.id]),
                               {"minutes": "30"}, follow=True)
    assert any("another attempt of this quiz open" in m for m in messages_of(response))
    assert (fresh(graded).status, fresh(graded).score, fresh(running).status) == ("graded", 1.0, "open")
    assert not AuditEntry.objects.filter(action="attempt_reopened").exists()


@pytest.mark.parametrize("minutes", ["0", "-1", "20000", ""])
def test_reopening_needs_a_sensible_number_of_minutes(as_teacher, cohort, gradebook, minutes):
    graded = gradebook["graded"]
    as_teacher.post(reverse("attempt_reopen", args=[cohort.id, gradebook["quiz"].slug, graded.id]),
                    {"minutes": minutes})
    assert fresh(graded).status == "graded"


def test_an_open_attempt_is_not_reopened(as_teacher, cohort, gradebook):
    running = gradebook["running"]
    response = as_teacher.post(reverse("attempt_reopen", args=[cohort.id, gradebook["quiz"].slug, running.id]),
                               {"minutes": "30"}, follow=True)
    assert any("still open" in m for m in messages_of(response))
    assert fresh(running).deadline == running.deadline


def test_close_now_submits_and_grades_the_open_attempt(as_teacher, teacher, cohort, gradebook):
    running = gradebook["running"]
    before = timezone.now()
    response = as_teacher.post(reverse("attempt_close", args=[cohort.id, gradebook["quiz"].slug, running.id]),
                               {"reason": "left the room"}, follow=True)
    attempt = fresh(running)
    assert (attempt.status, attempt.closed_by, attempt.score, attempt.max_score) == ("graded", "instructor", 0.0, 2.0)
    assert before <= attempt.closed_at <= timezone.now() and attempt.graded_at is not None
    assert attempt.answers.get(part__key="a").misconception == "no-k-and-v"
    entry = audit_of("attempt_closed")
    assert (entry.cohort, entry.quiz, entry.learner, entry.attempt) == (cohort, gradebook["quiz"], running.user,
                                                                        running)
    assert_audited(entry, actor=teacher, reason="left the room", before=before)
    html = response.content.decode()
    assert "closed an attempt" in html and "left the room" in html and "closed by an instructor" in html
    # a second close is refused and writes nothing
    response = as_teacher.post(reverse("attempt_close", args=[cohort.id, gradebook["quiz"].slug, running.id]),
                               follow=True)
    assert any("not open" in m for m in messages_of(response))
    assert AuditEntry.objects.filter(action="attempt_closed").count() == 1


def test_the_sweep_closes_overdue_attempts_as_the_sweep(cohort, ana):
    quiz = quiz_make(cohort=cohort, time_limit_s=60)
    attempt = attempt_start(user=ana, quiz=quiz, now=timezone.now() - timedelta(hours=1))
    assert attempts_close_overdue() == 1
    attempt = fresh(attempt)
    assert (attempt.status, attempt.closed_by, attempt.closed_at) == ("graded", "sweep", attempt.deadline)


# ----------------------------------------------------------------------------- the read-only attempt view


def test_the_attempt_view_shows_answers_verdicts_misconceptions_and_keys(as_teacher, cohort, ana):
    """Whatever the quiz's feedback rule (here: after the window closes, still ahead)."""
    quiz = quiz_make(cohort=cohort, feedback="after_close", closes_at=timezone.now() + timedelta(days=3))
    attempt = take(ana, quiz, a=MISCONCEIVED_A, b=RIGHT_B)
    html, _ = page_of(as_teacher, reverse("cohort_attempt", args=[cohort.id, attempt.id]))
    assert "Read-only" in html and "ana" in html
    assert "262.144" in html and "Not correct" in html and "Correct" in html
    assert "Misconception matched: <code>no-k-and-v</code>" in html
    assert "Correct answer" in html and r"s \cdot \left(q - z\right)" in html
    assert 'id="score">1 / 2<' in html
    assert "<form" not in html.split("<main>", 1)[1]  # nothing on the page can be edited


def test_the_attempt_view_refuses_a_post(as_teacher, cohort, ana):
    quiz = quiz_make(cohort=cohort)
    attempt = take(ana, quiz, a=RIGHT_A)
    before = list(AttemptAnswer.objects.values_list("id", "answer", "score"))
    response = as_teacher.post(reverse("cohort_attempt", args=[cohort.id, attempt.id]), {"answer": "1"})
    assert list(AttemptAnswer.objects.values_list("id", "answer", "score")) == before
    assert response.status_code == 405


def test_no_route_under_the_attempt_view_writes(as_teacher, cohort, ana):
    """The attempt view has no sub-route: POSTs to the usual verbs under it are 404."""
    attempt = take(ana, quiz_make(cohort=cohort), a=RIGHT_A)
    base = reverse("cohort_attempt", args=[cohort.id, attempt.id])
    for verb in ("reopen/", "close/", "grade/", "answers/1/"):
        assert as_teacher.post(base + verb, {"minutes": "30"}).status_code == 404
    assert fresh(attempt).status == "graded"


# ----------------------------------------------------------------------------- the CSV exports


def test_the_scores_csv_has_a_column_per_quiz_with_the_best_percentage(as_teacher, cohort, progress):
    """Best graded attempt as a percentage with one decimal; an attempt in progress does not count."""
    attempt_start(user=progress["dan"], quiz=progress["quiz"])
    response = as_teacher.get(reverse("cohort_export_csv", args=[cohort.id]))
    assert response["Content-Disposition"] == f'attachment; filename="cohort-{cohort.id}.csv"'
    rows = csv_rows(response)
    assert rows[0] == ["student", "week-1", "labs_accepted", "at_risk"]
    assert rows[1:] == [["ana", "50.0", "0", "false"], ["bea", "100.0", "2", "false"], ["cleo", "0.0", "0", "true"],
                        ["dan", "", "0", "true"], ["eve", "", "0", "true"]]


def test_the_responses_csv_has_one_row_per_part_of_every_graded_attempt(as_teacher, cohort, ana, bea, outsider):
    """Unanswered parts included with an empty answer; the misconception id; practice runs flagged; open
    attempts, other cohorts' quizzes and other cohorts' students left out."""
    quiz = quiz_make(cohort=cohort, allow_practice=True)
    first = take(ana, quiz, a=MISCONCEIVED_A)
    practice = take(ana, quiz, b=RIGHT_B, practice=True)
    attempt_start(user=bea, quiz=quiz)  # open: not exported
    theirs = quiz_make("their-quiz", cohort=Cohort.objects.get(name="Autumn"))
    take(outsider, theirs, a=RIGHT_A)
    rows = csv_rows(as_teacher.get(reverse("cohort_responses_csv", args=[cohort.id])))
    assert rows[0][:12] == RESPONSE_COLUMNS
    body = [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]
    assert [(r["student"], r["quiz"], r["attempt"], r["attempt_number"], r["practice"], r["question"], r["part"],
             r["points"], r["answer"], r["score"], r["misconception"]) for r in body] == [
        ("ana", "week-1", str(first.id), "1", "false", "kv-cache-7b", "a", "1", MISCONCEIVED_A, "0", "no-k-and-v"),
        ("ana", "week-1", str(first.id), "1", "false", "kv-cache-7b", "b", "1", "", "0", ""),
        ("ana", "week-1", str(practice.id), "2", "true", "kv-cache-7b", "a", "1", "", "0", ""),
        ("ana", "week-1", str(practice.id), "2", "true", "kv-cache-7b", "b", "1", RIGHT_B, "1", ""),
    ]
    closed = fresh(first).closed_at.astimezone(UTC)
    assert body[0]["submitted_at"] == closed.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", body[2]["submitted_at"])


def test_the_responses_csv_quotes_answers_with_commas_quotes_and_newlines(as_teacher, cohort, ana):
    tricky = 'about 2,5 "KB"\nor so'
    attempt = take(ana, quiz_make(cohort=cohort), a=tricky)
    response = as_teacher.get(reverse("cohort_responses_csv", args=[cohort.id]))
    assert response["Content-Disposition"] == f'attachment; filename="cohort-{cohort.id}-responses.csv"'
    rows = csv_rows(response)
    assert [(row[2], row[6], row[8]) for row in rows[1:]] == [(str(attempt.id), "a", tricky), (str(attempt.id), "b", "")]


# ----------------------------------------------------------------------------- misconceptions are stored


def test_a_bank_answer_stores_its_misconception(client, ana):
    question_make()
    client.force_login(ana)
    client.post(reverse("quizzes:answer", args=["kv-cache-7b", "a"]), {"answer": MISCONCEIVED_A})
    client.post(reverse("quizzes:answer", args=["kv-cache-7b", "a"]), {"answer": RIGHT_A})
    assert list(Response.objects.order_by("created_at", "id").values_list("answer", "correct", "misconception")) == [
        (MISCONCEIVED_A, False, "no-k-and-v"), (RIGHT_A, True, "")]


def test_a_practice_check_and_a_graded_attempt_store_the_misconception(client, cohort, ana):
    quiz = quiz_make(cohort=cohort, allow_practice=True)
    practice = attempt_start(user=ana, quiz=quiz, practice=True)
    client.force_login(ana)
    client.post(reverse("quizzes:check", args=[practice.id, part_id(practice, "a")]), {"answer": MISCONCEIVED_A})
    assert AttemptAnswer.objects.get(attempt=practice).misconception == "no-k-and-v"
    attempt_submit(attempt=practice)
    timed = take(ana, quiz, a=MISCONCEIVED_A, b="q")
    assert dict(timed.answers.values_list("part__key", "misconception")) == {"a": "no-k-and-v", "b": ""}


# ----------------------------------------------------------------------------- quiz management


def quiz_form(**fields) -> dict:
    return {"title": "Week 2", "feedback": "after_submit", "questions": "kv-cache-7b", "draws": "",
            "time_limit_min": "", **fields}


def test_an_instructor_creates_a_quiz_for_a_cohort_they_teach(as_teacher, teacher, cohort):
    question_make()
    response = as_teacher.post(reverse("quizzes:create"), quiz_form(cohort=cohort.id))
    quiz = Quiz.objects.get()
    assert response.status_code == 302 and (quiz.cohort, quiz.created_by) == (cohort, teacher)
    entry = audit_of("quiz_created")
    assert (entry.cohort, entry.quiz) == (cohort, quiz)
    assert_audited(entry, actor=teacher)
    assert "created a quiz" in page_of(as_teacher, gradebook_url(cohort, quiz))[0]


def test_an_instructor_must_pick_one_of_their_cohorts(as_teacher, cohort):
    """No cohort (a platform-wide quiz) or another instructor's cohort: a form error, nothing created."""
    question_make()
    theirs = cohort_create(name="Theirs", instructor=instructor_make("other"))
    form = as_teacher.get(reverse("quizzes:create")).content.decode()
    assert "Spring" in form and "Theirs" not in form
    for cohort_id in ("", theirs.id):
        response = as_teacher.post(reverse("quizzes:create"), quiz_form(cohort=cohort_id))
        assert response.status_code == 200 and "cohort" in response.context["form"].errors
    assert not Quiz.objects.exists()


def test_a_superuser_creates_a_platform_wide_quiz(client):
    question_make()
    client.force_login(User.objects.create_superuser("root", password="x"))
    client.post(reverse("quizzes:create"), quiz_form(cohort=""))
    assert Quiz.objects.get().cohort is None


def test_an_instructor_edits_their_cohort_quiz_and_it_is_audited(as_teacher, teacher, cohort):
    quiz = quiz_make(cohort=cohort)
    response = as_teacher.post(reverse("quizzes:edit", args=[quiz.slug]),
                               quiz_form(title="Week 1, revised", cohort=cohort.id, time_limit_min="20"))
    assert response.status_code == 302
    quiz = fresh(quiz)
    assert (quiz.title, quiz.slug, quiz.time_limit_s) == ("Week 1, revised", "week-1", 1200)
    entry = audit_of("quiz_edited")
    assert (entry.cohort, entry.quiz) == (cohort, quiz)
    assert_audited(entry, actor=teacher)


def test_an_instructor_cannot_move_their_quiz_to_another_cohort_or_make_it_platform_wide(as_teacher, cohort):
    quiz = quiz_make(cohort=cohort)
    theirs = cohort_create(name="Theirs", instructor=instructor_make("other"))
    for cohort_id in (theirs.id, ""):
        response = as_teacher.post(reverse("quizzes:edit", args=[quiz.slug]), quiz_form(cohort=cohort_id))
        assert response.status_code == 200
    assert fresh(quiz).cohort == cohort and not AuditEntry.objects.filter(action="quiz_edited").exists()


def test_duplicating_a_quiz_makes_an_unarchived_copy_in_the_same_cohort(as_teacher, teacher, cohort, ana):
    quiz = quiz_make(cohort=cohort, time_limit_s=600, archived_at=timezone.now())
    response = as_teacher.post(reverse("quizzes:duplicate", args=[quiz.slug]))
    copy = Quiz.objects.exclude(pk=quiz.pk).get()
    assert response.status_code == 302 and response["Location"] == reverse("quizzes:edit", args=[copy.slug])
    assert (copy.cohort, copy.archived_at, copy.time_limit_s, copy.question_slugs, copy.created_by) == (
        cohort, None, 600, quiz.question_slugs, teacher)
    assert copy.slug != quiz.slug and copy.title == "Quiz week-1 (copy)" and not copy.attempts.exists()
    entry = audit_of("quiz_duplicated")
    assert (entry.cohort, entry.quiz, entry.detail["source"]) == (cohort, copy, quiz.slug)


def test_deleting_is_refused_once_attempts_exist(as_teacher, cohort, ana):
    quiz = quiz_make(cohort=cohort)
    take(ana, quiz, a=RIGHT_A)
    response = as_teacher.post(reverse("quizzes:delete", args=[quiz.slug]), follow=True)
    assert any("archive the quiz instead" in m for m in messages_of(response))
    assert Quiz.objects.filter(pk=quiz.pk).exists() and Attempt.objects.filter(quiz=quiz).count() == 1
    assert not AuditEntry.objects.filter(action="quiz_deleted").exists()


def test_deleting_a_quiz_nobody_attempted(as_teacher, teacher, cohort):
    quiz = quiz_make(cohort=cohort)
    response = as_teacher.post(reverse("quizzes:delete", args=[quiz.slug]))
    assert response.status_code == 302 and not Quiz.objects.filter(pk=quiz.pk).exists()
    entry = audit_of("quiz_deleted")
    assert (entry.cohort, entry.detail["slug"]) == (cohort, "week-1")
    assert_audited(entry, actor=teacher)


def test_an_archived_quiz_leaves_the_learners_list_cannot_be_started_and_keeps_its_attempts(client, teacher, cohort,
                                                                                          ana):
    quiz = quiz_make(cohort=cohort, allow_practice=True)
    attempt = take(ana, quiz, a=RIGHT_A)
    client.force_login(teacher)
    client.post(reverse("quizzes:archive", args=[quiz.slug]), {"archived": "1"})
    assert fresh(quiz).archived_at is not None
    entry = audit_of("quiz_archived")
    assert (entry.cohort, entry.quiz, entry.detail) == (cohort, quiz, {"archived": True})

    client.force_login(ana)
    assert reverse("quizzes:quiz", args=[quiz.slug]) not in client.get(reverse("quizzes:quizzes")).content.decode()
    for mode in ("timed", "practice"):
        response = client.post(reverse("quizzes:start", args=[quiz.slug]), {"mode": mode}, follow=True)
        assert any("archived" in m for m in messages_of(response))
    assert list(Attempt.objects.filter(quiz=quiz).values_list("id", flat=True)) == [attempt.id]

    client.force_login(teacher)
    assert attempt.id in gradebook_rows(client, cohort, quiz)
    assert matrix_row(client, cohort, "ana")[1] == "50%"
    assert "(archived)" in page_of(client, reverse("cohort", args=[cohort.id]))[0]
    # restored: listed again
    client.post(reverse("quizzes:archive", args=[quiz.slug]), {"archived": "0"})
    client.force_login(ana)
    assert reverse("quizzes:quiz", args=[quiz.slug]) in client.get(reverse("quizzes:quizzes")).content.decode()


def test_an_archived_platform_wide_quiz_stays_on_the_cohort_page(as_teacher, cohort, ana):
    quiz = quiz_make("open-quiz")
    take(ana, quiz, a=RIGHT_A, b=RIGHT_B)
    Quiz.objects.filter(pk=quiz.pk).update(archived_at=timezone.now())
    assert matrix_row(as_teacher, cohort, "ana")[1] == "100%"
    assert len(gradebook_rows(as_teacher, cohort, quiz)) == 1


@pytest.mark.parametrize("kind", ["builtin", "platform", "theirs"])
@pytest.mark.parametrize("name,method", [("edit", "get"), ("edit", "post"), ("duplicate", "post"),
                                         ("archive", "post"), ("delete", "post")])
def test_an_instructor_cannot_manage_a_builtin_platform_wide_or_another_cohorts_quiz(as_teacher, cohort, kind, name,
                                                                                   method):
    """edit / duplicate / archive / delete: 404, and the quiz is unchanged (no copy, no audit row)."""
    fields = {"builtin": {"builtin": True}, "platform": {},
              "theirs": {"cohort": cohort_create(name="Theirs", instructor=instructor_make("other"))}}[kind]
    quiz = quiz_make(f"{kind}-quiz", **fields)
    before = Quiz.objects.filter(pk=quiz.pk).values().get()
    audit = AuditEntry.objects.count()
    response = getattr(as_teacher, method)(reverse(f"quizzes:{name}", args=[quiz.slug]),
                                           quiz_form(title="Hijacked", cohort=cohort.id))
    assert response.status_code == 404
    assert Quiz.objects.count() == 1 and Quiz.objects.filter(pk=quiz.pk).values().get() == before
    assert AuditEntry.objects.count() == audit


def test_a_superuser_manages_a_platform_wide_quiz_but_not_a_builtin_one(client):
    admin = User.objects.create_superuser("root", password="x")
    platform, builtin = quiz_make("platform-quiz"), quiz_make("builtin-quiz", builtin=True)
    client.force_login(admin)
    assert client.post(reverse("quizzes:archive", args=[platform.slug]), {"archived": "1"}).status_code == 302
    assert fresh(platform).archived_at is not None
    assert client.post(reverse("quizzes:archive", args=[builtin.slug]), {"archived": "1"}).status_code == 404
    assert fresh(builtin).archived_at is None


def test_a_co_instructor_manages_the_cohorts_quizzes(client, teacher, cohort):
    quiz = quiz_make(cohort=cohort)
    colleague = instructor_make("colleague")
    client.force_login(colleague)
    assert client.get(reverse("quizzes:edit", args=[quiz.slug])).status_code == 404
    cohort.instructors.add(colleague)
    assert client.get(reverse("quizzes:edit", args=[quiz.slug])).status_code == 200


# ----------------------------------------------------------------------------- a superuser acts on every cohort


def test_a_superuser_grants_extra_time_in_any_cohort(client, cohort, gradebook):
    admin = User.objects.create_superuser("root", password="x")
    client.force_login(admin)
    client.post(reverse("quiz_extension", args=[cohort.id, gradebook["quiz"].slug]), {"learner": "bea", "minutes": "2"})
    assert fresh(gradebook["running"]).deadline - gradebook["running"].deadline == timedelta(seconds=120)
    assert audit_of("extension").actor == admin
