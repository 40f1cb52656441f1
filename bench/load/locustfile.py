"""QuantPrep's load test (issue #17): learners in a timed quiz, lab submitters in the background.

``python bench/load/run.py`` starts a production-like stack and runs this file; run on its own against any
QuantPrep (``locust -f bench/load/locustfile.py --host URL``) it needs a users file (``bench/load/db.py
seed``). Environment:

    LOAD_USERS    the users file (JSON: quiz, password, learners, submitters with API tokens, lab)
    LOAD_ACKS     where each learner appends one JSON line per save it sends and per save the server
                  acknowledges (the lost-answer check reads it)
    LOAD_SAMPLES  where every request's time is written at the end (CSV), for exact percentiles
    LOAD_SUMMARY  where the run's times (start, all users spawned, stop) are written at the end (JSON)
    LOAD_SAVE_EVERY_S (10): a learner autosaves every 10 s
    LOAD_SUBMIT_FROM_S, LOAD_SUBMIT_WINDOW_S (30): ... until the end of its exam, a moment drawn at random in
                  the window that opens LOAD_SUBMIT_FROM_S after the start; then it submits, reads the
                  review and is done (the end of an exam: everyone submits within half a minute)
    LOAD_SESSION_SAVES (0): instead, when not 0, submit after about this many autosaves (0.5x to 1.5x),
                  read the review and start another attempt, for as long as the run lasts
    LOAD_LAB_SUBMITTERS (0): how many LabSubmitter users (the rest of ``-u`` are learners)

A **Learner** logs in through the login form (CSRF token from the page, as a browser), opens the quiz page,
starts a timed attempt (or resumes its open one), opens the attempt page, then every 10 s autosaves a new
value to one of its number or formula parts through the page's own endpoint (``/attempts/<id>/answers/
<part>/``, the form's CSRF token in ``X-CSRFToken``, as static/js/attempt.js does), and at the end of its exam
submits the attempt and opens its review. The submit form carries the parts it never autosaved (empty, as a
browser sends untouched fields) and leaves out the autosaved ones, which a browser would send again with
the same value: so every acknowledged autosave has to be in the database on its own for the check to pass.

A **LabSubmitter** posts a known-correct or known-wrong solution of the lab (``fixtures/labs/<lab>/
solutions/``) to ``POST /api/labs/<lab>/submissions`` with its bearer token, polls ``GET /api/submissions/
<id>`` every second until it is graded, and reports the verdict against the expected one as a
``LAB verdict`` entry (a wrong verdict is a failure).
"""

from __future__ import annotations

import csv
import itertools
import json
import os
import random
import re
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import gevent
from locust import HttpUser, events, task
from locust.exception import StopUser

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pages import attempt_parts  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SAVE_EVERY_S = float(os.environ.get("LOAD_SAVE_EVERY_S", "10"))
SESSION_SAVES = int(os.environ.get("LOAD_SESSION_SAVES", "0"))
SUBMIT_FROM_S = float(os.environ.get("LOAD_SUBMIT_FROM_S", "0"))
SUBMIT_WINDOW_S = float(os.environ.get("LOAD_SUBMIT_WINDOW_S", "30"))
TIMEOUT_S = 60
POLL_EVERY_S = 1.0
VERDICT_WAIT_S = 900
TEXT_KINDS = ("numeric", "symbolic")

CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
ATTEMPT_URL = re.compile(r"/attempts/(\d+)/$")



def _load_users() -> dict:
    path = os.environ.get("LOAD_USERS")
    if not path:
        return {"learners": [], "submitters": [], "password": "", "quiz": "", "lab": "int8-asym"}
    return json.loads(Path(path).read_text())


USERS = _load_users()
_learners = iter(USERS["learners"])
_submitters = iter(USERS["submitters"])


# ----------------------------------------------------------------------------- what is recorded


class Recorder:
    """Every request's time (for exact percentiles, written at the end) and the learners' saves (written as
    they happen: a run that dies still leaves what was acknowledged)."""

    def __init__(self):
        self.samples: list[tuple[float, str, str, float, int]] = []  # (start, type, name, ms, ok)
        self.acks = open(os.environ["LOAD_ACKS"], "a") if os.environ.get("LOAD_ACKS") else None  # noqa: SIM115
        self.times: dict[str, float | None] = {"start": None, "spawned": None, "stop": None}
        self.cpu_warnings: list[float] = []
        self.seq = itertools.count(1)

    def save(self, **record) -> None:
        if self.acks is not None:
            self.acks.write(json.dumps(record) + "\n")
            self.acks.flush()


