"""Fixtures that start real components: a Redis server, a Celery worker and a web server as separate
processes sharing the test database (a SQLite file, or PostgreSQL with TEST_DATABASE_URL)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[1]


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


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    binary = shutil.which("redis-server")
    assert binary, "redis-server is not installed (apt-get install -y redis-server; .ci/run does it)"
    port = free_port()
    workdir = tmp_path_factory.mktemp("redis")
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


@pytest.fixture
def stack_env(redis_url, transactional_db, tmp_path, sandbox_backend):
    """Environment for a web server and a worker that see what this test commits."""
    env = {k: v for k, v in os.environ.items() if k != "TEST_DATABASE_URL"}
    env.update(DJANGO_SETTINGS_MODULE="config.settings.test", DATABASE_URL=database_url(),
               CELERY_BROKER_URL=redis_url, SANDBOX_BACKEND=sandbox_backend,
               QUANTPREP_VAR_DIR=str(tmp_path / "var"), PYTHONUNBUFFERED="1")
    return env


@pytest.fixture
def celery_worker_process(stack_env, tmp_path):
    log = open(tmp_path / "worker.log", "w+")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([sys.executable, "-m", "celery", "-A", "config", "worker", "--concurrency", "1",
                             "-Q", "grading", "--loglevel", "INFO", "--without-gossip", "--without-mingle"],
                            cwd=ROOT, env=stack_env, stdout=log, stderr=subprocess.STDOUT)
    wait_for(lambda: "ready" in (tmp_path / "worker.log").read_text(), timeout=60, what="celery worker", proc=proc)
    yield proc
    stop(proc)
    log.close()


@pytest.fixture
def web_server(stack_env, tmp_path):
    port = free_port()
    log = open(tmp_path / "web.log", "w+")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
                            cwd=ROOT, env=stack_env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.get(url + "/login/", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(up, timeout=60, what="web server", proc=proc)
    yield url
    stop(proc)
    log.close()
