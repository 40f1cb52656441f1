"""The operator's view: /healthz and /readyz (with a real Redis as the broker, and with one that does not
answer), and ``quantprep_info``."""

from __future__ import annotations

import datetime as dt
import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from config.celery import app
from content.labs import labs_root
from content.load import labs_sync
from labs.models import Lab, Submission, WorkerHeartbeat
from tests.factories import user_make


def test_healthz_answers_without_touching_the_database(client):
    """No django_db mark: a query here would fail the test ("Database access not allowed")."""
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


@pytest.mark.django_db  # the refused requests go through the whole site (sessions, the lockout), which may query
def test_health_checks_answer_by_ip_over_plain_http_under_production_host_and_https_rules(client, settings):
    """A container's health check and a load balancer call by IP over HTTP: neither ALLOWED_HOSTS nor the
    HTTPS redirect may turn them away, while every other page still is (400 for the unknown host)."""
    settings.ALLOWED_HOSTS = ["q.example"]
    settings.SECURE_SSL_REDIRECT = True
    response = client.get("/healthz", HTTP_HOST="10.0.0.7:8000")
    assert response.status_code == 200 and response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]
    assert client.get("/login/", HTTP_HOST="10.0.0.7:8000").status_code == 400
    assert client.get("/login/", HTTP_HOST="q.example").status_code == 301  # to https
    assert client.post("/healthz", HTTP_HOST="10.0.0.7:8000").status_code == 400  # only GET and HEAD


@pytest.mark.django_db
@pytest.mark.redis
def test_readyz_with_a_real_redis_broker_and_with_one_that_is_down(settings, redis_url):
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {}
    settings.CELERY_BROKER_URL = redis_url
    assert app.conf.broker_url == redis_url  # the app reads the settings: what a worker would connect to
    ready = Client().get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ok" and ready.json()["problems"] == []
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    down = Client().get("/readyz")
    assert down.status_code == 503 and down.json()["status"] == "unavailable"
    assert [p.split(":")[0] for p in down.json()["problems"]] == ["broker"]


@pytest.mark.django_db
def test_quantprep_info_counts_the_queue_and_reads_the_heartbeats():
    labs_sync(root=labs_root())
    lab = Lab.objects.get(slug="fp8-e4m3")
    ann, ben = user_make("ann"), user_make("ben")
    old = Submission.objects.create(user=ann, lab=lab, code="x")
    Submission.objects.filter(pk=old.pk).update(created_at=timezone.now() - dt.timedelta(minutes=5))
    Submission.objects.create(user=ann, lab=lab, code="x", held=True)
    Submission.objects.create(user=ben, lab=lab, code="x", status="running")
    Submission.objects.create(user=ben, lab=lab, code="x", status="done", verdict="accepted")
    now = timezone.now()
    WorkerHeartbeat.objects.create(hostname="w1", backend="docker", queues="grading", seen_at=now)
    WorkerHeartbeat.objects.create(hostname="w2", backend="docker", problem="no engine", seen_at=now - dt.timedelta(
        minutes=10))
    out = StringIO()
    call_command("quantprep_info", "--json", stdout=out)
    info = json.loads(out.getvalue())
    assert (info["queued"], info["held"], info["running"]) == (1, 1, 1)
    assert info["oldest_waiting"]["id"] == old.id and info["oldest_waiting"]["waiting_s"] >= 299
    assert [(w["hostname"], w["alive"]) for w in info["workers"]] == [("w1", True), ("w2", False)]
    text = StringIO()
    call_command("quantprep_info", stdout=text)
    assert "1 queued, 1 held" in text.getvalue() and "worker w2: SILENT" in text.getvalue()