REC = Recorder()


@events.request.add_listener
def _on_request(request_type, name, response_time, exception, start_time=None, **_kw):
    REC.samples.append((start_time or time.time(), request_type, name, response_time, int(exception is None)))


@events.test_start.add_listener
def _on_start(environment, **_kw):
    REC.times["start"] = time.time()
    gevent.spawn(_progress, environment)


@events.spawning_complete.add_listener
def _on_spawned(user_count, **_kw):
    REC.times["spawned"] = time.time()
    print(f"[load] all {user_count} users spawned", flush=True)


@events.cpu_warning.add_listener
def _on_cpu_warning(environment, cpu_usage, **_kw):
    REC.cpu_warnings.append(cpu_usage)


@events.test_stop.add_listener
def _on_stop(environment, **_kw):
    REC.times["stop"] = time.time()
    if os.environ.get("LOAD_SAMPLES"):
        with open(os.environ["LOAD_SAMPLES"], "w", newline="") as handle:
            out = csv.writer(handle)
            out.writerow(["start", "type", "name", "ms", "ok"])
            out.writerows((f"{s:.3f}", t, n, f"{ms:.2f}", ok) for s, t, n, ms, ok in REC.samples)
    if os.environ.get("LOAD_SUMMARY"):
        start = REC.times["start"] or 0
        Path(os.environ["LOAD_SUMMARY"]).write_text(json.dumps({
            **REC.times, "submit_from": start + SUBMIT_FROM_S if not SESSION_SAVES else None,
            "cpu_warnings": REC.cpu_warnings}))
    if REC.acks is not None:
        REC.acks.flush()


def _p95(sorted_ms: list[float]) -> str:
    return f"{sorted_ms[min(len(sorted_ms) - 1, int(0.95 * len(sorted_ms)))]:.0f} ms" if sorted_ms else "-"


def _progress(environment, every_s: float = 15.0) -> None:
    """One line every 15 s: users, autosaves and their p95 in the last interval, failures so far."""
    seen = 0
    while True:
        gevent.sleep(every_s)
        new = REC.samples[seen:]
        seen += len(new)
        saves = sorted(ms for _, _, n, ms, _ in new if n == "autosave")
        pages = sorted(ms for _, t, n, ms, _ in new if n.startswith("page"))
        failed = sum(1 for *_, ok in REC.samples if not ok)
        runner = environment.runner
        print(f"[load] {time.time() - (REC.times['start'] or time.time()):5.0f} s  users {runner.user_count:4d}  "
              f"last {every_s:.0f} s: {len(saves)} autosaves p95 {_p95(saves)}, {len(pages)} pages p95 {_p95(pages)}; "
              f"requests {len(REC.samples)}, failed {failed}", flush=True)


# ----------------------------------------------------------------------------- the users


class Browser(HttpUser):
    abstract = True

    def on_start(self):
        self.plain_http = urlsplit(self.host).scheme == "http"

    def keep_cookies(self) -> None:
        """Production sets Secure cookies. Over plain http (a local stack: TLS would end at the proxy in front)
        the client must still send them back, as the browser does over https; requests drops them, and its
        merged per-request jar ignores a policy set on the session's, so the flag is cleared here."""
        if self.plain_http:
            for cookie in self.client.cookies:
                cookie.secure = False

    def page(self, path: str, name: str):
        """GET a page as a browser does; the response, or None when it failed (already reported)."""
        with self.client.get(path, name=name, timeout=TIMEOUT_S, catch_response=True) as r:
            self.keep_cookies()
            if r.status_code != 200:
                r.failure(f"HTTP {r.status_code}")
                return None
            return r

    def post_form(self, path: str, name: str, data, *, referer: str):
        """POST a form without following the redirect (the next page is timed on its own)."""
        with self.client.post(path, name=name, data=data, timeout=TIMEOUT_S, allow_redirects=False,
                              headers={"Referer": self.host.rstrip("/") + referer}, catch_response=True) as r:
            self.keep_cookies()
            if r.status_code not in (302, 303):
                r.failure(f"HTTP {r.status_code} (expected a redirect)")
                return None
            return r


