"""The ``quantprep`` client. In-process tests drive ``cli.main.main`` against the real API through a
transport that hands httpx's requests to Django's test client; the end-to-end test runs the installed
``.venv/bin/quantprep`` against a web server and a Celery worker on Redis."""

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from django.test import Client as DjangoClient

from cli import main as cli_main
from cli.main import ProgressBar, main, progress_fraction, render_submission, resolve_token, resolve_url
from cohorts.tokens import token_create, token_revoke
from labs import services
from labs.grading import GradeReport, Verdict
from labs.models import Submission
from tests.api.conftest import labs_sync_fp8
from tests.factories import user_make

ROOT = Path(__file__).resolve().parents[2]
CORRECT = ROOT / "fixtures/labs/fp8-e4m3/solutions/correct/frexp_round.py"
QUANTPREP = Path(sys.executable).parent / "quantprep"


class DjangoTransport(httpx.BaseTransport):
    """httpx → django.test.Client, so the CLI talks to the real API inside the test's transaction.
    ``before`` is called with each request first (to move a submission along, say)."""

    def __init__(self, before=None):
        self.django, self.before, self.requests = DjangoClient(), before, []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.before:
            self.before(request)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in {"host", "content-length"}}
        response = self.django.generic(request.method, request.url.raw_path.decode(), data=request.read(),
                                       content_type=request.headers.get("content-type", ""), headers=headers)
        return httpx.Response(response.status_code, headers=dict(response.items()), content=response.content)


