"""The quiz and attempt pages through the web client: an attempt is its owner's alone, cohort quizzes are seen
only in their cohort, the autosave's JSON contract, submitting, the deadline check on the next request, what
the review shows, and the new quiz page (an instructor's quiz belongs to a cohort they teach). Extensions and the
cohort pages are tested in tests/cohorts/."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from cohorts.models import Enrolment
from cohorts.services import cohort_create
from content.names import tag_label
from content.reader import CARD_GROUP
from quizzes.models import Attempt, AttemptAnswer, Part, Question, Quiz, Response
from quizzes.services.attempts import answer_save, attempt_start, attempt_submit
from tests.factories import instructor_make, question_make, user_make

pytestmark = pytest.mark.django_db

RIGHT_A, RIGHT_B = "524.288 KB", "s*(q - z)"
AUTOSAVE_KEYS = {"saved", "closed", "saved_at", "read_as", "as_text", "error"}


def quiz_make(slug: str = "kv", *, questions: list[Question] | None = None, **fields) -> Quiz:
    questions = questions if questions is not None else [question_make()]
    return Quiz.objects.create(slug=slug, title=f"Quiz {slug}", question_slugs=[q.slug for q in questions],
                               **fields)


def part_id(attempt: Attempt, key: str) -> int:
    return Part.objects.get(id__in=[p for item in attempt.layout for p in item["parts"]], key=key).id


def fresh(attempt: Attempt) -> Attempt:
    return Attempt.objects.get(pk=attempt.pk)


def overdue_attempt(user, quiz: Quiz) -> Attempt:
    """An attempt started an hour ago on a 60 s quiz: its deadline has passed and nobody closed it."""
    return attempt_start(user=user, quiz=quiz, now=timezone.now() - timedelta(hours=1))


@pytest.fixture
def owned(client):
    """Student A's open attempt with one saved answer, and the client logged in as student B."""
    owner = user_make("ana")
    attempt = attempt_start(user=owner, quiz=quiz_make(allow_practice=True))
    answer_save(attempt=attempt, part_id=part_id(attempt, "a"), answer="1")
    client.force_login(user_make("bea"))
    return attempt


def assert_untouched(attempt: Attempt) -> None:
    now = fresh(attempt)
    assert (now.status, now.closed_at, now.score) == ("open", None, None)
    assert list(AttemptAnswer.objects.filter(attempt=attempt).values_list("answer", "graded", "tries")) == [
        ("1", False, 0)]


# ----------------------------------------------------------------------------- an attempt is its owner's


def test_another_student_cannot_open_an_attempt_page(client, owned):
    """GET quizzes:attempt on another learner's attempt id: 404, and the attempt is unchanged."""
    assert client.get(reverse("quizzes:attempt", args=[owned.id])).status_code == 404
    assert_untouched(owned)


def test_another_student_cannot_autosave_into_an_attempt(client, owned):
    """POST quizzes:autosave on another learner's attempt: 404, and no answer is written or changed."""
    pid = part_id(owned, "b")
    response = client.post(reverse("quizzes:autosave", args=[owned.id, pid]), {"answer": RIGHT_B})
    assert response.status_code == 404
    assert_untouched(owned)


def test_another_student_cannot_check_an_answer_of_a_practice_attempt(client):
    """POST quizzes:check on another learner's practice attempt: 404, nothing saved, graded or counted."""
    attempt = attempt_start(user=user_make("ana"), quiz=quiz_make(allow_practice=True), practice=True)
    client.force_login(user_make("bea"))
    response = client.post(reverse("quizzes:check", args=[attempt.id, part_id(attempt, "a")]), {"answer": RIGHT_A})
    assert response.status_code == 404
    assert not AttemptAnswer.objects.filter(attempt=attempt).exists()
    assert fresh(attempt).status == "open"


def test_another_student_cannot_submit_an_attempt(client, owned):
    """POST quizzes:submit on another learner's attempt: 404, still open, its answers unchanged."""
    pid = part_id(owned, "a")
    response = client.post(reverse("quizzes:submit", args=[owned.id]), {f"part-{pid}": RIGHT_A})
    assert response.status_code == 404
    assert_untouched(owned)


