"""``manage.py check_answer``: the JSON contract, exit codes, and the stored-part mode."""

import json
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

ROOT = Path(__file__).resolve().parents[2]


def run(*args) -> dict:
    out = StringIO()
    call_command("check_answer", "--json", *args, stdout=out)
    return json.loads(out.getvalue())


def test_json_contract_and_verdicts():
    got = run("--expected", "s*(q - z)", "s q - s z")
    assert got == {"correct": True, "score": 1.0, "feedback": "Correct.", "parsed": "s \\cdot q - s \\cdot z",
                   "error": None}
    assert run("--expected", "sqrt(x^2)", "x")["correct"] is False
    assert run("--expected", "sqrt(x^2)", "--positive", "x", "x")["correct"] is True
    assert run("--expected", "log(x*y)", "log(x) + log(y)")["correct"] is False
    assert run("--expected", "log(x*y)", "--positive", "x y", "log(x) + log(y)")["correct"] is True
    assert run("--expected", "(-1)^(2*n)", "--integer", "n", "1")["correct"] is True
    assert run("--expected", "(-1)^(2*n)", "1")["correct"] is False


def test_answer_starting_with_minus_follows_double_dash():
    assert run("--expected=-x", "--", "-x")["correct"] is True
    assert run("--expected=-x + y", "--", "-x+y")["correct"] is True


def test_symbols_flag_restricts_the_names():
    got = run("--expected", "a*b", "--symbols", "a b", "a c")
    assert got["correct"] is False and got["parsed"] is None
    assert got["error"] == "Unknown name `c` at position 3. You can use: a, b."


def test_numeric_mode_with_tolerances_and_units():
    assert run("--expected", "448", "--test", "numeric", "2^8*1.75")["correct"] is True
    assert run("--expected", "448", "--test", "numeric", "--rtol", "0", "--atol", "0.5", "448.4")["correct"] is True
    assert run("--expected", "448", "--test", "numeric", "--rtol", "0", "449")["correct"] is False
    got = run("--expected", "14", "--test", "numeric", "--unit", "GB", "13.04 GiB")
    assert got["correct"] is True and "Converted 13.04 GiB" in got["feedback"]


def test_validation_error_is_json_not_a_failure():
    got = run("--expected", "x", "x +")
    assert got["correct"] is False and got["score"] == 0.0 and "at position 4" in got["error"]


def test_usage_errors_exit_2():
    for args in (["x"], ["--expected", "x +", "x"], ["--expected", "x", "--question", "q", "--part", "a", "x"],
                 ["--question", "q", "x"]):
        with pytest.raises(CommandError) as info:
            call_command("check_answer", *args, "--json", stdout=StringIO())
        assert info.value.returncode == 2


@pytest.mark.django_db
def test_stored_part_and_missing_part():
    from django.db import connection

    from quizzes.models import Part, Question

    if Part._meta.db_table not in connection.introspection.table_names():
        pytest.skip("quizzes migrations are not there yet")
    question = Question.objects.create(slug="kv-cache", title="KV cache", body="...")
    Part.objects.create(question=question, key="a", kind="numeric", spec={"kind": "numeric", "answer": 14, "unit": "GB"})
    assert run("--question", "kv-cache", "--part", "a", "14 GB")["correct"] is True
    with pytest.raises(CommandError) as info:
        call_command("check_answer", "--question", "kv-cache", "--part", "zz", "14", stdout=StringIO())
    assert info.value.returncode == 2


@pytest.mark.timeout(60)
def test_real_process_exit_codes():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"}
    ok = subprocess.run([sys.executable, "manage.py", "check_answer", "--expected", "2*x", "--json", "--", "-2x"],
                        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["feedback"].startswith("Your answer has the opposite sign")
    bad = subprocess.run([sys.executable, "manage.py", "check_answer", "--json", "x"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2
