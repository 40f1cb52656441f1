"""An instructor's score override on a lab submission: the service (range, reason, graded only, clearing,
the grader's fields untouched), its audit row, the instructor's submission page (scoped to the cohort, the
code escaped), what the learner and the API see."""

from __future__ import annotations

import math
import re

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from cohorts.models import AuditEntry, Enrolment
from cohorts.services import cohort_create, cohort_submission_override
from cohorts.tokens import token_create
from content.labs import labs_root
from content.load import labs_sync
from labs.grading import GradeReport
from labs.models import Lab, Submission
from labs.services import MAX_SCORE, SubmissionRejected, submission_score_override
from tests.factories import instructor_make, user_make

pytestmark = pytest.mark.django_db

HOSTILE_CODE = "def quantize(x):\n    return '<script>alert(1)</script>'\n"
RESULT = GradeReport("wrong_answer", score=0.0, cases=[
    {"name": "ties", "passed": False, "message": "- tie: 3 wrong\nexpected 0, got 1", "metrics": {"wrong": 3}},
    {"name": "random-odd", "passed": True, "message": "exact", "metrics": {}}],
    diagnostics="1 of 2 cases failed.", wall_s=1.5,
    timings={"queue_wait_s": 0.25, "imports_s": 1.875, "bogus_s": "<b>x</b>"}).as_json()


@pytest.fixture
def world():
    labs_sync(root=labs_root())
    lab = Lab.objects.get(slug="int8-asym")
    teacher, other_teacher = instructor_make("ovr-teacher"), instructor_make("ovr-other-teacher")
    cohort = cohort_create(name="Override cohort", instructor=teacher)
    elsewhere = cohort_create(name="Elsewhere cohort", instructor=other_teacher)
    student, stranger = user_make("ovr-student"), user_make("ovr-stranger")
    Enrolment.objects.create(cohort=cohort, student=student)
    Enrolment.objects.create(cohort=elsewhere, student=stranger)
    submission = Submission.objects.create(user=student, lab=lab, code=HOSTILE_CODE, status="done",
                                           verdict="wrong_answer", score=0.0, result=RESULT)
    accepted = Submission.objects.create(user=student, lab=lab, code="x", status="done", verdict="accepted",
                                         score=80.0, result={**RESULT, "verdict": "accepted", "score": 80.0})
    theirs = Submission.objects.create(user=stranger, lab=lab, code="stranger-code", status="done",
                                       verdict="accepted", score=80.0, result={})
    return {"lab": lab, "teacher": teacher, "other_teacher": other_teacher, "cohort": cohort, "elsewhere": elsewhere,
            "student": student, "stranger": stranger, "submission": submission, "accepted": accepted,
            "theirs": theirs}


