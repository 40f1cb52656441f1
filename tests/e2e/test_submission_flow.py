"""End to end on real components: a web server and a Celery worker as separate processes, a real Redis
broker, the local and the docker sandbox, the test database
shared by all of them. A student logs in, submits a lab through the form, and the page shows the verdict."""

import os
import re
import signal
import time
from pathlib import Path

import httpx
import pytest

from content.labs import labs_root
from content.load import labs_sync
from labs.models import Submission, WorkerHeartbeat
from sandbox.docker_backend import LABEL, OWNER_LABEL
from sandbox.pool import CLOSE_WAIT_S
from tests.factories import PASSWORD, user_make

ROOT = Path(__file__).resolve().parents[2]
CORRECT = ROOT / "fixtures/labs/fp8-e4m3/solutions/correct/frexp_round.py"
WRONG = ROOT / "fixtures/labs/fp8-e4m3/solutions/wrong/round_half_away.py"


def logged_in(base_url: str, username: str) -> httpx.Client:
    client = httpx.Client(base_url=base_url, follow_redirects=True, timeout=30)
    client.get("/login/")
    response = client.post("/login/", data={"username": username, "password": PASSWORD,
                                            "csrfmiddlewaretoken": client.cookies["csrftoken"]})
    assert response.url.path == "/", "login failed"
    return client


def submit(client: httpx.Client, code: str) -> str:
    client.get("/labs/fp8-e4m3/")
    response = client.post("/labs/fp8-e4m3/", data={"code": code, "csrfmiddlewaretoken": client.cookies["csrftoken"]})
    assert re.fullmatch(r"/labs/submissions/\d+/", response.url.path), response.text[:500]
    return response.url.path


def wait_for_verdict(client: httpx.Client, path: str, timeout: float = 180) -> tuple[str, list[str]]:
    seen, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        html = client.get(path, headers={"HX-Request": "true"}).text
        status = re.search(r'data-status="([a-z_]+)"', html).group(1)
        if not seen or seen[-1] != status:
            seen.append(status)
        if status == "done":
            return re.search(r'data-verdict="([a-z_]+)"', html).group(1), seen
        time.sleep(0.3)
    raise AssertionError(f"no verdict after {timeout} s; statuses seen: {seen}")


@pytest.mark.django_db(transaction=True)
@pytest.mark.redis
@pytest.mark.quiet
def test_a_browser_submission_is_graded_by_a_real_worker_through_redis(celery_worker_process, web_server):
    labs_sync(root=labs_root())
    user_make("eve")
    client = logged_in(web_server, "eve")

    right = submit(client, CORRECT.read_text())
    wrong = submit(client, WRONG.read_text())
    assert wait_for_verdict(client, right)[0] == "accepted"
    verdict, _ = wait_for_verdict(client, wrong)
    assert verdict == "wrong_answer"
    page = client.get(wrong).text
    assert "top binades" in page  # the per-case feedback reaches the page

    rows = Submission.objects.order_by("id")
    assert [(s.status, s.verdict, s.attempts, s.backend) for s in rows] == [
        ("done", "accepted", 1, "local"), ("done", "wrong_answer", 1, "local")]
    assert rows[0].score >= 80 and rows[0].result["speedup"] > 0
    for row in rows:  # the worker's breakdown includes the queue before the grading and the result's write after
        timings = row.result["timings"]  # (a set, not a list: PostgreSQL's jsonb keeps no key order)
        assert {"queue_wait_s", "inputs_s", "tests_s", "result_write_s"} <= set(timings), timings
        assert all(seconds >= 0 for seconds in timings.values()), timings