def test_another_student_cannot_read_a_review(client):
    """GET quizzes:review on another learner's graded attempt: 404, with none of the attempt on the page."""
    attempt = attempt_start(user=user_make("ana"), quiz=quiz_make())
    answer_save(attempt=attempt, part_id=part_id(attempt, "a"), answer=RIGHT_A)
    attempt_submit(attempt=attempt)
    client.force_login(user_make("bea"))
    response = client.get(reverse("quizzes:review", args=[attempt.id]))
    assert response.status_code == 404
    assert RIGHT_A not in response.content.decode()
    assert fresh(attempt).score == 1.0


def test_another_student_gets_404_on_an_overdue_attempt_and_does_not_close_it(client):
    """B's GET of A's overdue attempt is a 404 that does not run A's deadline check."""
    attempt = overdue_attempt(user_make("ana"), quiz_make(time_limit_s=60))
    client.force_login(user_make("bea"))
    assert client.get(reverse("quizzes:attempt", args=[attempt.id])).status_code == 404
    assert client.get(reverse("quizzes:review", args=[attempt.id])).status_code == 404
    assert fresh(attempt).status == "open"


def test_an_instructor_who_is_not_the_owner_gets_404(client, owned):
    """Attempts are the learner's own: an instructor gets 404 on every attempt URL of a student's attempt."""
    client.force_login(instructor_make())
    pid = part_id(owned, "a")
    assert client.get(reverse("quizzes:attempt", args=[owned.id])).status_code == 404
    assert client.post(reverse("quizzes:autosave", args=[owned.id, pid]), {"answer": "2"}).status_code == 404
    assert client.post(reverse("quizzes:submit", args=[owned.id]), {f"part-{pid}": "2"}).status_code == 404
    assert client.get(reverse("quizzes:review", args=[owned.id])).status_code == 404
    assert_untouched(owned)


@pytest.mark.parametrize("name", ["autosave", "check"])
def test_a_part_that_is_not_in_the_attempt_is_404(client, name):
    """The owner posting to a part id of another question: 404, and nothing is saved."""
    student = user_make("ana")
    attempt = attempt_start(user=student, quiz=quiz_make(allow_practice=True), practice=True)
    stranger = question_make("not-in-the-quiz").parts.get(key="a")
    client.force_login(student)
    response = client.post(reverse(f"quizzes:{name}", args=[attempt.id, stranger.id]), {"answer": RIGHT_A})
    assert response.status_code == 404
    assert not AttemptAnswer.objects.exists()


@pytest.mark.parametrize("name,method,with_part", [("attempt", "get", False), ("autosave", "post", True),
                                                   ("check", "post", True), ("submit", "post", False),
                                                   ("review", "get", False)])
def test_anonymous_requests_are_sent_to_the_login_page(client, name, method, with_part):
    """Every attempt URL redirects an anonymous visitor to the login page, and writes nothing."""
    attempt = attempt_start(user=user_make("ana"), quiz=quiz_make(allow_practice=True), practice=True)
    args = [attempt.id, part_id(attempt, "a")] if with_part else [attempt.id]
    response = getattr(client, method)(reverse(f"quizzes:{name}", args=args), {"answer": RIGHT_A})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert not AttemptAnswer.objects.exists() and fresh(attempt).status == "open"


# ----------------------------------------------------------------------------- cohort quizzes


@pytest.fixture
def cohort_quiz():
    cohort = cohort_create(name="Spring", instructor=instructor_make())
    return quiz_make("cohort-only", cohort=cohort)


def test_a_cohort_quiz_is_hidden_from_a_student_outside_the_cohort(client, cohort_quiz):
    """Outside the cohort: not listed, and the quiz page and start are 404 (no attempt is made)."""
    quiz_make("for-everyone", questions=[question_make("other")])
    client.force_login(user_make("outsider"))
    listing = client.get(reverse("quizzes:quizzes")).content.decode()
    assert "Quiz for-everyone" in listing and "Quiz cohort-only" not in listing
    assert client.get(reverse("quizzes:quiz", args=[cohort_quiz.slug])).status_code == 404
    assert client.post(reverse("quizzes:start", args=[cohort_quiz.slug])).status_code == 404
    assert not Attempt.objects.exists()


