"""Regrading after an answer-key change (load_content records it; the dry run lists what would move; the
apply writes the rows, the totals and what the learner reads; a second run changes nothing), from a shell and
from the workspace, and an instructor's score by hand that a later regrade leaves alone."""

from __future__ import annotations

import json
import shutil
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from cohorts.models import AuditEntry, Enrolment
from cohorts.services import cohort_create
from quizzes.models import AnswerKeyChange, Attempt, AttemptAnswer, GradeChange, Part, Quiz, Regrade
from quizzes.services.attempts import answer_save, attempt_start, attempt_submit

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
QUESTION = "affine-quant-formula"
REF = f"{QUESTION}:example-q"


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.fixture
def world(tmp_path):
    """The content from a copy, a cohort of three whose attempts answered example-q 25 (the key), 26 and 89
    (the forgot-zero-point misconception), and a student of another cohort who answered 26."""
    tree = tmp_path / "fixtures"
    shutil.copytree(FIXTURES / "questions", tree / "questions")
    run("load_content", "--path", str(tree))
    teacher = User.objects.create_user("teach", password="pw")
    cohort = cohort_create(name="Regrade cohort", instructor=teacher)
    quiz = Quiz.objects.create(slug="affine-check", title="Affine check", question_slugs=[QUESTION], cohort=cohort,
                               time_limit_s=900)
    other_teacher = User.objects.create_user("other-teach", password="pw")
    other_cohort = cohort_create(name="Other cohort", instructor=other_teacher)
    other_quiz = Quiz.objects.create(slug="affine-other", title="Affine", question_slugs=[QUESTION],
                                     cohort=other_cohort, time_limit_s=900)
    part = Part.objects.get(question__slug=QUESTION, key="example-q")
    attempts = {}
    for name, answer, c, q in [("ann", "25", cohort, quiz), ("ben", "26", cohort, quiz), ("cat", "89", cohort, quiz),
                               ("dan", "26", other_cohort, other_quiz)]:
        user = User.objects.create_user(name, password="pw")
        Enrolment.objects.create(cohort=c, student=user)
        attempt = attempt_start(user=user, quiz=q)
        answer_save(attempt=attempt, part_id=part.id, answer=answer)
        attempts[name] = attempt_submit(attempt=attempt)
    return {"tree": tree, "cohort": cohort, "quiz": quiz, "part": part, "attempts": attempts, "teacher": teacher}


def _change_key(tree: Path, new: int = 26) -> str:
    path = tree / "questions" / "interview" / f"{QUESTION}.yaml"
    if not path.exists():
        path = next(tree.rglob(f"{QUESTION}.yaml"))
    path.write_text(path.read_text().replace("    answer: 25\n", f"    answer: {new}\n", 1))
    return run("load_content", "--path", str(tree))


def _row(attempt: Attempt, part: Part) -> AttemptAnswer:
    return AttemptAnswer.objects.get(attempt=attempt, part=part)


def test_a_key_change_regraded_from_the_shell_dry_run_then_apply_then_nothing(world):
    part, attempts = world["part"], world["attempts"]
    before = {n: Attempt.objects.get(pk=a.pk).score for n, a in attempts.items()}
    assert _row(attempts["ann"], part).correct and not _row(attempts["ben"], part).correct
    out = _change_key(world["tree"])
    assert f"answer key changed: {REF}" in out and f"regrade --part {REF}" in out
    change = AnswerKeyChange.objects.get(part=part)

    dry = json.loads(run("regrade", "--part", REF, "--json").strip().splitlines()[-1])
    assert dry["applied"] is False and dry["regrade"] is None
    assert dry["answers_checked"] == 4 and dry["answers_changed"] == 3  # ann loses, ben and dan gain, cat stays
    moved = {c["student"]: (c["old_score"], c["new_score"]) for c in dry["changes"]}
    assert moved == {"ann": (1.0, 0.0), "ben": (0.0, 1.0), "dan": (0.0, 1.0)}
    points = part.points
    totals = {t["attempt"]: (t["old"], t["new"]) for t in dry["attempt_totals"]}
    assert totals[attempts["ann"].id] == (before["ann"], pytest.approx(before["ann"] - points))
    assert not Regrade.objects.exists() and not GradeChange.objects.exists()  # the dry run wrote nothing
    assert _row(attempts["ann"], part).correct

    applied = json.loads(run("regrade", "--part", REF, "--apply", "--json").strip().splitlines()[-1])
    assert applied["applied"] is True and applied["answers_changed"] == 3
    regrade = Regrade.objects.get(pk=applied["regrade"])
    assert regrade.reason == "answer key corrected" and regrade.actor is None and regrade.cohort is None
    assert regrade.key_change == change
    rows = {c.answer.attempt.user.username: (c.old_score, c.new_score) for c in regrade.changes.select_related(
        "answer__attempt__user")}
    assert rows == moved
    for name, sign in [("ann", -1), ("ben", 1), ("dan", 1)]:
        row = _row(attempts[name], part)
        assert row.regraded_at is not None and row.regrade_reason == "answer key corrected"
        assert Attempt.objects.get(pk=attempts[name].pk).score == pytest.approx(before[name] + sign * points)
    cat = _row(attempts["cat"], part)
    assert cat.regraded_at is None and cat.misconception == "forgot-zero-point"
    change.refresh_from_db()
    assert change.regraded_at is not None

    # the learner's review says so
    client = Client()
    client.force_login(User.objects.get(username="ben"))
    review = client.get(f"/attempts/{attempts['ben'].id}/", follow=True).content.decode()
    assert "Regraded on" in review and "(answer key corrected)" in review

    # idempotent
    again = json.loads(run("regrade", "--part", REF, "--apply", "--json").strip().splitlines()[-1])
    assert again["answers_changed"] == 0 and again["regrade"] is None
    assert Regrade.objects.count() == 1 and GradeChange.objects.count() == 3


