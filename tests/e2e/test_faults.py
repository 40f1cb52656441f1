"""Faults on real components: a worker SIGKILLed in the middle of grading, and Redis restarted with
submissions queued. The database is the source of truth; the sweeper (beat) requeues what was lost."""

import os
import signal
import time

import pytest

from content.labs import labs_root
from content.load import labs_sync
from labs.models import Submission
from labs.tasks import grade_submission
from tests.conftest import free_port, redis_start, stop, wait_for, web_start, worker_start
from tests.e2e.test_submission_flow import CORRECT, logged_in, submit
from tests.factories import user_make

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.redis, pytest.mark.slow]
SLOW_CORRECT = "import time\ntime.sleep(4)\n" + CORRECT.read_text()


def sweeping(env: dict) -> dict:
    return {**env, "LAB_STUCK_AFTER_S": "5", "LAB_SWEEP_EVERY_S": "1"}


def done(submission_id: int, timeout: float = 120) -> Submission:
    return wait_for(lambda: Submission.objects.filter(id=submission_id, status="done").first(), timeout=timeout,
                    what=f"submission {submission_id} to be graded")


def test_a_worker_killed_mid_grading_leaves_a_submission_graded_exactly_once(stack_env, web_server, tmp_path):
    labs_sync(root=labs_root())
    user_make("kim")
    client = logged_in(web_server, "kim")
    first = worker_start(stack_env, tmp_path / "worker.log")
    path = submit(client, SLOW_CORRECT)
    submission_id = int(path.strip("/").split("/")[-1])
    wait_for(lambda: Submission.objects.filter(id=submission_id, status__in=["preparing", "running"]).exists(),
             timeout=60, what="grading to start")
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    assert Submission.objects.get(id=submission_id).status != "done"

    second = worker_start(sweeping(stack_env), tmp_path / "worker.log", beat=True)
    try:
        graded = done(submission_id)
    finally:
        stop(second)
    assert (graded.verdict, graded.attempts) == ("accepted", 2)
    finished_at = graded.finished_at
    grade_submission(submission_id)  # the lost delivery arriving late changes nothing
    graded.refresh_from_db()
    assert (graded.attempts, graded.finished_at) == (2, finished_at)


def test_submissions_queued_in_redis_survive_its_restart(stack_env, tmp_path):
    labs_sync(root=labs_root())
    user_make("lee")
    port = free_port()
    broker = redis_start(port, tmp_path)
    env = {**stack_env, "CELERY_BROKER_URL": f"redis://127.0.0.1:{port}/0"}
    web, url = web_start(env, tmp_path / "web.log")
    try:
        client = logged_in(url, "lee")
        ids = [int(submit(client, CORRECT.read_text()).strip("/").split("/")[-1]) for _ in range(2)]
        stop(broker)  # no persistence: the queued message is gone (the second waits, held behind the first)
        broker = redis_start(port, tmp_path)
        time.sleep(1)
        worker = worker_start(sweeping(env), tmp_path / "worker.log", beat=True)
        try:
            graded = [done(i) for i in ids]
        finally:
            stop(worker)
    finally:
        stop(web)
        stop(broker)
    assert [(s.verdict, s.attempts) for s in graded] == [("accepted", 1), ("accepted", 1)]