def test_an_enrolled_student_sees_and_starts_a_cohort_quiz(client, cohort_quiz):
    """In the cohort: listed, the quiz page opens, and start makes an attempt and redirects to it."""
    student = user_make("insider")
    Enrolment.objects.create(cohort=cohort_quiz.cohort, student=student)
    client.force_login(student)
    assert "Quiz cohort-only" in client.get(reverse("quizzes:quizzes")).content.decode()
    assert client.get(reverse("quizzes:quiz", args=[cohort_quiz.slug])).status_code == 200
    response = client.post(reverse("quizzes:start", args=[cohort_quiz.slug]))
    attempt = Attempt.objects.get(user=student, quiz=cohort_quiz)
    assert response.status_code == 302 and response["Location"] == reverse("quizzes:attempt", args=[attempt.id])


# ----------------------------------------------------------------------------- autosave


@pytest.fixture
def mine(client):
    """An open timed attempt of the logged-in student."""
    student = user_make("ana")
    client.force_login(student)
    return attempt_start(user=student, quiz=quiz_make(time_limit_s=600))


def test_autosave_answers_json_with_exactly_its_keys(client, mine):
    """POST answer → 200 JSON {saved, closed, saved_at, read_as, as_text, error}, and the answer is stored."""
    pid = part_id(mine, "a")
    response = client.post(reverse("quizzes:autosave", args=[mine.id, pid]), {"answer": RIGHT_A})
    assert response.status_code == 200
    data = response.json()
    assert set(data) == AUTOSAVE_KEYS
    assert (data["saved"], data["closed"], data["error"]) == (True, False, None)
    assert data["read_as"] and data["saved_at"]
    assert AttemptAnswer.objects.get(attempt=mine, part_id=pid).answer == RIGHT_A


def test_autosave_keeps_a_symbolic_draft_that_does_not_parse(client, mine):
    """A symbolic answer that does not parse is saved (the draft is kept) with the parse error in `error`."""
    pid = part_id(mine, "b")
    data = client.post(reverse("quizzes:autosave", args=[mine.id, pid]), {"answer": "s*(q - "}).json()
    assert set(data) == AUTOSAVE_KEYS
    assert data["saved"] is True and data["error"]
    assert AttemptAnswer.objects.get(attempt=mine, part_id=pid).answer == "s*(q - "


def test_autosave_after_the_deadline_is_409_and_saves_nothing(client):
    """Past the deadline: 409 JSON saved False, closed True, "Time is up", a review_url; nothing stored."""
    student = user_make("ana")
    attempt = overdue_attempt(student, quiz_make(time_limit_s=60))
    client.force_login(student)
    response = client.post(reverse("quizzes:autosave", args=[attempt.id, part_id(attempt, "a")]),
                           {"answer": RIGHT_A})
    assert response.status_code == 409
    data = response.json()
    assert (data["saved"], data["closed"]) == (False, True)
    assert "Time is up" in data["error"]
    assert data["review_url"] == reverse("quizzes:review", args=[attempt.id])
    assert not AttemptAnswer.objects.filter(attempt=attempt).exclude(answer="").exists()
    assert fresh(attempt).closed_by == "deadline"


def test_autosave_joins_the_checkboxes_of_a_multiple_choice_part(client):
    """Several `answer` values for a multiple_choice part are saved as "a,c"."""
    question = Question.objects.create(slug="pick", title="Which are 4-bit?", body="Pick all.")
    part = Part.objects.create(question=question, key="a", kind="multiple_choice", spec={
        "kind": "multiple_choice", "options": [{"id": "a", "text": "NF4", "correct": True},
                                               {"id": "b", "text": "FP8"}, {"id": "c", "text": "INT4",
                                                                            "correct": True}]})
    student = user_make("ana")
    attempt = attempt_start(user=student, quiz=quiz_make("pick", questions=[question]))
    client.force_login(student)
    data = client.post(reverse("quizzes:autosave", args=[attempt.id, part.id]), {"answer": ["a", "c"]}).json()
    assert data["saved"] is True and data["error"] is None
    assert AttemptAnswer.objects.get(attempt=attempt, part=part).answer == "a,c"


