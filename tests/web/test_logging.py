"""Production logs are one JSON object per line, in a fresh process started as a deployment starts one."""

from __future__ import annotations

import json

from tests.web.test_safe_defaults import GOOD_KEY, python

LOG = """
import logging, config.wsgi
log = logging.getLogger("labs.tasks")
log.warning("graded %s", 7, extra={"submission": 7, "verdict": "accepted"})
try:
    1 / 0
except ZeroDivisionError:
    log.exception("grading failed")
"""


def test_production_logs_one_json_object_per_line_with_extra_fields_and_tracebacks():
    done = python(LOG, SECRET_KEY=GOOD_KEY, SANDBOX_BACKEND="docker")
    assert done.returncode == 0, done.stderr
    lines = done.stderr.strip().splitlines()
    records = [json.loads(line) for line in lines]  # every line parses: nothing printed outside the format
    graded, failed = records[-2:]
    assert graded["level"] == "WARNING" and graded["logger"] == "labs.tasks"
    assert graded["message"] == "graded 7" and graded["submission"] == 7 and graded["verdict"] == "accepted"
    assert graded["time"].endswith("+00:00")
    assert failed["message"] == "grading failed" and "ZeroDivisionError" in failed["exception"]


def test_log_format_plain_keeps_the_readable_lines():
    done = python(LOG, SECRET_KEY=GOOD_KEY, SANDBOX_BACKEND="docker", LOG_FORMAT="plain")
    assert done.returncode == 0, done.stderr
    assert "WARNING labs.tasks: graded 7" in done.stderr
    assert not done.stderr.lstrip().startswith("{")


def test_an_unknown_log_format_is_refused_by_name():
    done = python(LOG, SECRET_KEY=GOOD_KEY, SANDBOX_BACKEND="docker", LOG_FORMAT="xml")
    assert done.returncode != 0 and "LOG_FORMAT must be plain or json, not 'xml'" in done.stderr
