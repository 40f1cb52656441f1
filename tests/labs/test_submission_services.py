"""Submissions: committed before they are queued, claimed once, recorded once, retried on our errors,
requeued by the sweeper."""

import datetime as dt

import pytest
from django.utils import timezone

from labs import services
from labs.content import labs_root, labs_sync
from labs.models import Lab, Submission
from labs.pipeline import GradeReport, Verdict
from tests.factories import user_make

pytestmark = pytest.mark.django_db


@pytest.fixture
def lab():
    labs_sync(root=labs_root())
    return Lab.objects.get(slug="fp8-e4m3")


def test_the_task_is_queued_only_after_the_row_is_committed(lab, django_capture_on_commit_callbacks, monkeypatch):
    queued = []
    monkeypatch.setattr(services, "submission_enqueue", lambda submission_id: queued.append(submission_id))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        submission = services.submission_create(user=user_make("u"), lab=lab, code="print(1)")
    assert queued == [] and len(callbacks) == 1
    callbacks[0]()
    assert queued == [submission.id]


def test_empty_and_huge_submissions_are_refused(lab):
    with pytest.raises(services.SubmissionRejected):
        services.submission_create(user=user_make("u"), lab=lab, code="  \n")
    with pytest.raises(services.SubmissionRejected):
        services.submission_create(user=user_make("v"), lab=lab, code="#" * 300_000)


def test_a_redelivered_task_neither_grades_nor_counts_twice(lab):
    submission = Submission.objects.create(user=user_make("u"), lab=lab, code="x")
    assert services.submission_claim(submission_id=submission.id) is not None
    assert services.submission_claim(submission_id=submission.id) is None  # the second delivery
    report = GradeReport(Verdict.WRONG_ANSWER, diagnostics="first")
    assert services.submission_record_result(submission_id=submission.id, report=report) is False
    services.submission_record_result(submission_id=submission.id,
                                      report=GradeReport(Verdict.ACCEPTED, score=99, correct=True))
    submission.refresh_from_db()
    assert (submission.verdict, submission.attempts, submission.result["diagnostics"]) == ("wrong_answer", 1, "first")


def test_internal_errors_are_retried_and_never_charged_until_the_limit(lab):
    submission = Submission.objects.create(user=user_make("u"), lab=lab, code="x")
    for attempt in range(1, services.MAX_GRADING_ATTEMPTS + 1):
        assert services.submission_claim(submission_id=submission.id) is not None
        again = services.submission_record_result(submission_id=submission.id,
                                                  report=GradeReport(Verdict.INTERNAL_ERROR))
        assert again is (attempt < services.MAX_GRADING_ATTEMPTS)
    submission.refresh_from_db()
    assert submission.status == "done" and submission.verdict == "internal_error"


def test_the_sweeper_requeues_only_stuck_submissions(lab, monkeypatch):
    queued = []
    monkeypatch.setattr(services, "submission_enqueue", lambda submission_id: queued.append(submission_id))
    user = user_make("u")
    stuck = Submission.objects.create(user=user, lab=lab, code="x", status="running")
    fresh = Submission.objects.create(user=user, lab=lab, code="x", status="running")
    done = Submission.objects.create(user=user, lab=lab, code="x", status="done")
    old = timezone.now() - dt.timedelta(hours=1)
    Submission.objects.filter(id__in=[stuck.id, done.id]).update(updated_at=old)
    assert services.submissions_requeue_stuck() == [stuck.id] and queued == [stuck.id]
    stuck.refresh_from_db()
    fresh.refresh_from_db()
    assert stuck.status == "queued" and fresh.status == "running"


def test_a_student_sees_only_their_own_submissions(client, lab):
    owner, other = user_make("owner"), user_make("other")
    submission = Submission.objects.create(user=owner, lab=lab, code="secret code")
    client.force_login(other)
    assert client.get(f"/labs/submissions/{submission.id}/").status_code == 404
    client.force_login(owner)
    assert "secret code" in client.get(f"/labs/submissions/{submission.id}/").content.decode()