@pytest.mark.django_db(transaction=True)
@pytest.mark.redis
@pytest.mark.docker
@pytest.mark.parametrize("sandbox_backend", ["docker"], indirect=True)
def test_the_worker_grades_in_a_warm_docker_container_and_leaves_none_behind(stack_env, web_server, tmp_path):
    """A worker as production runs it (SANDBOX_WARM=1): its first job takes the warm sandbox its pool process
    started at warm-up, which the sweep at the worker's start must not take for a dead worker's. Then its
    pool process is SIGKILLed while it holds a warm sandbox (as the hard time limit does): the worker's stop
    still leaves none of its containers on the engine."""
    import docker

    from tests.conftest import stop, wait_for, worker_start

    started = int(time.time())
    labs_sync(root=labs_root())
    user_make("mallory")
    worker = worker_start({**stack_env, "SANDBOX_WARM": "1"}, tmp_path / "worker.log")
    try:
        client = logged_in(web_server, "mallory")
        assert wait_for_verdict(client, submit(client, CORRECT.read_text()))[0] == "accepted"
        submission = Submission.objects.get()
        assert (submission.backend, submission.attempts) == ("docker", 1)
        # The worker said which backend it runs (its heartbeat); the web process read it, asking no engine.
        heartbeat = WorkerHeartbeat.objects.get()
        assert (heartbeat.backend, heartbeat.unsafe, heartbeat.problem) == ("docker", False, "")
        assert heartbeat.concurrency == 1  # the worker's --concurrency: its slots in the learners' wait estimate
        assert "Unsafe sandbox" not in client.get("/labs/").text
        # Its containers carry its node name as owner (the engine may hold another stack's, such as the
        # deploy smoke's, running beside this test).
        engine, mine = docker.from_env(), [LABEL, f"{OWNER_LABEL}={heartbeat.hostname}"]
        made = list(engine.events(since=started, until=int(time.time()) + 1, decode=True,
                                  filters={"type": "container", "event": "create", "label": mine}))
        jobs = {event["Actor"]["Attributes"][LABEL] for event in made}
        assert jobs == {"warm"}, f"the job started a container of its own: {jobs}"  # it ran in a warm one

        def running():
            return engine.containers.list(filters={"label": mine, "status": "running"}, ignore_removed=True)

        wait_for(running, timeout=60, what="the warm sandbox that replaces the one taken")
        pool_process = int(Path(f"/proc/{worker.pid}/task/{worker.pid}/children").read_text().split()[0])
        os.kill(pool_process, signal.SIGKILL)  # its warm sandbox is orphaned; the worker forks a new process
        wait_for(lambda: len(engine.containers.list(all=True, filters={"label": mine}, ignore_removed=True)) >= 2, timeout=60,
                 what="the new pool process's warm sandbox beside the orphan")
    finally:
        # The stop's whole grace: the pool process waits up to CLOSE_WAIT_S for a warm sandbox still starting,
        # then the worker sweeps the orphan; with the suite's load on the engine that is more than 15 s.
        stop(worker, timeout=CLOSE_WAIT_S + 60)
    # ignore_removed: one listed and then removed (the sweep, the pool) is not an error, only gone
    assert engine.containers.list(all=True, filters={"label": mine}, ignore_removed=True) == []


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow  # and SQLite's alone: the embedded defaults are SQLite, so make test's PostgreSQL pass leaves it out
def test_the_embedded_defaults_grade_a_submission_without_redis_or_docker(stack_env, tmp_path):
    """What make run gives: kombu's filesystem broker and the local sandbox, labelled unsafe on the page."""
    from tests.conftest import stop, web_start, worker_start

    env = {**stack_env, "CELERY_BROKER_URL": "filesystem://", "SANDBOX_BACKEND": "auto",
           "DOCKER_HOST": "unix:///nonexistent/docker.sock", "QUANTPREP_VAR_DIR": str(tmp_path / "shared-var")}
    labs_sync(root=labs_root())
    user_make("nia")
    web, url = web_start(env, tmp_path / "web.log")
    worker = worker_start(env, tmp_path / "worker.log")
    try:
        client = logged_in(url, "nia")
        path = submit(client, CORRECT.read_text())
        assert wait_for_verdict(client, path)[0] == "accepted"
        page = client.get(path).text
        assert "Unsafe sandbox" in page and "local (unsafe) sandbox" in page
        heartbeat = WorkerHeartbeat.objects.get()
        assert (heartbeat.backend, heartbeat.unsafe) == ("local", True) and heartbeat.hostname in page
    finally:
        stop(worker)
        stop(web)
    assert Submission.objects.get().backend == "local"