class Learner(Browser):
    """Logs in, then: quiz page, start, attempt page, an autosave every 10 s, submit, review."""

    weight = 1

    def wait_time(self) -> float:
        return self.next_wait

    def on_start(self):
        super().on_start()
        self.rng = random.Random()
        self.next_wait = 0.0
        self.attempt: dict | None = None
        self.logged_in = False
        self.finished = False
        self.username = next(_learners, None)
        if self.username is None:
            print("[load] more learners than the users file holds: this one stops", file=sys.stderr, flush=True)
            raise StopUser()

    @task
    def step(self):
        began = time.monotonic()
        if not self.logged_in:
            self.log_in()
            # learners do not move in step; one who could not log in tries again 10 s later, as a person would
            pause = self.rng.uniform(0, SAVE_EVERY_S) if self.logged_in else SAVE_EVERY_S
        elif self.finished:
            pause = 3600.0  # done: the run's end stops it
        elif self.attempt is None:
            self.open_attempt()
            pause = SAVE_EVERY_S
        elif not self.due():
            self.autosave()
            pause = SAVE_EVERY_S
        else:
            self.submit()
            self.finished = not SESSION_SAVES
            pause = self.rng.uniform(5, 15)  # reading the review
        self.next_wait = max(0.0, pause - (time.monotonic() - began))
        if self.attempt is not None and not SESSION_SAVES:
            self.next_wait = min(self.next_wait, max(0.0, self.attempt["submit_at"] - time.time()))

    def due(self) -> bool:
        """Time to submit: the end of this learner's exam, or the session's last autosave done."""
        if SESSION_SAVES:
            return self.attempt["saves_left"] <= 0
        return time.time() >= self.attempt["submit_at"]

    def log_in(self) -> None:
        login = self.page("/login/", "page: login")
        token = login is not None and CSRF_INPUT.search(login.text)
        if not token:
            return
        done = self.post_form("/login/", "action: log in", {
            "username": self.username, "password": USERS["password"], "csrfmiddlewaretoken": token.group(1),
            "next": ""}, referer="/login/")
        if done is None:
            return
        if "/login/" in done.headers.get("Location", "/login/"):
            print(f"[load] {self.username} could not log in: wrong password?", file=sys.stderr, flush=True)
            raise StopUser()
        self.logged_in = True
        self.page(done.headers["Location"], "page: home")

    def open_attempt(self) -> None:
        quiz = USERS["quiz"]
        detail = self.page(f"/quizzes/{quiz}/", "page: quiz")
        if detail is None:
            return
        resume = re.search(r'href="(/attempts/\d+/)"[^>]*>Resume', detail.text)
        if resume:
            where = resume.group(1)
        else:
            token = CSRF_INPUT.search(detail.text)
            started = token and self.post_form(f"/quizzes/{quiz}/start/", "action: start", {
                "csrfmiddlewaretoken": token.group(1), "mode": "timed"}, referer=f"/quizzes/{quiz}/")
            if not started:
                return
            where = urlsplit(started.headers["Location"]).path
        take = self.page(where, "page: attempt")
        match = ATTEMPT_URL.search(where)
        if take is None or not match:
            return
        parts = attempt_parts(take.text)
        targets = [p for p in parts if p[1] in TEXT_KINDS]
        token = CSRF_INPUT.search(take.text)
        if not targets or not token:
            print(f"[load] {where}: no number or formula part to autosave", file=sys.stderr, flush=True)
            return
        saves = max(1, round(SESSION_SAVES * self.rng.uniform(0.5, 1.5)))
        submit_at = (REC.times["start"] or time.time()) + SUBMIT_FROM_S + self.rng.uniform(0, SUBMIT_WINDOW_S)
        self.attempt = {"id": int(match.group(1)), "path": where, "csrf": token.group(1), "parts": parts,
                        "targets": targets, "saved": set(), "saves_left": saves, "submit_at": submit_at}

    def autosave(self) -> None:
        attempt = self.attempt
        attempt["saves_left"] -= 1
        part_id, kind, url = self.rng.choice(attempt["targets"])
        seq = next(REC.seq)
        # a new value every time, so that a lost last save cannot hide behind an equal earlier one
        value = (f"{seq}.{self.rng.randrange(10**5):05d}" if kind == "numeric"
                 else f"{seq} + 1/{self.rng.randrange(2, 1000)}")
        record = {"learner": self.username, "attempt": attempt["id"], "part": part_id, "value": value, "seq": seq}
        REC.save(event="sent", **record)
        with self.client.post(url, name="autosave", data={"answer": value}, timeout=TIMEOUT_S,
                              headers={"X-CSRFToken": attempt["csrf"], "Referer": self.host.rstrip("/") + attempt["path"]},
                              catch_response=True) as r:
            self.keep_cookies()
            try:
                saved = r.status_code == 200 and r.json().get("saved") is True
            except ValueError:
                saved = False
            if not saved:
                r.failure(f"HTTP {r.status_code}: not saved")
                if r.status_code == 409:  # closed: what a browser does next is open the review
                    self.attempt = None
                return
        REC.save(event="ack", **record)
        attempt["saved"].add(part_id)

    def submit(self) -> None:
        attempt, self.attempt = self.attempt, None
        data: list[tuple[str, str]] = [("csrfmiddlewaretoken", attempt["csrf"])]
        for part_id, kind, _url in attempt["parts"]:
            if part_id not in attempt["saved"] and kind not in ("single_choice", "multiple_choice"):
                data.append((f"part-{part_id}", ""))  # an untouched field; unchecked boxes send nothing
        done = self.post_form(f"/attempts/{attempt['id']}/submit/", "action: submit", data, referer=attempt["path"])
        if done is not None:
            self.page(urlsplit(done.headers["Location"]).path, "page: review")


