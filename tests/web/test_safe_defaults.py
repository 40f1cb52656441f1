"""Safe defaults, each in a fresh process as a deployment starts one: a Celery worker or a WSGI server
started without DJANGO_SETTINGS_MODULE runs production settings and refuses a missing, public or
low-entropy key (manage.py keeps the development settings for runserver and the tests); /api/docs is for
signed-in users; an error that echoes input is plain text."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

from tests.factories import user_make

ROOT = Path(__file__).resolve().parents[2]
GOOD_KEY = secrets.token_urlsafe(64)


def python(code: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "SECRET_KEY", "SANDBOX_"))}
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**clean, "ALLOWED_HOSTS": "q.example", **env},
                          capture_output=True, text=True, timeout=120)


CELERY = "import config.celery; from django.conf import settings; print(settings.SETTINGS_MODULE, settings.DEBUG)"
WSGI = "import config.wsgi; from django.conf import settings; print(settings.SETTINGS_MODULE, settings.DEBUG)"


@pytest.mark.parametrize("entry", [CELERY, WSGI], ids=["celery worker", "wsgi server"])
@pytest.mark.parametrize("key", ["", "dev-only-key-not-for-production-" + "x" * 20, "x" * 64,
                                 "ab" * 40, "django-insecure-" + secrets.token_urlsafe(50)],
                         ids=["missing", "the dev key", "one character", "two characters", "django-insecure"])
def test_a_process_without_a_settings_module_refuses_a_public_or_weak_key(entry, key):
    done = python(entry, SECRET_KEY=key) if key else python(entry)
    assert done.returncode != 0 and "Production needs SECRET_KEY" in done.stderr, done.stdout + done.stderr


@pytest.mark.parametrize("entry", [CELERY, WSGI], ids=["celery worker", "wsgi server"])
def test_with_a_real_key_it_runs_production_settings(entry):
    done = python(entry, SECRET_KEY=GOOD_KEY, SANDBOX_BACKEND="docker")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["config.settings.prod", "False"]


@pytest.mark.django_db
def test_the_api_docs_are_for_signed_in_users():
    client = Client()
    response = client.get("/api/docs")
    assert response.status_code == 302 and response.url.startswith("/login/")
    client.force_login(user_make("dee"))
    page = client.get("/api/docs")
    assert page.status_code == 200 and b"swagger-ui" in page.content
    assert b"cdn.jsdelivr" not in page.content  # served from our static files, under the CSP


@pytest.mark.django_db
def test_an_error_that_echoes_input_is_plain_text():
    client = Client()
    client.force_login(user_make("eli"))
    response = client.post("/drills/settings/", {"desired_retention": "<script>alert(1)</script>"})
    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith("text/plain")