def test_the_question_bank_check_grades_every_ticked_box_of_a_multiple_choice_part(client):
    """The bank's check reads the checkboxes as the quiz does: both ticked boxes, not only the last one."""
    question = Question.objects.create(slug="pick-bank", title="Which are 4-bit?", body="Pick all.")
    Part.objects.create(question=question, key="a", kind="multiple_choice", spec={
        "kind": "multiple_choice", "options": [{"id": "a", "text": "NF4", "correct": True},
                                               {"id": "b", "text": "FP8"}, {"id": "c", "text": "INT4",
                                                                            "correct": True}]})
    client.force_login(user_make("ana"))
    response = client.post(reverse("quizzes:answer", args=["pick-bank", "a"]), {"answer": ["a", "c"]})
    assert response.status_code == 302  # back to the question page, which shows the verdict
    assert Response.objects.get().answer == "a,c" and Response.objects.get().score == 1.0


# ----------------------------------------------------------------------------- submitting and the deadline


def test_submit_saves_the_fields_it_carries_and_grades(client, mine):
    """POST part-<id> values to submit → redirect to the review, those answers saved and graded."""
    a, b = part_id(mine, "a"), part_id(mine, "b")
    response = client.post(reverse("quizzes:submit", args=[mine.id]), {f"part-{a}": RIGHT_A, f"part-{b}": RIGHT_B})
    assert response.status_code == 302 and response["Location"] == reverse("quizzes:review", args=[mine.id])
    attempt = fresh(mine)
    assert (attempt.status, attempt.closed_by, attempt.score, attempt.max_score) == ("graded", "learner", 2.0, 2.0)
    answers = AttemptAnswer.objects.filter(attempt=mine)
    assert sorted(answers.values_list("answer", "graded", "correct")) == [(RIGHT_A, True, True),
                                                                          (RIGHT_B, True, True)]


def test_a_double_submit_leaves_one_graded_attempt_with_the_same_score(client, mine):
    """A second submit POST (other values) redirects to the review and changes neither answers nor score."""
    a, b = part_id(mine, "a"), part_id(mine, "b")
    url = reverse("quizzes:submit", args=[mine.id])
    client.post(url, {f"part-{a}": RIGHT_A, f"part-{b}": RIGHT_B})
    first = fresh(mine)
    response = client.post(url, {f"part-{a}": "1", f"part-{b}": "q"})
    assert response.status_code == 302 and response["Location"] == reverse("quizzes:review", args=[mine.id])
    again = fresh(mine)
    assert Attempt.objects.filter(user=mine.user).count() == 1
    assert (again.status, again.score, again.closed_at, again.graded_at) == (
        "graded", first.score, first.closed_at, first.graded_at)
    assert sorted(AttemptAnswer.objects.filter(attempt=mine).values_list("answer", flat=True)) == [RIGHT_A, RIGHT_B]


def test_a_double_submit_of_an_untimed_attempt_does_not_say_time_was_up(client):
    """Re-submitting an untimed, already submitted attempt does not claim that time was up."""
    student = user_make("ana")
    attempt = attempt_start(user=student, quiz=quiz_make())
    client.force_login(student)
    url = reverse("quizzes:submit", args=[attempt.id])
    fields = {f"part-{part_id(attempt, 'a')}": RIGHT_A}
    client.post(url, fields)
    page = client.post(url, fields, follow=True).content.decode()
    assert "Time was up" not in page


def test_opening_an_overdue_attempt_submits_it_at_the_deadline(client):
    """GET of an attempt past its deadline → redirect to the review, graded, closed_by "deadline"."""
    student = user_make("ana")
    attempt = overdue_attempt(student, quiz_make(time_limit_s=60))
    answer_save(attempt=attempt, part_id=part_id(attempt, "a"), answer=RIGHT_A, now=attempt.started_at)
    client.force_login(student)
    response = client.get(reverse("quizzes:attempt", args=[attempt.id]))
    assert response.status_code == 302 and response["Location"] == reverse("quizzes:review", args=[attempt.id])
    attempt = fresh(attempt)
    assert (attempt.status, attempt.closed_by, attempt.closed_at) == ("graded", "deadline", attempt.deadline)
    assert attempt.score == 1.0


# ----------------------------------------------------------------------------- the review


