"""The load test's lost-answer check (bench/load/db.py ``lost_answers``) against a real database: answers
saved through ``answer_save``, as the autosave endpoint saves them, then records as the Locust learners
write them. The check must pass when every acknowledged value is there, and fail for a lost, an older or a
misplaced one."""

import importlib.util
from pathlib import Path

import pytest

from quizzes.models import AttemptAnswer, Quiz
from quizzes.services.attempts import answer_save, attempt_start
from tests.factories import question_make, user_make

spec = importlib.util.spec_from_file_location(
    "bench_load_db", Path(__file__).resolve().parents[2] / "bench" / "load" / "db.py")
load_db = importlib.util.module_from_spec(spec)
spec.loader.exec_module(load_db)

pytestmark = pytest.mark.django_db


@pytest.fixture
def attempts():
    """Two learners with an open timed attempt each; returns [(username, attempt, [part ids])]."""
    question = question_make()
    quiz = Quiz.objects.create(slug="load", title="Load", question_slugs=[question.slug], time_limit_s=3600)
    out = []
    for name in ("ann", "bob"):
        attempt = attempt_start(user=user_make(name), quiz=quiz)
        out.append((name, attempt, [pid for item in attempt.layout for pid in item["parts"]]))
    return out


def _saves(attempts):
    """Three saves per part of each attempt, each value new; every one sent and acknowledged."""
    records, seq = [], 0
    for name, attempt, parts in attempts:
        for part in parts:
            for _ in range(3):
                seq += 1
                value = f"{seq}.5"
                answer_save(attempt=attempt, part_id=part, answer=value)
                record = {"learner": name, "attempt": attempt.id, "part": part, "value": value, "seq": seq}
                records += [{"event": "sent", **record}, {"event": "ack", **record}]
    return records


def _lost(report):
    return report["missing"] + report["mismatched"] + report["wrong_owner"]


def test_every_acknowledged_save_found(attempts):
    records = _saves(attempts)
    report = load_db.lost_answers(records)
    assert report["acknowledged_saves"] == report["saves_sent"] == 12
    assert report["learners"] == 2 and report["attempts"] == 2
    assert report["answers_checked"] == report["found"] == 4
    assert _lost(report) == 0 and report["superseded"] == 0
    assert load_db.check_report(report).endswith("PASS")


def test_a_deleted_row_is_missing(attempts):
    records = _saves(attempts)
    _, attempt, parts = attempts[0]
    AttemptAnswer.objects.filter(attempt=attempt, part_id=parts[0]).delete()
    report = load_db.lost_answers(records)
    assert (report["missing"], report["mismatched"], report["found"]) == (1, 0, 3)
    assert report["examples"][0]["in_database"] is None
    assert load_db.check_report(report).endswith("FAIL")


def test_an_older_value_in_the_row_is_a_mismatch(attempts):
    """The last acknowledged save lost, an earlier one left in place: exactly what the check is for."""
    records = _saves(attempts)
    _, attempt, parts = attempts[1]
    AttemptAnswer.objects.filter(attempt=attempt, part_id=parts[1]).update(answer="older")
    report = load_db.lost_answers(records)
    assert (report["missing"], report["mismatched"], report["found"]) == (0, 1, 3)
    assert report["examples"] == [{"attempt": attempt.id, "part": parts[1], "acknowledged": records[-1]["value"],
                                   "in_database": "older"}]


def test_the_last_ack_counts_whatever_the_file_order(attempts):
    records = _saves(attempts)
    assert _lost(load_db.lost_answers(list(reversed(records)))) == 0


def test_a_later_unacknowledged_save_is_not_a_loss_but_an_unsent_value_is(attempts):
    records = _saves(attempts)
    name, attempt, parts = attempts[0]
    # sent, saved by the server, but the client never saw the answer (a timeout, the run stopping)
    answer_save(attempt=attempt, part_id=parts[0], answer="999.5")
    records.append({"event": "sent", "learner": name, "attempt": attempt.id, "part": parts[0], "value": "999.5",
                    "seq": 999})
    report = load_db.lost_answers(records)
    assert (report["superseded"], report["mismatched"], _lost(report)) == (1, 0, 0)
    # a value nobody sent is a mismatch
    answer_save(attempt=attempt, part_id=parts[0], answer="nobody sent this")
    assert load_db.lost_answers(records)["mismatched"] == 1


def test_a_save_in_another_learners_attempt(attempts):
    records = _saves(attempts)
    for r in records:
        if r["learner"] == "bob":
            r["learner"] = "ann"
    report = load_db.lost_answers(records)
    assert report["wrong_owner"] == 2 and _lost(report) == 2
