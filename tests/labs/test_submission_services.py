"""Submissions: committed before they are queued, claimed once, recorded once, retried on our errors,
requeued by the sweeper."""

import datetime as dt

import pytest
from django.utils import timezone

from content.labs import labs_root
from content.load import labs_sync
from labs import services
from labs.grading import GradeReport, Verdict
from labs.models import Lab, Submission
from tests.factories import user_make

pytestmark = pytest.mark.django_db


@pytest.fixture
def lab():
    labs_sync(root=labs_root())
    return Lab.objects.get(slug="fp8-e4m3")


def test_the_task_is_queued_only_after_the_row_is_committed(lab, django_capture_on_commit_callbacks, monkeypatch):
    queued = []
    monkeypatch.setattr(services, "submission_enqueue", lambda submission_id, delay_s=0: queued.append(submission_id))
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
    monkeypatch.setattr(services, "submission_enqueue", lambda submission_id, delay_s=0: queued.append(submission_id))
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


def test_the_sweeper_counts_its_requeues_and_gives_up_after_the_last_attempt(lab, monkeypatch):
    """A worker that dies on this submission every time (a crash in the grader, a kernel killing it) must
    not keep it circling: the sweeper's requeues count as attempts, and the third ends it, explained."""
    queued = []
    monkeypatch.setattr(services, "submission_enqueue", lambda submission_id, delay_s=0: queued.append(submission_id))
    submission = Submission.objects.create(user=user_make("u"), lab=lab, code="x")
    for attempt in range(1, services.MAX_GRADING_ATTEMPTS + 1):
        assert services.submission_claim(submission_id=submission.id) is not None  # a worker takes it ...
        Submission.objects.filter(id=submission.id).update(updated_at=timezone.now() - dt.timedelta(hours=1))
        requeued = services.submissions_requeue_stuck()  # ... and dies
        assert requeued == ([submission.id] if attempt < services.MAX_GRADING_ATTEMPTS else [])
    submission.refresh_from_db()
    assert (submission.status, submission.verdict, submission.attempts) == ("done", "internal_error", 3)
    assert "after 3 tries" in submission.result["diagnostics"] and "Please submit it again" in submission.result["diagnostics"]
    assert submission.score == 0 and len(queued) == 2
    assert services.submissions_requeue_stuck() == []  # done is done


def test_an_internal_error_that_gives_up_says_so(lab):
    submission = Submission.objects.create(user=user_make("u"), lab=lab, code="x", attempts=2)
    assert services.submission_claim(submission_id=submission.id) is not None
    again = services.submission_record_result(submission_id=submission.id, report=GradeReport(
        Verdict.INTERNAL_ERROR, diagnostics="The sandbox is unavailable."))
    submission.refresh_from_db()
    assert again is False and submission.verdict == "internal_error"
    assert submission.result["diagnostics"].startswith("We could not grade this submission after 3 tries")


def needing_review(lab, student, speedup=42.0) -> Submission:
    submission = Submission.objects.create(user=student, lab=lab, code="x")
    services.submission_claim(submission_id=submission.id)
    services.submission_record_result(submission_id=submission.id, report=GradeReport(
        Verdict.ACCEPTED, score=80.0, correct=True, speedup=speedup, needs_review=True))
    submission.refresh_from_db()
    return submission


def test_an_implausible_speedup_earns_its_points_only_when_an_instructor_clears_it(lab, client):
    from cohorts.models import Cohort, Enrolment
    from tests.factories import instructor_make

    teacher, other_teacher, student = instructor_make("teach"), instructor_make("other"), user_make("stu")
    cohort = Cohort.objects.create(name="c", invite_code="CODE1234")
    cohort.instructors.add(teacher)
    Enrolment.objects.create(cohort=cohort, student=student)
    submission = needing_review(lab, student)
    assert submission.speed_review == "needed" and submission.score == 80.0

    client.force_login(student)
    page = client.get(f"/labs/submissions/{submission.id}/").content.decode()
    assert 'data-speed-review="needed"' in page and "Clear the speedup" not in page
    assert client.post(f"/labs/submissions/{submission.id}/review/", {"decision": "clear"}).status_code == 403
    client.force_login(other_teacher)  # teaches no cohort of this student
    assert client.post(f"/labs/submissions/{submission.id}/review/", {"decision": "clear"}).status_code == 404
    assert client.get("/labs/submissions/reviews/").context["submissions"].count() == 0
    submission.refresh_from_db()
    assert submission.speed_review == "needed" and submission.score == 80.0

    client.force_login(teacher)
    assert client.get("/cohorts/").context["speed_reviews"] == 1
    assert "Clear the speedup" in client.get(f"/labs/submissions/{submission.id}/").content.decode()
    assert client.post(f"/labs/submissions/{submission.id}/review/", {"decision": "clear"}).status_code == 302
    submission.refresh_from_db()
    assert (submission.speed_review, submission.reviewed_by, submission.score) == ("cleared", teacher, 100.0)
    assert client.post(f"/labs/submissions/{submission.id}/review/", {"decision": "clear"}).status_code == 404

    rejected = needing_review(lab, student, speedup=3.0)
    client.post(f"/labs/submissions/{rejected.id}/review/", {"decision": "reject"})
    rejected.refresh_from_db()
    assert (rejected.speed_review, rejected.score) == ("rejected", 80.0)


def test_a_worker_heartbeat_says_which_backend_runs_and_the_pages_show_it(client, settings):
    from labs.models import WorkerHeartbeat

    settings.SANDBOX_BACKEND = "local"
    heartbeat = services.worker_heartbeat(hostname="celery@box", queues="grading")
    assert (heartbeat.backend, heartbeat.unsafe, heartbeat.problem) == ("local", True, "")
    client.force_login(user_make("u"))
    page = client.get("/labs/").content.decode()
    assert "Unsafe sandbox" in page and "celery@box" in page
    WorkerHeartbeat.objects.update(seen_at=timezone.now() - dt.timedelta(hours=1))  # that worker went away
    assert "Unsafe sandbox" not in client.get("/labs/").content.decode()
    WorkerHeartbeat.objects.create(hostname="celery@gpu", backend="docker", seen_at=timezone.now(),
                                   problem="SandboxUnavailable: no Docker engine answers")
    page = client.get("/labs/").content.decode()
    assert "Lab grading is paused" in page and "no Docker engine answers" in page and "Unsafe" not in page


def test_a_grader_error_is_retried_later_not_at_once(lab, monkeypatch, settings):
    """No engine answers (the docker backend, pointed nowhere): the job fails as our error, and the retry
    waits, longer each time, for the engine to come back."""
    from labs import tasks

    queued = []
    monkeypatch.setattr(services, "submission_enqueue", lambda submission_id, delay_s=0: queued.append(delay_s))
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    settings.SANDBOX_BACKEND = "docker"
    from sandbox import api

    api._docker.cache_clear()
    submission = Submission.objects.create(user=user_make("u"), lab=lab, code="def f():\n    pass\n")
    try:
        for _ in range(services.MAX_GRADING_ATTEMPTS):
            tasks.grade_submission(submission.id)
    finally:
        api._docker.cache_clear()
    submission.refresh_from_db()
    assert queued == [services.RETRY_DELAY_S, 2 * services.RETRY_DELAY_S]
    assert (submission.status, submission.verdict, submission.attempts) == ("done", "internal_error", 3)
    assert "unavailable" in submission.result["diagnostics"] and "after 3 tries" in submission.result["diagnostics"]
