"""`make run`'s terminal stays readable: the periodic sweeps' routine lines (beat's "Sending due task", the
worker's "received" and "succeeded") are logged at DEBUG (config.logging.QuietPeriodicTasks on the console
handler of LOGGING), while the grading task's lines and a sweep's own warnings and errors stay."""

from __future__ import annotations

import datetime as dt
import io
import logging
import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest
from celery import Celery
from django.conf import settings
from django.utils import timezone

from config.logging import QuietPeriodicTasks
from labs.models import Lab, Submission
from labs.services import MAX_GRADING_ATTEMPTS
from quizzes.models import Attempt
from quizzes.services.attempts import attempt_start
from tests.conftest import ROOT, database_url, stop, wait_for
from tests.factories import user_make
from tests.quizzes.test_attempts import quiz_make

SWEEPS = ("labs.tasks.sweep_stuck_submissions", "quizzes.tasks.close_overdue_attempts")
LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ (?P<level>[A-Z]+) (?P<logger>[\w.]+): (?P<message>.*)$")


@pytest.fixture
def console():
    """Celery's loggers writing through LOGGING's console filter to a string, at a chosen level."""
    celery = logging.getLogger("celery")
    saved = celery.handlers, celery.level, celery.propagate
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.addFilter(QuietPeriodicTasks())
    celery.handlers, celery.propagate = [handler], False

    def at(level: int) -> io.StringIO:
        celery.setLevel(level)
        return out

    yield at
    celery.handlers, celery.propagate = saved[0], saved[2]
    celery.setLevel(saved[1])


def emit() -> None:
    """What Celery logs for a beat entry, a received task and a succeeded one, with the arguments celery.beat,
    celery.worker.strategy and celery.app.trace pass, for each periodic task and for the grading task."""
    beat, strategy, trace = (logging.getLogger(n) for n in ("celery.beat", "celery.worker.strategy",
                                                             "celery.app.trace"))
    for task in (*SWEEPS, "labs.tasks.grade_submission"):
        beat.info("Scheduler: Sending due task %s (%s)", "entry", task)
        strategy.info("Task %(name)s[%(id)s] received", {"name": task, "id": "1"})
        trace.info("Task %(name)s[%(id)s] succeeded in %(runtime)ss: %(return_value)s",
                   {"name": task, "id": "1", "runtime": 0.1, "return_value": "0"})
    trace.warning("Task %(name)s[%(id)s] retry", {"name": SWEEPS[0], "id": "2"})


def test_the_filter_knows_the_periodic_tasks_from_the_beat_schedule():
    assert QuietPeriodicTasks().periodic_tasks() == {e["task"] for e in settings.CELERY_BEAT_SCHEDULE.values()}
    assert set(SWEEPS) <= QuietPeriodicTasks().periodic_tasks()


def test_at_info_the_sweeps_routine_lines_go_and_the_grading_lines_stay(console):
    out = console(logging.INFO)
    emit()
    text = out.getvalue()
    assert "close_overdue_attempts" not in text and "sweep_stuck_submissions[1]" not in text
    assert "(labs.tasks.sweep_stuck_submissions)" not in text
    assert text.count("INFO celery.") == 3 and text.count("labs.tasks.grade_submission") == 3
    assert "WARNING celery.app.trace: Task labs.tasks.sweep_stuck_submissions[2] retry" in text  # not routine


def test_at_debug_the_sweeps_lines_are_there_as_debug_lines(console):
    out = console(logging.DEBUG)
    emit()
    text = out.getvalue()
    for task in SWEEPS:
        assert f"DEBUG celery.beat: Scheduler: Sending due task entry ({task})" in text
        assert f"DEBUG celery.worker.strategy: Task {task}[1] received" in text
        assert f"DEBUG celery.app.trace: Task {task}[1] succeeded" in text
    assert "INFO celery.app.trace: Task labs.tasks.grade_submission[1] succeeded" in text