class LabSubmitter(Browser):
    """Submits a known-correct or known-wrong solution through the API, waits for the verdict, again."""

    fixed_count = int(os.environ.get("LOAD_LAB_SUBMITTERS", "0"))

    def wait_time(self) -> float:
        return self.rng.uniform(2, 5)

    def on_start(self):
        super().on_start()
        self.rng = random.Random()
        account = next(_submitters, None)
        if account is None:
            print("[load] more lab submitters than the users file holds: this one stops", file=sys.stderr, flush=True)
            raise StopUser()
        self.headers = {"Authorization": f"Bearer {account['token']}"}
        lab = USERS.get("lab", "int8-asym")
        self.lab = lab
        solutions = ROOT / "fixtures" / "labs" / lab / "solutions"
        self.solutions = [(p.read_text(), "accepted") for p in sorted((solutions / "correct").glob("*.py"))]
        for p in sorted((solutions / "wrong").glob("*.py")):
            expect = re.search(r"^# expect: (\w+)", p.read_text(), re.M)
            self.solutions.append((p.read_text(), expect.group(1) if expect else "wrong_answer"))
        if not self.solutions:
            raise StopUser()

    @task
    def submit_and_wait(self):
        code, expected = self.rng.choice(self.solutions)
        sent = time.time()
        with self.client.post(f"/api/labs/{self.lab}/submissions", name="api: submit lab", json={"code": code},
                              headers=self.headers, timeout=TIMEOUT_S, catch_response=True) as r:
            if r.status_code == 429:  # our own earlier one still waits: not an error of the service
                r.success()
                gevent.sleep(float(r.headers.get("Retry-After", "5")))
                return
            if r.status_code != 201:
                r.failure(f"HTTP {r.status_code}")
                return
            submission = r.json()["id"]
        while time.time() - sent < VERDICT_WAIT_S:
            gevent.sleep(POLL_EVERY_S)
            with self.client.get(f"/api/submissions/{submission}", name="api: poll", headers=self.headers,
                                 timeout=TIMEOUT_S, catch_response=True) as r:
                if r.status_code != 200:
                    r.failure(f"HTTP {r.status_code}")
                    continue
                body = r.json()
            if body["status"] == "done":
                ok = body["verdict"] == expected
                events.request.fire(request_type="LAB", name="lab: submit to verdict", start_time=sent,
                                    response_time=(time.time() - sent) * 1000, response_length=0, context={},
                                    exception=None if ok else AssertionError(
                                        f"verdict {body['verdict']}, expected {expected}"))
                return
        events.request.fire(request_type="LAB", name="lab: submit to verdict", start_time=sent,
                            response_time=(time.time() - sent) * 1000, response_length=0, context={},
                            exception=TimeoutError(f"no verdict in {VERDICT_WAIT_S} s"))
