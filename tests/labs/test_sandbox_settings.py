"""Where learner code may run, decided once in the settings: production runs it in Docker only, unless
someone opts out in so many words; the web process never talks to Docker. Each case runs in a fresh
process, as a deployment would start."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROD = {"DJANGO_SETTINGS_MODULE": "config.settings.prod", "SECRET_KEY": secrets.token_urlsafe(64),
        "ALLOWED_HOSTS": "quantprep.example"}


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SANDBOX_", "DJANGO_", "DOCKER_"))}
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env={**clean, **env},
                          capture_output=True, text=True, timeout=300)


def test_production_defaults_to_docker_and_passes_its_checks():
    assert manage("check", "--deploy", "--fail-level", "WARNING", **PROD).returncode == 0
    shown = manage("shell", "--no-imports", "-c", "from django.conf import settings; print(settings.SANDBOX_BACKEND)",
                   **PROD)
    assert shown.stdout.strip() == "docker", shown.stderr


@pytest.mark.parametrize("backend", ["local", "auto"])
def test_production_refuses_a_backend_that_runs_code_outside_docker(backend):
    refused = manage("check", **PROD, SANDBOX_BACKEND=backend)
    assert refused.returncode != 0 and "ImproperlyConfigured" in refused.stderr
    assert "SANDBOX_ALLOW_UNSAFE=1" in refused.stderr
    assert manage("check", **PROD, SANDBOX_BACKEND=backend, SANDBOX_ALLOW_UNSAFE="1").returncode == 0


def test_production_with_no_engine_does_not_grade_and_never_falls_back(tmp_path):
    """No Docker engine at all: the job fails as our error (retried later), the local backend is not tried,
    and asking for it by name is refused."""
    correct = ROOT / "fixtures/labs/fp8-e4m3/solutions/correct/frexp_round.py"
    nowhere = f"unix://{tmp_path}/no-engine.sock"
    graded = manage("grade_lab", "fp8-e4m3", str(correct), "--json", **PROD, DOCKER_HOST=nowhere)
    report = json.loads(graded.stdout)
    assert report["verdict"] == "internal_error" and "unavailable" in report["diagnostics"], graded.stderr
    local = manage("grade_lab", "fp8-e4m3", str(correct), "--backend", "local", "--json", **PROD)
    assert local.returncode != 0 and "SANDBOX_ALLOW_UNSAFE" in local.stderr


def test_the_web_process_never_talks_to_docker():
    """Every page shows the sandbox banner from the workers' heartbeats; rendering one imports no docker
    client even with SANDBOX_BACKEND=docker and an engine that does not exist."""
    code = ("import sys, django; django.setup()\n"
            "from django.core.management import call_command; call_command('migrate', verbosity=0)\n"
            "from django.test import Client\n"
            "from django.contrib.auth.models import User\n"
            "c = Client(); c.force_login(User.objects.create_user('u', password='x' * 20))\n"
            "assert c.get('/labs/').status_code == 200 and c.get('/').status_code == 200\n"
            "print('docker' in sys.modules)\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test", "SANDBOX_BACKEND": "docker",
                               "DOCKER_HOST": "unix:///nonexistent.sock", "DATABASE_URL": "sqlite:///:memory:",
                               "ALLOWED_HOSTS": "testserver"})
    assert proc.stdout.strip().splitlines()[-1] == "False", proc.stderr[-2000:]