def run_sh_worker_argv() -> list[str]:
    """The worker command line of scripts/run.sh, as it is written there."""
    line = next(x for x in (ROOT / "scripts/run.sh").read_text().splitlines() if x.startswith(".venv/bin/celery "))
    argv = shlex.split(line.rstrip("& "))
    return [str(Path(sys.executable).parent / "celery"), *argv[1:]]


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_a_worker_with_beat_started_as_make_run_starts_it_keeps_the_sweeps_off_the_terminal(tmp_path):
    """The worker and beat of scripts/run.sh (dev settings, DEBUG off, the filesystem broker) for 16 s with the
    sweeps every 2 s: both sweeps run (an overdue attempt is closed by the sweep, a submission stuck past its
    last grading attempt is given up) and none of their routine lines is printed, while a grading task's
    "received" and "succeeded" lines and the sweep's own error line are."""
    user = user_make("ana")
    attempt = attempt_start(user=user, quiz=quiz_make(time_limit_s=1), now=timezone.now() - dt.timedelta(minutes=5))
    lab = Lab.objects.create(slug="quiet-lab", title="Quiet", statement="s", starter="x")
    stuck = Submission.objects.create(user=user, lab=lab, code="x", status=Submission.Status.RUNNING,
                                      attempts=MAX_GRADING_ATTEMPTS)
    Submission.objects.filter(id=stuck.id).update(updated_at=timezone.now() - dt.timedelta(minutes=5))

    var = tmp_path / "var"
    env = {k: v for k, v in os.environ.items()
           if k not in {"TEST_DATABASE_URL", "LOG_LEVEL", "CELERY_BROKER_URL", "LOG_FORMAT"}}
    env.update(DJANGO_SETTINGS_MODULE="config.settings.dev", DEBUG="false", DATABASE_URL=database_url(),
               QUANTPREP_VAR_DIR=str(var), SANDBOX_BACKEND="local", PYTHONUNBUFFERED="1",
               QUIZ_SWEEP_EVERY_S="2", LAB_SWEEP_EVERY_S="2", LAB_STUCK_AFTER_S="60",
               SANDBOX_WARM_LABS="fp8-e4m3")  # one lab's warm-up, not six: its lines are the same, its CPU a tenth
    log_path = tmp_path / "worker.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(run_sh_worker_argv(), cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        wait_for(lambda: " ready." in log_path.read_text(), timeout=90, what="the worker", proc=proc)
        started = time.monotonic()
        broker = var / "broker"
        probe = Celery("probe", broker="filesystem://", set_as_current=False)
        probe.conf.broker_transport_options = {"data_folder_in": str(broker), "data_folder_out": str(broker),
                                               "control_folder": str(broker / "control")}
        probe.send_task("labs.tasks.grade_submission", args=[987654], queue="grading")  # no such submission
        closed = wait_for(lambda: Attempt.objects.filter(pk=attempt.pk, closed_by="sweep").first(), timeout=40,
                          what="the quiz sweep to close the overdue attempt", proc=proc)
        given_up = wait_for(lambda: Submission.objects.filter(pk=stuck.pk, status="done").first(), timeout=40,
                            what="the lab sweep to give up the stuck submission", proc=proc)
        time.sleep(max(0.0, 16 - (time.monotonic() - started)))
        assert proc.poll() is None
    finally:
        stop(proc)
    assert closed.status in {"closed", "graded"} and given_up.verdict == "internal_error"

    records = [m.groupdict() for m in map(LINE.match, log_path.read_text().splitlines()) if m]
    assert any(r["message"] == "beat: Starting..." for r in records)  # beat ran, and INFO lines are printed
    assert any(r["level"] == "INFO" and r["message"].endswith(" ready.") for r in records)
    quiet = [r for r in records if "Sending due task" in r["message"] or any(t in r["message"] for t in SWEEPS)]
    assert quiet == []
    grading = [(r["level"], r["logger"]) for r in records if "labs.tasks.grade_submission[" in r["message"]]
    assert ("INFO", "celery.worker.strategy") in grading and ("INFO", "celery.app.trace") in grading
    assert any(r["level"] == "ERROR" and f"submission {stuck.id} gave up" in r["message"] for r in records)
