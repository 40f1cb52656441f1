"""Fixtures that start real components: a Redis server, a Celery worker and a web server as separate
processes sharing the test database (a SQLite file, or PostgreSQL with TEST_DATABASE_URL)."""

from __future__ import annotations

import fcntl
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import redis
from django.db import connection

ROOT = Path(__file__).resolve().parents[1]


def pytest_addoption(parser):
    parser.addoption("--core-per-worker", action="store_true",
                     help="pin each xdist worker, and all it starts (servers, workers, browsers, sandbox "
                          "containers), to a core of its own: make test's quiet run")


def pytest_configure(config):
    """Under xdist the pytest processes keep every core busy: a second torch thread in one of them (or in a
    worker or server it starts) mostly spins at a barrier waiting for a core, which made the in-process lab
    tests five times slower. One thread each; the sandboxes set their own (limits.cpus)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker:
        os.environ["OMP_NUM_THREADS"] = "1"
        import torch

        torch.set_num_threads(1)
    if worker and config.getoption("core_per_worker"):
        # inherited by every process it starts; the docker backend pins its containers to the same core
        os.sched_setaffinity(0, {int(worker.removeprefix("gw")) % os.cpu_count()})


def pytest_collection_modifyitems(items):
    """Every test that runs code in the Docker sandbox image is also ``sandbox``: it waits for the image
    (``sandbox_image_built``), which scripts/test.sh builds in the background. Those that time a run, or
    sweep every worker's containers, are marked ``quiet`` where they are written, and run after the parallel
    run, each on a core of its own (``--core-per-worker``). The deploy smoke builds what it needs itself."""
    for item in items:
        if item.get_closest_marker("docker") and "tests/deploy/" not in item.nodeid:
            item.add_marker(pytest.mark.sandbox)
    # The longest first, so that the other tests fill the cores around them (make test's runs let an idle
    # worker take tests queued for a busy one) and none is left to run alone at the end: the deploy smoke
    # (3-5 minutes, mostly waiting on Docker), the heavy runs (up to 30 s on one core each), the slow ones.
    items.sort(key=lambda item: ("test_deploy_smoke" not in item.name, not item.get_closest_marker("heavy"),
                                 not item.get_closest_marker("slow")))


@pytest.fixture(scope="session")
def sandbox_image_built():
    """The sandbox image, as build_cpu.sh leaves it: up to date (a no-op then), or built now. Under make test
    this waits for the build it started in the background (the script holds a lock)."""
    done = subprocess.run(["bash", str(ROOT / "sandbox" / "images" / "build_cpu.sh")], capture_output=True, text=True)
    assert done.returncode == 0, f"the sandbox image did not build:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"


@pytest.fixture(autouse=True)
def _engine_shared_or_alone(request, tmp_path_factory):
    """The quiet run has a pytest worker per core: a test marked ``engine_alone`` (a sweep that removes any
    worker's stopped containers) waits until no other quiet test runs, and they wait for it (a file lock that
    every worker of the run sees)."""
    if not request.node.get_closest_marker("quiet"):
        yield
        return
    alone = request.node.get_closest_marker("engine_alone") is not None
    with open(tmp_path_factory.getbasetemp().parent / "docker-engine.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX if alone else fcntl.LOCK_SH)
        yield


@pytest.fixture(autouse=True)
def _sandbox_image(request):
    """Every test that runs code in the sandbox image has it, whenever it runs."""
    if request.node.get_closest_marker("sandbox"):
        request.getfixturevalue("sandbox_image_built")


def pytest_sessionfinish(session):
    """The Chromium this pytest process launched for its browser tests, if any (tests/e2e/browser.py)."""
    browser = sys.modules.get("tests.e2e.browser")
    if browser is not None:
        browser.close_browser()


@pytest.fixture(autouse=True)
def _rate_limits_start_afresh():
    """The rate limits count in the cache: each test starts with none spent (user ids repeat across tests)."""
    from django.core.cache import cache

    cache.clear()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, *, timeout: float, what: str, proc: subprocess.Popen | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"{what}: the process exited with {proc.returncode}")
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def stop(proc: subprocess.Popen, timeout: float = 15) -> None:
    """SIGTERM, then SIGKILL after ``timeout`` seconds."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    port = free_port()
    proc = redis_start(port, tmp_path_factory.mktemp("redis"))
    yield f"redis://127.0.0.1:{port}/0"
    stop(proc)


