"""Grading a lab's earlier submissions again after the lab changed: which ones (graded before the lab's
current version, each student's latest or every one), the dry run, the apply (old grades kept, the rows
queued), idempotence, a new content hash when the checker's source changes, and one re-run end to end on a
real Celery worker through Redis, whose result the learner's page shows beside the old one."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from content.labs import lab_folder_get, labs_root
from content.load import labs_sync
from labs.models import Lab, LabRerun, Submission, SubmissionRerun
from labs.services import SubmissionRejected, lab_rerun
from tests.e2e.test_submission_flow import logged_in, submit, wait_for_verdict
from tests.factories import user_make

ROOT = Path(__file__).resolve().parents[2]
CORRECT = ROOT / "fixtures/labs/fp8-e4m3/solutions/correct/frexp_round.py"


def run(*args) -> dict:
    out = StringIO()
    call_command(*args, "--json", stdout=out)
    return json.loads(out.getvalue().strip().splitlines()[-1])


def finished(user, lab, at, verdict="accepted", score=80.0) -> Submission:
    return Submission.objects.create(user=user, lab=lab, code="x", status="done", verdict=verdict, score=score,
                                     result={"verdict": verdict}, finished_at=at)


@pytest.fixture
def lab(db):
    labs_sync(root=labs_root())
    return Lab.objects.get(slug="fp8-e4m3")


def new_version(lab: Lab, at) -> Lab:
    Lab.objects.filter(pk=lab.pk).update(content_hash="v2-" + lab.content_hash[:20], updated_at=at)
    return Lab.objects.get(pk=lab.pk)


@pytest.mark.django_db
def test_the_candidates_the_dry_run_the_apply_and_nothing_the_second_time(lab, django_capture_on_commit_callbacks):
    now = timezone.now()
    ann, ben = user_make("ann"), user_make("ben")
    old_first = finished(ann, lab, now - dt.timedelta(days=3), verdict="wrong_answer", score=0.0)
    old_latest = finished(ann, lab, now - dt.timedelta(days=2))
    ben_old = finished(ben, lab, now - dt.timedelta(days=2), verdict="runtime_error", score=0.0)
    lab = new_version(lab, now - dt.timedelta(days=1))
    after = finished(ben, lab, now)  # graded by the new version: never a candidate
    Submission.objects.create(user=ann, lab=lab, code="x")  # queued: not finished

    dry = run("rerun_lab", "fp8-e4m3")
    assert dry["applied"] is False and dry["rerun"] is None
    assert [s["id"] for s in dry["submissions"]] == [old_latest.id]  # ann's latest; ben's latest is new
    every = run("rerun_lab", "fp8-e4m3", "--all")
    assert {s["id"] for s in every["submissions"]} == {old_first.id, old_latest.id, ben_old.id}
    assert not LabRerun.objects.exists()

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        applied = run("rerun_lab", "fp8-e4m3", "--all", "--apply", "--reason", "the top binade's tie was wrong")
    assert applied["applied"] is True and len(callbacks) == 1  # the queueing, once the rows are committed
    rerun = LabRerun.objects.get(pk=applied["rerun"])
    assert rerun.reason == "the top binade's tie was wrong" and rerun.content_hash == lab.content_hash
    kept = {r.submission_id: (r.old_verdict, r.old_score) for r in SubmissionRerun.objects.filter(rerun=rerun)}
    assert kept == {old_first.id: ("wrong_answer", 0.0), old_latest.id: ("accepted", 80.0),
                    ben_old.id: ("runtime_error", 0.0)}
    for s in Submission.objects.filter(id__in=kept):
        assert (s.status, s.verdict, s.score, s.attempts, s.finished_at) == ("queued", "", None, 0, None)
        assert s.progress.startswith("queued to be graded again")
    assert Submission.objects.get(pk=after.pk).verdict == "accepted"  # untouched

    # idempotent: the same version again finds nothing, even once the re-runs are graded
    Submission.objects.filter(id__in=kept).update(status="done", verdict="accepted", finished_at=timezone.now())
    assert run("rerun_lab", "fp8-e4m3", "--all", "--apply")["rerun"] is None
    assert LabRerun.objects.count() == 1


@pytest.mark.django_db
def test_refusals(lab):
    with pytest.raises(CommandError, match="no lab"):
        run("rerun_lab", "nope")
    with pytest.raises(SubmissionRejected, match="why"):
        lab_rerun(lab=lab, reason="  ")


def test_the_checkers_source_is_part_of_the_labs_version(tmp_path, monkeypatch):
    """A change to the problem module (the checker) alone gives the lab a new content hash."""
    import content.labs as content

    folder = lab_folder_get("fp8-e4m3")
    before = folder.content_hash
    real = content._module_source
    monkeypatch.setattr(content, "_module_source",
                        lambda name: real(name) + ("\n# changed" if name == folder.meta["problem"] else ""))
    assert folder.content_hash != before
    assert real(folder.meta["problem"]).startswith('"""Problem module')
    assert "def encode_e4m3" in real(folder.meta["reference"])


@pytest.mark.django_db(transaction=True)
@pytest.mark.redis
@pytest.mark.slow
def test_a_rerun_is_graded_by_a_real_worker_and_the_learner_sees_both_grades(celery_worker_process, web_server,
                                                                             stack_env):
    """The learner submits through the web server; the operator runs ``rerun_lab --apply`` as a separate
    process, as on a server; the worker grades it again through Redis."""
    labs_sync(root=labs_root())
    user_make("eve")
    client = logged_in(web_server, "eve")
    path = submit(client, CORRECT.read_text())
    assert wait_for_verdict(client, path)[0] == "accepted"
    submission = Submission.objects.get(pk=int(path.rstrip("/").rsplit("/", 1)[1]))
    lab = new_version(Lab.objects.get(slug="fp8-e4m3"), timezone.now())
    done = subprocess.run([sys.executable, "manage.py", "rerun_lab", lab.slug, "--apply", "--reason",
                           "cases regenerated", "--json"], cwd=ROOT, env=stack_env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1])["submissions"][0]["id"] == submission.id
    assert wait_for_verdict(client, path)[0] == "accepted"
    again = Submission.objects.get(pk=submission.pk)
    assert again.finished_at > submission.finished_at and again.attempts == 1  # graded again, not left as it was
    assert SubmissionRerun.objects.get(submission=submission).old_verdict == "accepted"
    page = client.get(path).text
    # the verdict before the re-run in words, not its key
    assert "Graded again on" in page and "(cases regenerated)" in page and "Before: Accepted" in page
