"""`make setup`: byte-compile what the service and the suite import, by importing it once.

pip installs with --no-compile, so a fresh venv has no .pyc files, and where PYTHONDONTWRITEBYTECODE is
set every process would compile each module it imports, in memory, at every start (torch alone takes
seconds). Importing decides which modules matter: about 2,300 of the venv's 9,000, written in about 9 s of
CPU (6 s of wall time, torch being imported in a second process), where compileall of the whole venv took
27 s of CPU (docs/benchmarks.md). A module imported later that this missed is compiled, and written, by the
first process of `make run` or `make test` that imports it: both let Python write bytecode."""

import os
import subprocess
import sys
from pathlib import Path

sys.dont_write_bytecode = False  # whatever PYTHONDONTWRITEBYTECODE says: writing them is the point
# torch, a third of the time and imported by nothing below, in a second process beside this one.
torch_import = subprocess.Popen([sys.executable, "-c", "import torch"],
                                env={k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"})
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

import django  # noqa: E402

django.setup()

# The service: every view through the URL conf, the worker's tasks and grading path, the CLI.
import celery.apps.worker  # noqa: E402, F401
import celery.concurrency.prefork  # noqa: E402, F401
import gunicorn.app.wsgiapp  # noqa: E402, F401
import latex2sympy2_extended  # noqa: E402, F401
from django.urls import get_resolver  # noqa: E402

import cli.main  # noqa: E402, F401
import config.celery  # noqa: E402, F401
import labs.tasks  # noqa: E402, F401
import sandbox.docker_backend  # noqa: E402, F401

get_resolver().url_patterns  # noqa: B018 - imports every view

# The suite's own tools.
import hypothesis  # noqa: E402, F401
import playwright.sync_api  # noqa: E402, F401
import pytest  # noqa: E402, F401
import pytest_django  # noqa: E402, F401
import xdist  # noqa: E402, F401

if torch_import.wait() != 0:
    sys.exit("[precompile] import torch failed")
print(f"[precompile] {len(sys.modules)} modules imported, and torch beside them: their bytecode written")