def database_url() -> str:
    """The test database as a URL, for processes the tests start."""
    s = connection.settings_dict
    if s["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{s['NAME']}"
    auth = f"{s['USER']}:{s['PASSWORD']}@" if s["USER"] else ""
    return f"postgres://{auth}{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


@pytest.fixture
def sandbox_backend(request) -> str:
    """local unless a test asks for another with ``parametrize(..., indirect=True)``."""
    return getattr(request, "param", "local")


def stack_environ(redis_url: str, var_dir: Path, sandbox_backend: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "TEST_DATABASE_URL"}
    env.update(DJANGO_SETTINGS_MODULE="config.settings.test", DATABASE_URL=database_url(),
               CELERY_BROKER_URL=redis_url, SANDBOX_BACKEND=sandbox_backend,
               QUANTPREP_VAR_DIR=str(var_dir), PYTHONUNBUFFERED="1",
               # A test's worker grades a job or two: warming up for every lab would cost more than it saves.
               # tests/labs/test_warm.py runs a warm worker.
               SANDBOX_WARM="0")
    return env


@pytest.fixture
def stack_env(redis_url, transactional_db, tmp_path, sandbox_backend):
    """Environment for a web server and a worker that see what this test commits."""
    return stack_environ(redis_url, tmp_path / "var", sandbox_backend)


def worker_start(env: dict, log_path: Path, *, beat: bool = False, concurrency: int = 1) -> subprocess.Popen:
    """A real Celery worker in its own session (so a test can SIGKILL the whole of it)."""
    offset = log_path.stat().st_size if log_path.exists() else 0
    argv = [sys.executable, "-m", "celery", "-A", "config", "worker", "--concurrency", str(concurrency), "-Q", "grading",
            "--loglevel", "INFO", "--without-gossip", "--without-mingle", *(["--beat"] if beat else [])]
    with open(log_path, "a") as log:
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    wait_for(lambda: " ready." in log_path.read_text()[offset:], timeout=60, what="celery worker", proc=proc)
    return proc


@pytest.fixture
def celery_worker_process(stack_env, tmp_path):
    proc = worker_start(stack_env, tmp_path / "worker.log")
    yield proc
    stop(proc)


def web_start(env: dict, log_path: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    with open(log_path, "a") as log:
        proc = subprocess.Popen([sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
                                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.get(url + "/login/", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(up, timeout=60, what="web server", proc=proc)
    return proc, url


def redis_start(port: int, workdir: Path) -> subprocess.Popen:
    """redis-server on loopback with no persistence: a restart loses whatever the broker held."""
    binary = shutil.which("redis-server")
    assert binary, "redis-server is not installed (apt-get install -y redis-server; .ci/run does it)"
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", str(workdir)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)

    def answers() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    wait_for(answers, timeout=20, what="redis-server", proc=proc)
    return proc


@pytest.fixture(scope="session")
def shared_web_server(redis_url, django_db_setup, tmp_path_factory):
    """One web server per pytest process, for every test that wants a plain one: starting runserver costs
    about two seconds of CPU, and dozens of tests ask for one. It sees the test database (each test's
    data, as a new server would) and keeps its cache, which holds the rate limits, in Redis database 1,
    which ``web_server`` empties before each test."""
    cache_url = redis_url.rsplit("/", 1)[0] + "/1"
    env = {**stack_environ(redis_url, tmp_path_factory.mktemp("shared-web-var"), "local"), "CACHE_URL": cache_url}
    proc, url = web_start(env, tmp_path_factory.mktemp("shared-web") / "web.log")
    yield url, cache_url
    stop(proc)


@pytest.fixture
def web_server(request, stack_env, tmp_path, sandbox_backend):
    """The shared server, its cache emptied; a server of its own for a test on another sandbox backend."""
    if sandbox_backend == "local":
        url, cache_url = request.getfixturevalue("shared_web_server")
        redis.Redis.from_url(cache_url).flushdb()
        yield url
        return
    proc, url = web_start(stack_env, tmp_path / "web.log")
    yield url
    stop(proc)


@pytest.fixture(scope="module")
def warm_local_backend():
    """The local backend kept warm as a worker keeps it (sandbox.pool, labs.grading.warm): a module that
    grades many submissions takes a second or two for each, and exercises the path workers run."""
    from content.labs import lab_folder_get, labs_root
    from labs.grading import warm
    from labs.grading.build import job_kind
    from sandbox.local import LocalBackend

    warm.enable()
    backend = LocalBackend()
    backend.keep_warm(job_kind(lab_folder_get(next(labs_root().glob("*/lab.toml")).parent.name)), 1)
    yield backend
    if backend.pool is not None:
        backend.pool.close()
    warm.enable(False)