def run(argv, transport=None):
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, transport=transport, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def config(monkeypatch, tmp_path):
    """No token or URL from the machine running the tests."""
    for name in ("QUANTPREP_URL", "QUANTPREP_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setattr(cli_main.time, "sleep", lambda seconds: None)
    return tmp_path / "config" / "quantprep" / "token"


@pytest.fixture
def stack(lab, config, monkeypatch):
    """A lab, a student with a token in QUANTPREP_TOKEN, and no broker (queued tasks are recorded)."""
    user = user_make("ann")
    token, plaintext = token_create(user=user)
    monkeypatch.setenv("QUANTPREP_TOKEN", plaintext)
    sent = []
    monkeypatch.setattr(services, "submission_enqueue", lambda submission_id, delay_s=0: sent.append(submission_id))
    return {"user": user, "token": token, "plaintext": plaintext, "sent": sent}


def graded(submission_id: int, verdict: str = Verdict.ACCEPTED) -> None:
    cases = [{"name": "small-odd", "passed": True, "message": "max error 0 ulp", "metrics": {}},
             {"name": "binades", "passed": verdict == Verdict.ACCEPTED,
              "message": "exact\nsecond line" if verdict == Verdict.ACCEPTED else "top binades overflow\nmore",
              "metrics": {}}]
    report = GradeReport(verdict, score=87.5 if verdict == Verdict.ACCEPTED else 0.0, correct=True, cases=cases,
                         speedup=1.4321, diagnostics="All 2 cases passed.")
    services.submission_record_result(submission_id=submission_id, report=report)


# --- configuration ------------------------------------------------------------------------------

def test_the_flag_wins_over_the_environment_which_wins_over_the_file(config, monkeypatch):
    config.parent.mkdir(parents=True)
    config.write_text("qp_from-file\n")
    config.chmod(0o600)
    err = io.StringIO()
    assert resolve_token(None, err=err) == "qp_from-file"
    monkeypatch.setenv("QUANTPREP_TOKEN", "qp_from-env")
    assert resolve_token(None, err=err) == "qp_from-env"
    assert resolve_token("qp_from-flag", err=err) == "qp_from-flag"
    assert err.getvalue() == ""
    assert resolve_url(None) == "http://127.0.0.1:8000"
    monkeypatch.setenv("QUANTPREP_URL", "http://example.test:9/")
    assert resolve_url(None) == "http://example.test:9" and resolve_url("http://flag.test") == "http://flag.test"


def test_a_token_file_others_can_read_is_used_with_a_warning(config, monkeypatch):
    config.parent.mkdir(parents=True)
    config.write_text("qp_from-file")
    config.chmod(0o644)
    err = io.StringIO()
    assert resolve_token(None, err=err) == "qp_from-file" and "chmod 600" in err.getvalue()


def test_no_token_anywhere_is_exit_1_with_advice(config):
    code, out, err = run(["labs"])
    assert code == 1 and out == "" and "no API token" in err and "QUANTPREP_TOKEN" in err


def test_usage_errors_exit_2(config, monkeypatch, capsys):
    for argv in ([], ["submit", "fp8-e4m3"], ["status", "not-a-number"], ["frobnicate"]):
        with pytest.raises(SystemExit) as stopped:
            main(argv)
        assert stopped.value.code == 2
    monkeypatch.setenv("QUANTPREP_TOKEN", "qp_x")
    code, _, err = run(["submit", "fp8-e4m3", "/no/such/file.py"], transport=httpx.MockTransport(lambda r: None))
    assert code == 2 and "cannot read /no/such/file.py" in err


def test_an_unreachable_server_is_exit_1_without_a_traceback(config):
    def refuse(request):
        raise httpx.ConnectError("Connection refused", request=request)

    code, out, err = run(["--token", "qp_x", "labs"], transport=httpx.MockTransport(refuse))
    assert code == 1 and "cannot reach the QuantPrep server at http://127.0.0.1:8000" in err
    assert "Traceback" not in err


def test_a_server_that_is_not_quantprep_is_exit_1(config):
    page = httpx.MockTransport(lambda r: httpx.Response(200, text="<html>hello</html>",
                                                        headers={"content-type": "text/html"}))
    code, _, err = run(["--token", "qp_x", "--url", "https://elsewhere.test", "labs"], transport=page)
    assert code == 1 and "is https://elsewhere.test a QuantPrep server?" in err


def test_the_token_never_goes_over_plain_http_to_another_machine_unless_allowed(config, monkeypatch):
    sent = []

    def record(request):
        sent.append(request.headers.get("authorization"))
        return httpx.Response(200, json=[])

    code, _, err = run(["--token", "qp_secret", "--url", "http://school.example", "labs"],
                       transport=httpx.MockTransport(record))
    assert code == 2 and "refusing to send your API token over plain http to school.example" in err
    assert sent == []  # nothing left the machine
    code, _, err = run(["--token", "qp_secret", "--url", "ftp://school.example", "labs"],
                       transport=httpx.MockTransport(record))
    assert code == 2 and "must start with https://" in err and sent == []
    assert run(["--token", "qp_secret", "--url", "http://localhost:8000", "labs"],
               transport=httpx.MockTransport(record))[0] == 0
    assert run(["--token", "qp_secret", "--url", "http://school.example", "labs", "--allow-http"],
               transport=httpx.MockTransport(record))[0] == 0
    monkeypatch.setenv("QUANTPREP_ALLOW_HTTP", "1")
    assert run(["--token", "qp_secret", "--url", "http://school.example", "labs"],
               transport=httpx.MockTransport(record))[0] == 0
    assert sent == ["Bearer qp_secret"] * 3


# --- progress -----------------------------------------------------------------------------------

def test_the_progress_fraction_follows_the_stages_and_cases():
    steps = [("queued", "queued"), ("preparing", "preparing"), ("running", "timing the reference"),
             ("running", "timing case 1 of 2"), ("running", "running"), ("running", "running case 1 of 4"),
             ("running", "running case 4 of 4"), ("running", "timing case 2 of 2"), ("scoring", "scoring"),
             ("done", "done")]
    ran, fractions = False, []
    for status, text in steps:
        ran = ran or text.startswith("running")
        fractions.append(progress_fraction(status, text, ran=ran))
    assert fractions == sorted(fractions) and fractions[0] == 0 and fractions[-1] == 1
    assert progress_fraction("running", "running case 2 of 4", ran=True) == pytest.approx(0.5)


def test_the_bar_prints_one_line_per_change_when_stderr_is_not_a_terminal():
    stream = io.StringIO()
    bar = ProgressBar(stream, width=10)
    for text in ("queued", "queued", "running case 1 of 2", "running case 2 of 2", "scoring"):
        bar.update({"status": "running", "progress": text}, 1.0)
    bar.close()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 4 and lines[1] == "[#####.....]  50% running case 1 of 2"
    assert lines[3].startswith("[##########]  95% scoring")


def test_the_bar_tells_the_submissions_timings_from_the_references_when_it_misses_the_run():
    stream = io.StringIO()
    bar = ProgressBar(stream, width=10)
    for text in ("timing case 2 of 2", "timing case 1 of 2"):
        bar.update({"status": "running", "progress": text}, 1.0)
    assert stream.getvalue().splitlines()[-1] == "[########..]  80% timing case 1 of 2"


def test_the_verdict_table_shows_each_case_and_the_score_and_a_speedup_only_when_accepted():
    text = render_submission({"id": 7, "lab": "fp8-e4m3", "status": "done", "verdict": "wrong_answer",
                              "score": 0.0, "result": {"speedup": None, "diagnostics": "1 of 2 cases failed.",
                                                       "cases": [{"name": "a", "passed": True, "message": ""},
                                                                 {"name": "tails", "passed": False,
                                                                  "message": "bad tail\nline two"}]}})
    assert "verdict: Wrong Answer" in text and "tails  FAILED  bad tail" in text and "line two" not in text
    assert "a      passed" in text and "speedup" not in text and "score: 0" in text
    accepted = render_submission({"id": 8, "lab": "fp8-e4m3", "status": "done", "verdict": "accepted", "score": 80.0,
                                  "result": {"speedup": None, "cases": []}})
    assert "speedup: not measured, so no speed points" in accepted and "score: 80" in accepted
    pending = render_submission({"id": 7, "lab": "fp8-e4m3", "status": "running", "progress": "running case 1 of 3"})
    assert pending == "submission 7 · fp8-e4m3: running (running case 1 of 3)\n"


# --- commands against the real API ---------------------------------------------------------------

def test_labs_lists_the_catalogue(stack):
    code, out, err = run(["labs"], transport=DjangoTransport())
    assert code == 0 and err == ""
    assert any(line.startswith("fp8-e4m3 ") for line in out.splitlines())
    code, out, _ = run(["labs", "--json"], transport=DjangoTransport())
    assert "fp8-e4m3" in [lab["slug"] for lab in json.loads(out)]


def test_submit_waits_shows_the_progress_and_prints_the_verdict_table(stack, tmp_path,
                                                                      django_capture_on_commit_callbacks):
    source = tmp_path / "mine.py"
    source.write_text(CORRECT.read_text())
    stages = iter([{"stage": "preparing"}, {"stage": "running", "case": 1, "of": 2},
                   {"stage": "running", "case": 2, "of": 2}, {"stage": "scoring"}])

    def advance(request):  # each poll moves the submission one step, as the worker would
        submission = Submission.objects.order_by("id").last()
        if request.method == "GET" and submission is not None and "/api/submissions/" in request.url.path:
            step = next(stages, None)
            if step is None:
                graded(submission.id)
            else:
                services.submission_progress(submission_id=submission.id, fields=step)

    transport = DjangoTransport(before=advance)
    with django_capture_on_commit_callbacks(execute=True):
        code, out, err = run(["submit", "fp8-e4m3", str(source)], transport=transport)
    submission = Submission.objects.get()
    assert code == 0, err
    assert submission.code == CORRECT.read_text() and stack["sent"] == [submission.id]
    assert f"submission {submission.id}" in err
    assert "running case 1 of 2" in err and "scoring" in err and "Traceback" not in err
    assert "verdict: Accepted" in out and "small-odd  passed  max error 0 ulp" in out
    assert "binades    passed  exact" in out and "second line" not in out
    assert "speedup: 1.43x" in out and "score: 87.5" in out
    assert all(r.headers["authorization"] == f"Bearer {stack['plaintext']}" for r in transport.requests)

    code, out, _ = run(["status", str(submission.id), "--json"], transport=DjangoTransport())
    body = json.loads(out)
    assert code == 0 and body["verdict"] == "accepted" and body["result"]["speedup"] == 1.4321


def test_submit_json_prints_the_final_submission_and_a_wrong_answer_still_exits_0(stack, tmp_path):
    source = tmp_path / "mine.py"
    source.write_text("def f(x):\n    return x\n")

    def finish(request):
        submission = Submission.objects.first()
        if request.method == "GET" and submission:
            graded(submission.id, Verdict.WRONG_ANSWER)

    code, out, err = run(["submit", "fp8-e4m3", str(source), "--json", "-q"], transport=DjangoTransport(finish))
    body = json.loads(out)
    assert code == 0 and body["verdict"] == "wrong_answer" and body["status"] == "done"
    assert "[" not in err  # -q: no bar


def test_submit_no_wait_prints_the_id(stack, tmp_path):
    source = tmp_path / "mine.py"
    source.write_text("x = 1\n")
    code, out, _ = run(["submit", "fp8-e4m3", str(source), "--no-wait"], transport=DjangoTransport())
    assert code == 0 and out.strip() == str(Submission.objects.get().id)


def test_status_of_a_submission_in_progress_and_of_someone_elses(stack, lab):
    mine = services.submission_create(user=stack["user"], lab=lab, code="x = 1")
    services.submission_progress(submission_id=mine.id, fields={"stage": "running", "case": 2, "of": 5})
    code, out, _ = run(["status", str(mine.id)], transport=DjangoTransport())
    assert code == 0 and out == f"submission {mine.id} · fp8-e4m3: running (running case 2 of 5)\n"
    theirs = services.submission_create(user=user_make("bob"), lab=mine.lab, code="x = 2")
    code, out, err = run(["status", str(theirs.id)], transport=DjangoTransport())
    assert code == 1 and out == "" and f"No submission {theirs.id}." in err


def test_rejected_submissions_unknown_labs_and_dead_tokens_are_exit_1(stack, tmp_path):
    empty = tmp_path / "empty.py"
    empty.write_text("\n")
    code, _, err = run(["submit", "fp8-e4m3", str(empty)], transport=DjangoTransport())
    assert code == 1 and "The submission is empty." in err
    code, _, err = run(["submit", "no-such-lab", str(CORRECT)], transport=DjangoTransport())
    assert code == 1 and "no lab called 'no-such-lab'" in err
    token_revoke(token=stack["token"])
    code, _, err = run(["labs"], transport=DjangoTransport())
    assert code == 1 and "the server refused the token" in err and "expired or revoked" in err
    assert Submission.objects.count() == 0


def test_the_grading_timeout_is_exit_1_with_the_way_back(stack, tmp_path):
    source = tmp_path / "mine.py"
    source.write_text("x = 1\n")
    code, _, err = run(["submit", "fp8-e4m3", str(source), "--wait-timeout", "0"], transport=DjangoTransport())
    submission_id = Submission.objects.get().id
    assert code == 1 and f"quantprep status {submission_id}" in err


# --- end to end ----------------------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
@pytest.mark.redis
@pytest.mark.slow
def test_the_installed_cli_submits_to_a_real_server_and_worker(celery_worker_process, web_server, tmp_path):
    assert QUANTPREP.exists(), "pip install -e . puts the quantprep script next to the interpreter"
    labs_sync_fp8(tmp_path / "labs")
    _, plaintext = token_create(user=user_make("carol"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUANTPREP_")}
    env.update(QUANTPREP_URL=web_server, QUANTPREP_TOKEN=plaintext, XDG_CONFIG_HOME=str(tmp_path / "config"))

    def quantprep(*args, timeout=300):
        return subprocess.run([str(QUANTPREP), *args], cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=timeout)

    labs = quantprep("labs")
    assert labs.returncode == 0, labs.stderr
    assert "fp8-e4m3" in labs.stdout

    submitted = quantprep("submit", "fp8-e4m3", "fixtures/labs/fp8-e4m3/solutions/correct/frexp_round.py",
                          timeout=400)
    print(submitted.stderr, submitted.stdout, sep="\n")
    assert submitted.returncode == 0, submitted.stderr
    assert "verdict: Accepted" in submitted.stdout and "Traceback" not in submitted.stderr
    assert "case" in submitted.stdout and "passed" in submitted.stdout and "FAILED" not in submitted.stdout
    assert "speedup:" in submitted.stdout and "score:" in submitted.stdout
    # The bar saw the submission go by (which stages a poll catches depends on the machine's speed).
    assert "] 100% done" in submitted.stderr and "submitted fixtures/labs/fp8-e4m3" in submitted.stderr
    submission = Submission.objects.get()
    assert submission.verdict == "accepted"

    status = quantprep("status", str(submission.id), "--json")
    assert status.returncode == 0, status.stderr
    body = json.loads(status.stdout)
    assert (body["id"], body["status"], body["verdict"]) == (submission.id, "done", "accepted")
    assert body["score"] == submission.score and body["result"]["verdict"] == "accepted"

    refused = quantprep("status", str(submission.id), "--token", "qp_wrong", timeout=60)
    assert refused.returncode == 1 and "refused the token" in refused.stderr and "Traceback" not in refused.stderr


class DropsFirstConnections:
    """A real HTTP server on loopback that closes its first ``drops`` connections without a word (as a
    server closing an idle kept-alive connection does), then answers every request with a submission."""

    def __init__(self, drops: int):
        import socket
        import threading

        self.drops, self.requests = drops, []
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        body = json.dumps({"id": 7, "status": "done", "verdict": "accepted"}).encode()
        while True:
            conn, _ = self.sock.accept()
            with conn:
                request = conn.recv(65536).decode(errors="replace")
                self.requests.append(request.split(" ", 2)[:2])
                if len(self.requests) <= self.drops:
                    continue  # closed without a response
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
                             b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)


def test_a_status_read_lost_to_a_dropped_connection_is_sent_again_but_a_submission_never_is():
    from cli.client import Client, ClientError

    server = DropsFirstConnections(drops=2)
    with Client(server.url, "tok") as client:
        assert client.submission(7)["verdict"] == "accepted"
    assert server.requests == [["GET", "/api/submissions/7"]] * 3

    server = DropsFirstConnections(drops=1)
    with Client(server.url, "tok") as client, pytest.raises(ClientError, match="cannot reach"):
        client.submit("fp8-e4m3", "def f(): pass")
    assert server.requests == [["POST", "/api/labs/fp8-e4m3/submissions"]]  # once: it may have been created

    server = DropsFirstConnections(drops=3)
    with Client(server.url, "tok") as client, pytest.raises(ClientError, match="cannot reach"):
        client.submission(7)
    assert len(server.requests) == 3  # then it gives up, with the same message as before