def _client(user: User | None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def _url(world, submission=None, cohort=None) -> str:
    return reverse("cohort_submission", args=[(cohort or world["cohort"]).id, (submission or world["submission"]).id])


def _said(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


# ----------------------------------------------------------------------------- the service


def test_every_lab_scores_out_of_max_score():
    """The override's range is the grader's scale: every lab's points (labs/grading: lab_score)."""
    labs_sync(root=labs_root())
    assert Lab.objects.exists()
    assert {lab.config["points"] for lab in Lab.objects.all()} == {MAX_SCORE}


def test_an_override_sets_the_score_that_counts_and_leaves_the_graders_alone(world):
    teacher, submission = world["teacher"], world["accepted"]
    row = submission_score_override(submission=submission, score=95.5, reason=" late-day waiver ", actor=teacher)
    row.refresh_from_db()
    assert (row.score_override, row.override_reason, row.overridden_by, row.effective_score) == (
        95.5, "late-day waiver", teacher, 95.5)
    assert row.overridden_at is not None
    assert (row.score, row.verdict, row.result["score"], row.result["verdict"]) == (80.0, "accepted", 80.0, "accepted")


@pytest.mark.parametrize("score", [-0.01, MAX_SCORE + 0.01, math.nan, math.inf, -math.inf])
def test_a_score_outside_0_to_100_is_refused(world, score):
    with pytest.raises(SubmissionRejected, match="from 0 to 100"):
        submission_score_override(submission=world["accepted"], score=score, reason="r", actor=world["teacher"])
    world["accepted"].refresh_from_db()
    assert world["accepted"].score_override is None


@pytest.mark.parametrize("score", [0.0, MAX_SCORE, 0])
def test_the_bounds_are_allowed(world, score):
    row = submission_score_override(submission=world["accepted"], score=score, reason="r", actor=world["teacher"])
    assert row.effective_score == float(score)


@pytest.mark.parametrize("reason, message", [("", "reason is required"), ("   ", "reason is required"),
                                             ("x" * 301, "longer than 300")])
def test_a_reason_is_required_and_at_most_300_characters(world, reason, message):
    with pytest.raises(SubmissionRejected, match=message):
        submission_score_override(submission=world["accepted"], score=50, reason=reason, actor=world["teacher"])
    row = submission_score_override(submission=world["accepted"], score=50, reason="x" * 300, actor=world["teacher"])
    assert row.override_reason == "x" * 300


@pytest.mark.parametrize("status", ["queued", "preparing", "running", "scoring"])
def test_only_a_graded_submission_can_be_overridden(world, status):
    Submission.objects.filter(pk=world["accepted"].pk).update(status=status)
    with pytest.raises(SubmissionRejected, match="not graded yet"):
        submission_score_override(submission=world["accepted"], score=50, reason="r", actor=world["teacher"])
    world["accepted"].refresh_from_db()
    assert world["accepted"].score_override is None


def test_none_clears_the_override(world):
    submission_score_override(submission=world["accepted"], score=10, reason="r", actor=world["teacher"])
    row = submission_score_override(submission=world["accepted"], score=None, reason="my mistake",
                                    actor=world["teacher"])
    row.refresh_from_db()
    assert (row.score_override, row.override_reason, row.overridden_by, row.overridden_at) == (None, "", None, None)
    assert (row.effective_score, row.score, row.verdict) == (80.0, 80.0, "accepted")


def test_the_cohort_service_writes_an_audit_row_with_the_old_and_new_score_that_counts(world):
    teacher, cohort, submission = world["teacher"], world["cohort"], world["accepted"]
    cohort_submission_override(cohort=cohort, submission=submission, score=60, reason="copied", actor=teacher)
    cohort_submission_override(cohort=cohort, submission=submission, score=None, reason="not copied", actor=teacher)
    rows = list(AuditEntry.objects.filter(action=AuditEntry.Action.SUBMISSION_OVERRIDDEN).order_by("id"))
    assert [(r.cohort, r.actor, r.learner, r.reason) for r in rows] == [
        (cohort, teacher, world["student"], "copied"), (cohort, teacher, world["student"], "not copied")]
    assert [r.detail for r in rows] == [
        {"lab": "int8-asym", "submission": submission.id, "old": 80.0, "new": 60.0},
        {"lab": "int8-asym", "submission": submission.id, "old": 60.0, "new": 80.0}]
    assert len(AuditEntry.Action.SUBMISSION_OVERRIDDEN.value) <= 20


def test_the_cohort_service_refuses_a_submission_of_someone_not_in_the_cohort(world):
    with pytest.raises(SubmissionRejected, match="not by a student of this cohort"):
        cohort_submission_override(cohort=world["cohort"], submission=world["theirs"], score=1, reason="r",
                                   actor=world["teacher"])
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.SUBMISSION_OVERRIDDEN).exists()


# ----------------------------------------------------------------------------- the instructor's page


def test_the_instructor_reads_the_submission_with_its_code_escaped(world):
    response = _client(world["teacher"]).get(_url(world))
    assert response.status_code == 200
    html = response.content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "<pre id=\"code\"><code>def quantize(x):\n    return &#x27;&lt;script&gt;alert(1)&lt;/script&gt;&#x27;" in html
    assert re.search(r'id="grader-verdict" data-verdict="wrong_answer">Wrong Answer<', html)
    assert re.search(r'id="grader-score">0<', html)
    assert "ovr-student" in html and "1 of 2 cases failed." in html
    assert "- tie: 3 wrong\nexpected 0, got 1" in html and "wrong: 3" in html and "random-odd" in html
    assert 'id="override"' in html and 'name="reason"' in html and 'name="clear"' in html
    # no inline script: every script tag loads a file
    assert all("src=" in tag for tag in re.findall(r"<script\b[^>]*>", html))
    # where the grading time went, in the stages' order and words; an unknown key is not shown
    timings = html[html.index('id="timings"'):]
    assert re.search(r"waiting for a worker</th><td>0.25<.*importing torch.*</th><td>1.88<", timings, re.S)
    assert "bogus" not in html


def test_posting_sets_the_override_and_the_page_shows_it_with_its_history(world):
    client = _client(world["teacher"])
    response = client.post(_url(world), {"score": "42.5", "reason": "partial credit for the tie handling"})
    assert response.status_code == 302 and response["Location"] == _url(world)
    row = Submission.objects.get(pk=world["submission"].pk)
    assert (row.score_override, row.score, row.verdict) == (42.5, 0.0, "wrong_answer")
    entry = AuditEntry.objects.get(action=AuditEntry.Action.SUBMISSION_OVERRIDDEN)
    assert entry.detail == {"lab": "int8-asym", "submission": row.id, "old": 0.0, "new": 42.5}
    page = client.get(response["Location"])
    assert "now 42.5" in " ".join(_said(page))
    html = page.content.decode()
    assert re.search(r'id="effective-score"><strong>42.50</strong>, set\s+by ovr-teacher', html)
    assert "partial credit for the tie handling" in html and "overrode a lab score" in html
    assert list(page.context["audit"]) == [entry]


def test_clearing_gives_the_graders_score_back(world):
    client = _client(world["teacher"])
    client.post(_url(world), {"score": "42.5", "reason": "r"})
    client.post(_url(world), {"clear": "on", "score": "99", "reason": "regraded by hand: no credit"})
    row = Submission.objects.get(pk=world["submission"].pk)
    assert (row.score_override, row.effective_score) == (None, 0.0)
    assert [e.detail["new"] for e in AuditEntry.objects.filter(
        action=AuditEntry.Action.SUBMISSION_OVERRIDDEN).order_by("id")] == [42.5, 0.0]


@pytest.mark.parametrize("data, said", [
    ({"score": "150", "reason": "r"}, "less than or equal to 100"),
    ({"score": "-1", "reason": "r"}, "greater than or equal to 0"),
    ({"score": "50", "reason": ""}, "Reason"),
    ({"reason": "r"}, "Give a score"),
    ({"score": "nan", "reason": "r"}, "Score"),
])
def test_a_refused_post_says_why_and_changes_nothing(world, data, said):
    client = _client(world["teacher"])
    response = client.post(_url(world), data)
    assert response.status_code == 302
    assert any(said in m for m in _said(client.get(response["Location"]))), said
    row = Submission.objects.get(pk=world["submission"].pk)
    assert row.score_override is None and not AuditEntry.objects.filter(
        action=AuditEntry.Action.SUBMISSION_OVERRIDDEN).exists()


def test_a_submission_still_being_graded_has_no_form_and_refuses_a_post(world):
    Submission.objects.filter(pk=world["submission"].pk).update(status="running")
    client = _client(world["teacher"])
    assert 'id="override"' not in client.get(_url(world)).content.decode()
    response = client.post(_url(world), {"score": "50", "reason": "r"})
    assert any("not graded yet" in m for m in _said(client.get(response["Location"])))
    assert Submission.objects.get(pk=world["submission"].pk).score_override is None


def test_another_instructor_gets_404(world):
    client = _client(world["other_teacher"])
    assert client.get(_url(world)).status_code == 404
    assert client.post(_url(world), {"score": "1", "reason": "r"}).status_code == 404
    # their own cohort's id with this cohort's student's submission: 404 too
    assert client.get(_url(world, cohort=world["elsewhere"])).status_code == 404
    assert Submission.objects.get(pk=world["submission"].pk).score_override is None


def test_a_student_gets_403(world):
    client = _client(world["student"])
    assert client.get(_url(world)).status_code == 403
    assert client.post(_url(world), {"score": "100", "reason": "r"}).status_code == 403
    assert Submission.objects.get(pk=world["submission"].pk).score_override is None


def test_a_submission_of_a_student_not_in_the_cohort_is_404_through_its_url(world):
    """The teacher's own cohort in the URL, the submission of a student of another cohort: 404, unchanged."""
    client = _client(world["teacher"])
    url = _url(world, submission=world["theirs"])
    assert client.get(url).status_code == 404
    assert client.post(url, {"score": "1", "reason": "r"}).status_code == 404
    assert Submission.objects.get(pk=world["theirs"].pk).score_override is None


def test_a_method_other_than_get_or_post_is_405(world):
    assert _client(world["teacher"]).put(_url(world)).status_code == 405


def test_the_lab_page_lists_the_latest_submissions_with_the_score_that_counts(world):
    cohort_submission_override(cohort=world["cohort"], submission=world["accepted"], score=65, reason="r",
                               actor=world["teacher"])
    html = _client(world["teacher"]).get(reverse("cohort_lab", args=[world["cohort"].id, "int8-asym"])).content.decode()
    assert f'href="{_url(world, submission=world["accepted"])}"' in html and f'href="{_url(world)}"' in html
    assert "65 <span class=\"muted\">(set by an instructor; the grader's: 80)</span>" in html
    assert "stranger" not in html and "alert(1)" not in html


# ----------------------------------------------------------------------------- the learner and the API


def test_the_learner_sees_the_instructors_score_and_reason_beside_the_graders_verdict(world):
    cohort_submission_override(cohort=world["cohort"], submission=world["submission"], score=42.5,
                               reason="partial credit for the tie handling", actor=world["teacher"])
    client = _client(world["student"])
    html = client.get(reverse("labs:submission", args=[world["submission"].id])).content.decode()
    assert "Score set by your instructor: <strong>42.5</strong> (partial credit for the tie handling)" in html
    assert "The grader's verdict: Wrong Answer · the grader's score 0.0" in html
    assert 'data-verdict="wrong_answer"' in html
    listing = client.get(reverse("labs:detail", args=["int8-asym"])).content.decode()
    assert "42.5 <span class=\"muted\">(set by your instructor; the grader's: 0.0)</span>" in listing


def test_without_an_override_the_learner_page_is_as_before(world):
    html = _client(world["student"]).get(reverse("labs:submission", args=[world["accepted"].id])).content.decode()
    assert "Accepted · score 80.0" in html and "Score set by your instructor" not in html


def test_the_api_adds_score_override_beside_the_graders_score(world):
    client = Client(headers={"Authorization": f"Bearer {token_create(user=world['student'])[1]}"})
    url = f"/api/submissions/{world['accepted'].id}"
    assert client.get(url).json()["score_override"] is None
    cohort_submission_override(cohort=world["cohort"], submission=world["accepted"], score=65, reason="r",
                               actor=world["teacher"])
    body = client.get(url).json()
    assert (body["score"], body["score_override"], body["verdict"], body["result"]["score"]) == (
        80.0, 65.0, "accepted", 80.0)