def test_the_command_refuses_an_unknown_part():
    with pytest.raises(CommandError, match="QUESTION_SLUG:PART_KEY"):
        run("regrade", "--part", "nope")
    with pytest.raises(CommandError, match="no part"):
        run("regrade", "--part", "nope:nothing")


def test_a_workspace_regrade_covers_the_cohort_only_and_keeps_a_score_by_hand(world):
    cohort, quiz, part, attempts = world["cohort"], world["quiz"], world["part"], world["attempts"]
    client = Client()
    client.force_login(world["teacher"])
    # ben's 26 is scored by hand first: half the points, with a comment
    ben = _row(attempts["ben"], part)
    page = client.get(f"/cohorts/{cohort.id}/answers/{ben.id}/")
    assert page.status_code == 200 and "26" in page.content.decode()
    response = client.post(f"/cohorts/{cohort.id}/answers/{ben.id}/",
                           {"score": "0.5", "comment": "Off by one step: half marks."}, follow=True)
    assert "now scores 0.5" in response.content.decode()
    ben.refresh_from_db()
    assert (ben.score, ben.overridden, ben.comment) == (0.5, True, "Off by one step: half marks.")
    assert AuditEntry.objects.filter(cohort=cohort, action="grade_overridden", learner__username="ben").exists()

    _change_key(world["tree"])
    report = client.get(f"/cohorts/{cohort.id}/quizzes/{quiz.slug}/parts/{part.id}/").content.decode()
    assert "This part's answer key changed" in report
    dry = client.get(f"/cohorts/{cohort.id}/quizzes/{quiz.slug}/parts/{part.id}/regrade/").content.decode()
    assert 'value="answer key corrected"' in dry  # the reason, prefilled after a key change
    assert "1 would change" in dry and "1 scored by hand is left alone" in dry  # ann; not dan (other cohort)
    response = client.post(f"/cohorts/{cohort.id}/quizzes/{quiz.slug}/parts/{part.id}/regrade/",
                           {"reason": "the key was 25, it is 26"}, follow=True)
    assert "Regraded: 1 answer changed" in response.content.decode()
    assert _row(attempts["ann"], part).score == 0.0
    assert _row(attempts["dan"], part).score == 0.0  # another cohort's student: untouched
    ben.refresh_from_db()
    assert (ben.score, ben.overridden) == (0.5, True)  # the score by hand stays
    regrade = Regrade.objects.get()
    assert regrade.cohort == cohort and regrade.actor == world["teacher"]
    assert regrade.key_change == AnswerKeyChange.objects.get(part=part)
    assert AnswerKeyChange.objects.get(part=part).regraded_at is None  # not every attempt was regraded
    assert AuditEntry.objects.filter(cohort=cohort, action="answers_regraded").exists()

    # the learner reads the instructor's comment
    learner = Client()
    learner.force_login(User.objects.get(username="ben"))
    review = learner.get(f"/attempts/{attempts['ben'].id}/", follow=True).content.decode()
    assert "Scored by your instructor: 0.5" in review and "Off by one step: half marks." in review

    # including the overridden answers replaces the score by hand
    client.post(f"/cohorts/{cohort.id}/quizzes/{quiz.slug}/parts/{part.id}/regrade/",
                {"reason": "everyone on the new key", "include_overridden": "on"})
    ben.refresh_from_db()
    assert (ben.score, ben.overridden, ben.comment) == (1.0, False, "")


def test_scores_by_hand_are_checked_and_scoped(world):
    cohort, part, attempts = world["cohort"], world["part"], world["attempts"]
    ann = _row(attempts["ann"], part)
    dan = _row(attempts["dan"], part)
    client = Client()
    client.force_login(world["teacher"])
    response = client.post(f"/cohorts/{cohort.id}/answers/{ann.id}/", {"score": "1.5", "comment": "x"}, follow=True)
    assert "Score:" in response.content.decode()
    assert not GradeChange.objects.exists()
    # another cohort's answer, through this cohort's URL: 404, nothing changed
    assert client.post(f"/cohorts/{cohort.id}/answers/{dan.id}/", {"score": "1", "comment": "x"}).status_code == 404
    assert client.get(f"/cohorts/{cohort.id}/answers/{dan.id}/").status_code == 404
    # a student, and the other cohort's instructor
    for username, status in [("ann", 403), ("other-teach", 404)]:
        c = Client()
        c.force_login(User.objects.get(username=username))
        assert c.post(f"/cohorts/{cohort.id}/answers/{ann.id}/", {"score": "0", "comment": "x"}).status_code == status
        url = f"/cohorts/{cohort.id}/quizzes/{world['quiz'].slug}/parts/{part.id}/regrade/"
        assert c.post(url, {"reason": "x"}).status_code == status
        assert c.get(url).status_code == status
    assert not GradeChange.objects.exists() and not Regrade.objects.exists()
