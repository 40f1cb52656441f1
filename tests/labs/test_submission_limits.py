"""The lab queue's limits: a learner has one submission with the workers at a time and at most
LAB_MAX_WAITING waiting in all (429 on the page and in the API), a lab may cap submissions per hour
(lab.toml ``submissions_per_hour``), the page shows the queue position; and on a real worker through Redis,
one learner's burst delays another learner's verdict by one job at most."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import httpx
import pytest
from django.test import Client
from django.utils import timezone

from cohorts.tokens import token_create
from content.labs import labs_root
from content.load import labs_sync
from labs import services
from labs.models import Lab, Submission, WorkerHeartbeat
from tests.e2e.test_submission_flow import logged_in
from tests.factories import user_make

ROOT = Path(__file__).resolve().parents[2]
CORRECT = (ROOT / "fixtures/labs/fp8-e4m3/solutions/correct/frexp_round.py").read_text()


@pytest.fixture
def lab(db):
    labs_sync(root=labs_root())
    return Lab.objects.get(slug="fp8-e4m3")


@pytest.fixture
def queued(monkeypatch):
    sent = []
    monkeypatch.setattr(services, "submission_enqueue", lambda submission_id, delay_s=0: sent.append(submission_id))
    return sent


@pytest.mark.django_db
def test_one_with_the_workers_the_next_held_a_third_refused(lab, queued, django_capture_on_commit_callbacks):
    ann = user_make("ann")
    with django_capture_on_commit_callbacks(execute=True):
        first = services.submission_create(user=ann, lab=lab, code="x = 1")
        second = services.submission_create(user=ann, lab=lab, code="x = 2")
    assert (first.held, second.held) == (False, True) and queued == [first.id]
    with pytest.raises(services.TooManySubmissions, match="2 submissions waiting"):
        services.submission_create(user=ann, lab=lab, code="x = 3")
    assert services.queue_position(submission=first) == 1 and services.queue_position(submission=second) is None
    # another learner is not held behind ann: straight to the workers, second in line
    with django_capture_on_commit_callbacks(execute=True):
        ben = services.submission_create(user=user_make("ben"), lab=lab, code="y = 1")
    assert not ben.held and queued == [first.id, ben.id] and services.queue_position(submission=ben) == 2
    # ann's first is graded: her second goes to the workers, behind ben's
    Submission.objects.filter(pk=first.pk).update(status="done", verdict="accepted", score=80.0)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.submission_release_next(user_id=ann.id) == second.id
        assert services.submission_release_next(user_id=ann.id) is None  # already released: no double send
    assert queued == [first.id, ben.id, second.id]
    second.refresh_from_db()
    assert not second.held and services.queue_position(submission=second) == 2


@pytest.mark.django_db
def test_the_web_form_and_the_api_answer_429(lab, queued):
    cora = user_make("cora")
    for code in ("a = 1", "a = 2"):
        services.submission_create(user=cora, lab=lab, code=code)
    client = Client()
    client.force_login(cora)
    page = client.post("/labs/fp8-e4m3/", {"code": "a = 3"})
    assert page.status_code == 429 and b"2 submissions waiting to be graded" in page.content
    api = Client(HTTP_AUTHORIZATION=f"Bearer {token_create(user=cora)[1]}")
    refused = api.post("/api/labs/fp8-e4m3/submissions", {"code": "a = 4"}, content_type="application/json")
    assert refused.status_code == 429 and "waiting to be graded" in refused.json()["detail"]
    assert Submission.objects.filter(user=cora).count() == 2


@pytest.mark.django_db
def test_a_lab_can_cap_submissions_per_hour(lab, queued):
    Lab.objects.filter(pk=lab.pk).update(config={**lab.config, "submissions_per_hour": 3})
    lab.refresh_from_db()
    dora = user_make("dora")
    now = timezone.now()
    for minutes in (50, 30, 10):
        Submission.objects.create(user=dora, lab=lab, code="x", status="done", verdict="wrong_answer",
                                  created_at=now - dt.timedelta(minutes=minutes))
    Submission.objects.filter(user=dora).update(created_at=now - dt.timedelta(minutes=50))  # auto_now_add
    with pytest.raises(services.TooManySubmissions, match="at most 3 submissions an hour") as refused:
        services.submission_create(user=dora, lab=lab, code="x = 1")
    assert 9 * 60 <= refused.value.retry_after <= 10 * 60 + 1  # the oldest of the hour leaves it in ten minutes
    api = Client(HTTP_AUTHORIZATION=f"Bearer {token_create(user=dora)[1]}")
    response = api.post("/api/labs/fp8-e4m3/submissions", {"code": "a = 4"}, content_type="application/json")
    assert response.status_code == 429 and 540 <= int(response["Retry-After"]) <= 601
    Submission.objects.filter(user=dora).update(created_at=now - dt.timedelta(minutes=61))
    assert services.submission_create(user=dora, lab=lab, code="x = 2").id


@pytest.mark.django_db
def test_the_submission_page_shows_the_queue_position(lab, queued):
    ahead = user_make("early")
    services.submission_create(user=ahead, lab=lab, code="x = 0")
    eve = user_make("eve")
    mine = services.submission_create(user=eve, lab=lab, code="x = 1")
    held = services.submission_create(user=eve, lab=lab, code="x = 2")
    client = Client()
    client.force_login(eve)
    page = client.get(f"/labs/submissions/{mine.id}/").content.decode()
    assert "1 submission ahead of you." in page and "about" not in page  # no history, no live worker: no guess
    assert "Waiting for your previous submission" in client.get(f"/labs/submissions/{held.id}/").content.decode()


@pytest.mark.django_db
def test_the_wait_is_estimated_from_recent_grading_times_and_the_live_workers_slots(lab, queued, settings):
    now = timezone.now()
    for seconds in (8, 10, 30):  # graded earlier: median 10 s
        Submission.objects.create(user=user_make(f"old{seconds}"), lab=lab, code="x", status="done",
                                  verdict="accepted", started_at=now - dt.timedelta(seconds=seconds), finished_at=now)
    Submission.objects.create(user=user_make("broke"), lab=lab, code="x", status="done", verdict="internal_error",
                              started_at=now - dt.timedelta(seconds=500), finished_at=now)  # not a grading time
    waiting = [services.submission_create(user=user_make(f"w{i}"), lab=lab, code="x") for i in range(5)]
    last = waiting[-1]
    assert services.queue_estimate(submission=last) == {"position": 5, "ahead": 4, "seconds": None}  # no worker
    WorkerHeartbeat.objects.create(hostname="w1", backend="docker", queues="grading", concurrency=2, seen_at=now)
    WorkerHeartbeat.objects.create(hostname="gpu", backend="docker", queues="gpu", concurrency=4, seen_at=now)
    WorkerHeartbeat.objects.create(hostname="dead", backend="docker", queues="grading", concurrency=8,
                                   seen_at=now - dt.timedelta(seconds=10 * settings.WORKER_HEARTBEAT_S))
    # 2 slots on the grading queue: position 5 is graded in the third round of 10 s
    assert services.queue_estimate(submission=last) == {"position": 5, "ahead": 4, "seconds": 30.0}
    client = Client()
    client.force_login(last.user)
    assert "Your verdict in about 30 s: 4 submissions ahead of you." in client.get(
        f"/labs/submissions/{last.id}/").content.decode()
    first = Client()
    first.force_login(waiting[0].user)
    assert "Your verdict in about 10 s: next in the grading queue." in first.get(
        f"/labs/submissions/{waiting[0].id}/").content.decode()


@pytest.mark.parametrize("seconds, words", [(0, "5 s"), (42, "40 s"), (89, "90 s"), (95, "2 min"),
                                            (3599, "1 h"), (4800, "1 h 20 min")])
def test_estimates_read_as_words(seconds, words):
    from labs.templatetags.labs_tags import duration_words

    assert duration_words(seconds) == words


@pytest.mark.django_db(transaction=True)
@pytest.mark.redis
@pytest.mark.slow
def test_one_learners_burst_delays_anothers_verdict_by_one_job_at_most(celery_worker_process, web_server):
    """One worker. Ann sends three at once (the third is refused), then Ben sends one: Ben's verdict comes
    after Ann's first, and before Ann's second."""
    labs_sync(root=labs_root())
    user_make("ann")
    user_make("ben")
    ann, ben = logged_in(web_server, "ann"), logged_in(web_server, "ben")

    def send(client: httpx.Client) -> httpx.Response:
        client.get("/labs/fp8-e4m3/")
        return client.post("/labs/fp8-e4m3/", data={"code": CORRECT,
                                                    "csrfmiddlewaretoken": client.cookies["csrftoken"]})

    first, second, third = send(ann), send(ann), send(ann)
    assert third.status_code == 429
    mine = send(ben)
    ids = [int(r.url.path.rstrip("/").rsplit("/", 1)[1]) for r in (first, second, mine)]
    deadline = time.monotonic() + 300
    while Submission.objects.filter(id__in=ids, status="done").count() < 3:
        assert time.monotonic() < deadline, list(Submission.objects.filter(id__in=ids).values("id", "status"))
        time.sleep(0.5)
    done = {s.id: s.finished_at for s in Submission.objects.filter(id__in=ids)}
    assert done[ids[0]] < done[ids[2]] < done[ids[1]]  # ann's first, then ben's, then ann's second