def submitted_review(client, **quiz_fields) -> str:
    """The review page of a submitted attempt with part a right and part b wrong."""
    student = user_make("ana")
    attempt = attempt_start(user=student, quiz=quiz_make(**quiz_fields))
    client.force_login(student)
    client.post(reverse("quizzes:submit", args=[attempt.id]),
                {f"part-{part_id(attempt, 'a')}": RIGHT_A, f"part-{part_id(attempt, 'b')}": "q"})
    response = client.get(reverse("quizzes:review", args=[attempt.id]))
    assert response.status_code == 200
    return response.content.decode()


def test_review_hides_the_score_and_keys_until_the_window_closes(client):
    """Feedback "after_close", closes_at ahead: the review shows no score, no verdict and no correct answer."""
    page = submitted_review(client, feedback="after_close", closes_at=timezone.now() + timedelta(days=1))
    assert "shown once the quiz closes" in page
    assert 'id="score"' not in page and "1 / 2" not in page
    assert "Correct answer" not in page and "Not correct" not in page
    assert r"s \cdot \left(q - z\right)" not in page


def test_review_shows_the_score_and_keys_after_submission(client):
    """Feedback "after_submit": the review shows the score and each part's correct answer."""
    page = submitted_review(client, feedback="after_submit")
    assert 'id="score">1 / 2<' in page
    assert "Correct answer" in page and r"s \cdot \left(q - z\right)" in page


# ----------------------------------------------------------------------------- instructors: a new quiz


def quiz_form(**fields) -> dict:
    return {"title": "Week 1", "feedback": "after_submit", "questions": "", "draws": "", "time_limit_min": "",
            **fields}


@pytest.fixture
def teaching(client):
    """An instructor who teaches a cohort, logged in: their quizzes belong to it."""
    teacher = instructor_make()
    client.force_login(teacher)
    return cohort_create(name="Spring", instructor=teacher)


def test_students_cannot_open_the_new_quiz_page(client):
    """quizzes:create is 403 for a student, on GET and on POST (and nothing is created)."""
    question_make()
    client.force_login(user_make("ana"))
    assert client.get(reverse("quizzes:create")).status_code == 403
    assert client.post(reverse("quizzes:create"), quiz_form(questions="kv-cache-7b")).status_code == 403
    assert not Quiz.objects.exists()


def test_an_instructor_creates_a_quiz_from_a_list_of_slugs(client, teaching):
    """A valid form (slugs one per line, 7.5 min, the cohort) creates the quiz with question_slugs and time_limit_s."""
    question_make(), question_make("second")
    response = client.post(reverse("quizzes:create"),
                           quiz_form(questions="kv-cache-7b\n  second \n\n", time_limit_min="7.5", cohort=teaching.id))
    quiz = Quiz.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("quizzes:quiz", args=[quiz.slug])
    assert (quiz.title, quiz.question_slugs, quiz.time_limit_s, quiz.blueprint, quiz.cohort) == (
        "Week 1", ["kv-cache-7b", "second"], 450, [], teaching)


def test_an_instructor_without_a_cohort_cannot_create_a_platform_wide_quiz(client):
    """No cohort to pick: the cohort field is required for an instructor, so nothing is created."""
    question_make()
    client.force_login(instructor_make())
    response = client.post(reverse("quizzes:create"), quiz_form(questions="kv-cache-7b", cohort=""))
    assert response.status_code == 200
    assert "cohort" in response.context["form"].errors
    assert not Quiz.objects.exists()


def test_an_unknown_slug_is_a_form_error_naming_it(client, teaching):
    """An unknown slug: the form comes back naming it, and no quiz is created."""
    question_make()
    response = client.post(reverse("quizzes:create"),
                           quiz_form(questions="kv-cache-7b\nno-such-question", cohort=teaching.id))
    assert response.status_code == 200
    assert "No question with the slug no-such-question" in response.content.decode()
    assert not Quiz.objects.exists()


def test_a_bad_blueprint_line_is_a_form_error_naming_the_line(client, teaching):
    """A blueprint line with an unknown key: the form error names line 2 and the word, nothing is created."""
    question_make()
    response = client.post(reverse("quizzes:create"), quiz_form(draws="1 tier=L1\n2 colour=red", cohort=teaching.id))
    page = response.content.decode()
    assert response.status_code == 200
    assert "Line 2" in page and "colour=red" in page
    assert not Quiz.objects.exists()


def test_a_valid_blueprint_creates_a_quiz_of_draws(client, teaching):
    """A blueprint line that enough questions match is stored as a draw."""
    question_make()
    client.post(reverse("quizzes:create"), quiz_form(draws="1 tier=L1 tags=kv-cache,gptq", cohort=teaching.id))
    quiz = Quiz.objects.get()
    assert (quiz.question_slugs, quiz.blueprint) == ([], [{"count": 1, "tier": "L1", "tags": ["kv-cache", "gptq"]}])


# ----------------------------------------------------------------------------- history and drills


def test_history_lists_only_the_users_own_attempts_and_weak_topics(client):
    """The history shows the learner's graded attempts and weakest tags, none of another learner's."""
    ana, bea = user_make("ana"), user_make("bea")
    theirs = question_make("bea-question")
    Question.objects.filter(pk=theirs.pk).update(tags=["only-bea"])
    for user, quiz in ((ana, quiz_make("ana-quiz")), (bea, quiz_make("bea-quiz", questions=[theirs]))):
        attempt = attempt_start(user=user, quiz=quiz)
        answer_save(attempt=attempt, part_id=part_id(attempt, "a"), answer=RIGHT_A)
        attempt_submit(attempt=attempt)
    client.force_login(ana)
    page = client.get(reverse("quizzes:history")).content.decode()
    assert "Quiz ana-quiz" in page and "Quiz bea-quiz" not in page
    assert f"<td>{tag_label('kv-cache')}</td><td>50%</td><td>2</td>" in page and "only-bea" not in page


def test_a_drill_quiz_for_an_unknown_tag_is_404(client):
    """quizzes:drill_tag with a tag no graded card has: 404, and no quiz is made."""
    client.force_login(user_make("ana"))
    assert client.get(reverse("quizzes:drill_tag", args=["no-such-tag"])).status_code == 404
    assert not Quiz.objects.exists()


def test_an_instructor_quiz_titled_like_a_drill_quiz_is_listed(client, teaching):
    """A quiz an instructor creates is listed on the quiz page whatever its title."""
    question_make()
    client.post(reverse("quizzes:create"),
                quiz_form(title="Drills tag kv-cache", questions="kv-cache-7b", cohort=teaching.id),
                follow=True)  # the "created" message is shown on the quiz page, not on the list below
    quiz = Quiz.objects.get(title="Drills tag kv-cache")
    assert reverse("quizzes:quiz", args=[quiz.slug]) in client.get(reverse("quizzes:quizzes")).content.decode()


def test_the_drill_tag_url_of_a_known_tag_redirects_to_its_drill_quiz(client):
    """quizzes:drill_tag for a tag of a graded drill card redirects to the tag's drill quiz page."""
    card = Question.objects.create(slug="card_x_y", group=CARD_GROUP, title="Card", body="?", tags=["kv-cache"])
    Part.objects.create(question=card, key="answer", kind="numeric", spec={"kind": "numeric", "answer": "2"})
    client.force_login(user_make("ana"))
    response = client.get(reverse("quizzes:drill_tag", args=["kv-cache"]))
    assert response.status_code == 302
    assert response["Location"] == reverse("quizzes:quiz", args=["drills-tag-kv-cache"])
    assert Quiz.objects.get(slug="drills-tag-kv-cache").builtin


def test_the_cohort_page_shows_each_students_score_on_the_quizzes_they_took(client):
    """The instructor's cohort page (which replaced the dashboard) has a column for the platform-wide quiz the
    student took, with their score."""
    teacher, student = instructor_make(), user_make("ana")
    cohort = cohort_create(name="Evening", instructor=teacher)
    Enrolment.objects.create(cohort=cohort, student=student)
    quiz = quiz_make()
    attempt = attempt_start(user=student, quiz=quiz)
    answer_save(attempt=attempt, part_id=part_id(attempt, "a"), answer=RIGHT_A)
    attempt_submit(attempt=attempt)
    client.force_login(teacher)
    page = client.get(reverse("cohort", args=[cohort.id])).content.decode()
    assert reverse("quiz_gradebook", args=[cohort.id, quiz.slug]) in page
    row = page.split('<tr data-student="ana"')[1].split("</tr>")[0]
    assert "<td>50%</td>" in row
