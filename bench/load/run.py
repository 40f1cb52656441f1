"""QuantPrep's load test (issue #17): N learners in a timed quiz (an autosave every 10 s each) while M lab
submitters keep the grading worker busy, then a check that every acknowledged save is in the database.

Without ``--host`` it starts a production-like stack on this machine and removes it afterwards: a throwaway
PostgreSQL database on the local server, a redis-server on a free port (broker and cache), gunicorn
(``config.wsgi``, production settings, DEBUG off), one Celery worker with beat (the local sandbox unless
``--sandbox docker``); migrations, ``load_content`` and ``collectstatic`` (only when static/ changed), the
learners and lab submitters with their API tokens (``bench/load/db.py seed``); then Locust headless
(``bench/load/locustfile.py``), the lost-answer check (``bench/load/db.py check``) and a report.

    python bench/load/run.py                                   # 300 learners, 5 lab submitters, ~4 min
    python bench/load/run.py --learners 500 --hold 180
    python bench/load/run.py --sweep 100,200,300,500,750       # a table, and where autosave p99 passes 200 ms
    python bench/load/run.py --seed-only --database-url URL --users-file users.json --learners 300
    python bench/load/run.py --host https://quantprep.example --users-file users.json --database-url URL
    python bench/load/run.py --report var/load/<time>              # the report of an earlier run, again

Against a running QuantPrep (``--host``) the users must exist: ``--seed-only`` makes them in its database
(learners in a cohort with a timed quiz, lab submitters with API tokens; the password is DEMO_PASSWORD or
random, written to the users file). Without ``--database-url`` the acknowledged saves are kept in the
results folder but not checked. Results: ``var/load/<time>/`` (Locust's CSVs, every request's time,
the acknowledged saves, the servers' logs, ``report.json``). Exit status 1 when an answer was lost.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
DEFAULT_SERVER = "postgres://quantprep:quantprep@127.0.0.1:5432/postgres"
TARGET_MS = 200.0
STEADY_AFTER_S = 30.0  # the steady state: three save intervals after every learner is spawned and in its attempt
TIMELINE_S = 30.0  # the report's timeline: autosaves and pages per 30 s
T0 = time.monotonic()


def say(message: str) -> None:
    print(f"[{time.monotonic() - T0:6.0f} s] {message}", flush=True)


# ----------------------------------------------------------------------------- arguments


def parse() -> argparse.Namespace:
    cores = os.cpu_count() or 2
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--learners", type=int, default=300, help="simulated learners (default 300)")
    p.add_argument("--lab-submitters", type=int, default=5, help="simulated lab submitters (default 5)")
    p.add_argument("--spawn-rate", type=float, default=5.0, help="users started per second (default 5)")
    p.add_argument("--hold", type=float, default=150.0, help="seconds at full load after the ramp (default 150)")
    p.add_argument("--save-every", type=float, default=10.0, help="seconds between a learner's autosaves (10)")
    p.add_argument("--submit-window", type=float, default=30.0,
                   help="learners submit at random moments in this many seconds after the hold (default 30)")
    p.add_argument("--session-saves", type=int, default=0,
                   help="instead of one attempt submitted at the end: submit after about this many autosaves "
                        "(0.5x to 1.5x), then start another attempt, all run long (default 0: off)")
    p.add_argument("--sweep", help="comma-separated learner counts, each a full run on a fresh database")
    p.add_argument("--host", help="a running QuantPrep to load instead of a local stack (needs --users-file)")
    p.add_argument("--users-file", type=Path, help="the users file (--host: read; --seed-only: written)")
    p.add_argument("--database-url", help="--host: the service's database, for the lost-answer check; "
                                          "--seed-only: where to make the users; local stack: the PostgreSQL "
                                          f"server the throwaway database goes on (default {DEFAULT_SERVER})")
    p.add_argument("--seed-only", action="store_true", help="only make the users (see --database-url)")
    p.add_argument("--workers", type=int, default=2 * cores + 1, help=f"gunicorn workers (default {2 * cores + 1})")
    p.add_argument("--threads", type=int, default=1, help="threads per gunicorn worker; >1 means gthread (default 1)")
    p.add_argument("--celery-concurrency", type=int, default=1, help="grading worker processes (default 1)")
    p.add_argument("--sandbox", choices=("local", "docker"), default="local",
                   help="the worker's sandbox backend (default local: no isolation, fine for our own solutions)")
    p.add_argument("--lab", default="int8-asym", help="the lab the submitters submit to (default int8-asym)")
    p.add_argument("--out", type=Path, help="results folder (default var/load/<time>)")
    p.add_argument("--collectstatic", action="store_true", help="run collectstatic even if staticfiles/ is fresh")
    p.add_argument("--keep-db", action="store_true", help="do not drop the throwaway database at the end")
    p.add_argument("--report", type=Path, metavar="DIR",
                   help="only print the report of an earlier run (or sweep) from its results folder again")
    args = p.parse_args()
    if args.host and not args.users_file:
        p.error("--host needs --users-file (make one with --seed-only)")
    if args.seed_only and not (args.database_url and args.users_file):
        p.error("--seed-only needs --database-url and --users-file")
    if args.sweep and args.host:
        p.error("--sweep starts its own stack for every count: no --host")
    return args


# ----------------------------------------------------------------------------- processes and the database


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, *, timeout: float, what: str, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise SystemExit(f"{what}: the process exited with {proc.returncode}")
        if predicate():
            return
        time.sleep(0.3)
    raise SystemExit(f"timed out after {timeout:.0f} s waiting for {what}")


def stop(proc: subprocess.Popen | None, what: str) -> None:
    """SIGTERM to the process's own session (it was started with start_new_session), then SIGKILL."""
    if proc is None or proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        say(f"{what} did not stop in 20 s: killed")
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def with_db(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/" + name))


def admin_sql(server: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(server, autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql)


def postgres_ready(server: str) -> None:
    """The server answers; if not, and this is Debian's local cluster, start it (pg_ctlcluster)."""
    import psycopg

    try:
        admin_sql(server, "SELECT 1")
        return
    except psycopg.OperationalError as exc:
        if urlsplit(server).hostname not in ("127.0.0.1", "localhost") or not shutil.which("pg_ctlcluster"):
            raise SystemExit(f"PostgreSQL at {server} does not answer: {exc}") from exc
    clusters = sorted(Path("/etc/postgresql").glob("*/main"))
    if not clusters:
        raise SystemExit("PostgreSQL does not answer and no local cluster is configured")
    version = clusters[-1].parent.name
    say(f"PostgreSQL does not answer: pg_ctlcluster {version} main start")
    subprocess.run(["pg_ctlcluster", version, "main", "start"], check=False)
    wait_for(lambda: _answers(server), timeout=30, what="PostgreSQL")


def _answers(server: str) -> bool:
    try:
        admin_sql(server, "SELECT 1")
        return True
    except Exception:  # noqa: BLE001
        return False


def run_logged(argv: list[str], env: dict, log: Path, what: str) -> str:
    """A setup command; its output goes to ``log``; exits with the tail of it if the command fails."""
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True)
    with open(log, "a") as handle:
        handle.write(f"$ {' '.join(argv)}\n{done.stdout}{done.stderr}\n")
    if done.returncode != 0:
        raise SystemExit(f"{what} failed ({done.returncode}):\n{(done.stdout + done.stderr)[-3000:]}")
    return done.stdout


def staticfiles_fresh() -> bool:
    manifest = ROOT / "staticfiles" / "staticfiles.json"
    if not manifest.exists():
        return False
    newest = max((p.stat().st_mtime for p in (ROOT / "static").rglob("*") if p.is_file()), default=0)
    return manifest.stat().st_mtime >= newest


class Stack:
    """redis-server, gunicorn and a Celery worker (with beat) on one database; started and stopped together."""

    def __init__(self, args: argparse.Namespace, env: dict, work: Path):
        self.args, self.env, self.work = args, dict(env), work
        self.procs: dict[str, subprocess.Popen] = {}
        self.url = ""

    def _spawn(self, name: str, argv: list[str]) -> subprocess.Popen:
        log = open(self.work / f"{name}.log", "ab")  # noqa: SIM115 - the child holds it for its life
        proc = subprocess.Popen(argv, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        self.procs[name] = proc
        return proc

    def start(self) -> str:
        redis_port, web_port = free_port(), free_port()
        self.env.update(CELERY_BROKER_URL=f"redis://127.0.0.1:{redis_port}/0",
                        CACHE_URL=f"redis://127.0.0.1:{redis_port}/1")
        binary = shutil.which("redis-server")
        if not binary:
            raise SystemExit("redis-server is not installed (apt-get install -y redis-server)")
        redis = self._spawn("redis", [binary, "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no", "--dir", str(self.work)])
        wait_for(lambda: _redis_answers(redis_port), timeout=20, what="redis-server", proc=redis)
        a = self.args
        gthread = ["--worker-class", "gthread", "--threads", str(a.threads)] if a.threads > 1 else []
        web = self._spawn("gunicorn", [str(BIN / "gunicorn"), "config.wsgi", "--bind", f"127.0.0.1:{web_port}",
                                       "--workers", str(a.workers), *gthread, "--timeout", "60",
                                       "--graceful-timeout", "10"])
        worker_log = self.work / "celery.log"
        worker = self._spawn("celery", [str(BIN / "celery"), "-A", "config", "worker", "--beat", "--concurrency",
                                        str(a.celery_concurrency), "-Q", "grading", "--loglevel", "INFO",
                                        "--without-gossip", "--without-mingle"])
        self.url = f"http://127.0.0.1:{web_port}"
        wait_for(lambda: _http_ok(self.url + "/readyz"), timeout=90, what="gunicorn (/readyz)", proc=web)
        wait_for(lambda: worker_log.exists() and b" ready." in worker_log.read_bytes(), timeout=120,
                 what="the Celery worker", proc=worker)
        return self.url

    def stop(self) -> None:
        for name in ("celery", "gunicorn", "redis"):
            stop(self.procs.get(name), name)

    def pids(self) -> dict[str, int]:
        return {name: p.pid for name, p in self.procs.items() if p.poll() is None}


def _redis_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def warm_up(url: str, users: dict, sessions: int) -> float:
    """Every gunicorn worker serves each kind of request once before the clock starts (a worker's first
    request imports the views, compiles the templates, opens its database connection: 0.4 s instead of
    25 ms for the login page). ``sessions`` logged-in sessions at once, as the warm-up learner: login, home,
    quiz, attempt, one autosave, the API. Returns the seconds it took."""
    import re
    from concurrent.futures import ThreadPoolExecutor

    import requests

    sys.path.insert(0, str(HERE))
    from pages import attempt_parts  # the same reading of the page as the learners'

    token = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
    started = time.monotonic()

    def session(_: int) -> None:
        s = requests.Session()

        def go(method: str, path: str, **kw):
            r = s.request(method, url + path, timeout=60, allow_redirects=False,
                          headers={"Referer": url + "/", **kw.pop("headers", {})}, **kw)
            for cookie in s.cookies:
                cookie.secure = False  # as the locustfile: plain http stands in for the TLS proxy
            return r

        page = go("GET", "/login/")
        go("POST", "/login/", data={"username": users["warmup"], "password": users["password"],
                                    "csrfmiddlewaretoken": token.search(page.text).group(1)})
        go("GET", "/")
        quiz = go("GET", f"/quizzes/{users['quiz']}/")
        where = go("POST", f"/quizzes/{users['quiz']}/start/", data={
            "csrfmiddlewaretoken": token.search(quiz.text).group(1), "mode": "timed"}).headers.get("Location", "")
        take = go("GET", where)
        for _pid, kind, save in attempt_parts(take.text):
            if kind == "numeric":
                go("POST", save, data={"answer": "1"}, headers={"X-CSRFToken": token.search(take.text).group(1)})
                break
        for account in users["submitters"][:1]:
            go("GET", "/api/labs", headers={"Authorization": f"Bearer {account['token']}"})

    with ThreadPoolExecutor(sessions) as pool:
        list(pool.map(session, range(2 * sessions)))
    return time.monotonic() - started


# ----------------------------------------------------------------------------- CPU accounting


def _tree_cpu(pid: int) -> float:
    """CPU seconds of a process and its live descendants, with what their finished children used."""
    import psutil

    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0.0
    for proc in procs:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            t = proc.cpu_times()
            total += t.user + t.system + t.children_user + t.children_system
    return total


def cpu_snapshot(pids: dict[str, int]) -> dict:
    import psutil

    t = psutil.cpu_times()
    busy = t.user + t.nice + t.system + getattr(t, "irq", 0.0) + getattr(t, "softirq", 0.0)  # guest is in user
    snap = {"machine": busy,
            **{name: _tree_cpu(pid) for name, pid in pids.items()}, "postgres": {}}
    for proc in psutil.process_iter(["name"]):
        if proc.info["name"] in ("postgres", "postmaster"):
            with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                c = proc.cpu_times()
                snap["postgres"][proc.pid] = c.user + c.system
    return snap


def cpu_used(before: dict, after: dict, seconds: float, extra: dict[str, float]) -> dict:
    """CPU seconds per component over the run, and the rest of the machine's busy time (other work).
    PostgreSQL's: its processes alive at the end (the stack's connections are kept for 60 s), every
    database's, as the server is shared."""
    used = {k: round(after.get(k, 0.0) - v, 1) for k, v in before.items() if k != "postgres"}
    used["postgres (all databases)"] = round(sum(v - before["postgres"].get(pid, 0.0)
                                                 for pid, v in after["postgres"].items()), 1)
    used.update({k: round(v, 1) for k, v in extra.items()})
    ours = sum(v for k, v in used.items() if k != "machine")
    used["everything else on the machine"] = round(used["machine"] - ours, 1)
    used["wall seconds"] = round(seconds, 1)
    used["cores"] = os.cpu_count()
    return used


# ----------------------------------------------------------------------------- figures


def percentile(sorted_ms: list[float], p: float) -> float | None:
    """Nearest rank: the smallest value with at least p% of the values at or below it."""
    if not sorted_ms:
        return None
    return sorted_ms[max(0, math.ceil(p / 100 * len(sorted_ms)) - 1)]


def figures(samples_path: Path, summary: dict) -> dict:
    import csv

    rows = []
    with open(samples_path) as handle:
        for r in csv.DictReader(handle):
            rows.append((float(r["start"]), r["type"], r["name"], float(r["ms"]), r["ok"] == "1"))
    # The steady state: from 30 s after every learner is spawned and has its attempt open (the ramp's logins
    # and starts done, and what queued up behind them answered) until the first learner may submit.
    steady_to = summary.get("submit_from") or summary.get("stop") or math.inf
    opened = [start + ms / 1000 for start, _, name, ms, _ in rows if name == "page: attempt" and start < steady_to]
    steady_from = max(summary.get("spawned") or summary.get("start") or 0, max(opened, default=0)) + STEADY_AFTER_S

    def stats(select, steady: bool = False) -> dict:
        chosen = [r for r in rows if select(r) and (not steady or steady_from <= r[0] < steady_to)]
        ms = sorted(r[3] for r in chosen)
        return {"n": len(ms), "failed": sum(1 for r in chosen if not r[4]),
                **{f"p{p}": None if (v := percentile(ms, p)) is None else round(v, 1) for p in (50, 95, 99)},
                "max": round(ms[-1], 1) if ms else None}

    http = [r for r in rows if r[1] != "LAB"]
    t0 = summary.get("start") or (rows[0][0] if rows else 0)
    timeline = []
    for k in range(math.ceil(((summary.get("stop") or t0) - t0) / TIMELINE_S)):
        a, b = t0 + k * TIMELINE_S, t0 + (k + 1) * TIMELINE_S
        timeline.append({"from_s": k * TIMELINE_S, "autosave": stats(lambda r, a=a, b=b: r[2] == "autosave"
                                                                     and a <= r[0] < b),
                         "page": stats(lambda r, a=a, b=b: r[2].startswith("page:") and a <= r[0] < b),
                         "failed": sum(1 for r in http if a <= r[0] < b and not r[4])})
    per_name = {}
    for name in sorted({r[2] for r in rows}):
        per_name[name] = stats(lambda r, name=name: r[2] == name)
    return {
        "autosave": stats(lambda r: r[2] == "autosave"),
        "autosave_steady": stats(lambda r: r[2] == "autosave", steady=True),
        "page": stats(lambda r: r[2].startswith("page:")),
        "requests": len(http),
        "failed": sum(1 for r in http if not r[4]),
        "error_rate": round(sum(1 for r in http if not r[4]) / len(http), 5) if http else None,
        "per_name": per_name,
        "timeline": timeline,
        "steady_from_s": round(steady_from - (summary.get("start") or steady_from), 1),
        "steady_to_s": round(min(steady_to, summary.get("stop") or steady_to) - (summary.get("start") or 0), 1),
        "run_s": round((summary.get("stop") or 0) - (summary.get("start") or 0), 1),
    }


def fmt(v) -> str:
    return "-" if v is None else f"{v:.0f}" if v >= 100 else f"{v:.1f}"


def print_report(n: int, report: dict) -> None:
    f = report["figures"]
    a, s, pg = f["autosave"], f["autosave_steady"], f["page"]
    print(f"\n== {n} learners, {report['lab_submitters']} lab submitters; run {f['run_s']} s "
          f"(steady state: {f['steady_from_s']} s to {f['steady_to_s']} s) ==")
    print(f"autosave, whole run : {a['n']:6d} requests  p50 {fmt(a['p50'])} ms  p95 {fmt(a['p95'])} ms  "
          f"p99 {fmt(a['p99'])} ms  max {fmt(a['max'])} ms  failed {a['failed']}")
    print(f"autosave, steady    : {s['n']:6d} requests  p50 {fmt(s['p50'])} ms  p95 {fmt(s['p95'])} ms  "
          f"p99 {fmt(s['p99'])} ms  max {fmt(s['max'])} ms  failed {s['failed']}")
    print(f"pages (every GET)   : {pg['n']:6d} requests  p50 {fmt(pg['p50'])} ms  p95 {fmt(pg['p95'])} ms  "
          f"p99 {fmt(pg['p99'])} ms  max {fmt(pg['max'])} ms  failed {pg['failed']}")
    print(f"errors              : {f['failed']} of {f['requests']} HTTP requests ({100 * (f['error_rate'] or 0):.2f}%)")
    for name, st in f["per_name"].items():
        print(f"  {name:24s} n {st['n']:6d}  p50 {fmt(st['p50']):>6s}  p95 {fmt(st['p95']):>6s}  "
              f"p99 {fmt(st['p99']):>6s}  max {fmt(st['max']):>6s}  failed {st['failed']}")
    print("timeline, by when each request started:")
    for w in f["timeline"]:
        print(f"  {w['from_s']:4.0f} s  {w['autosave']['n']:5d} autosaves p50 {fmt(w['autosave']['p50']):>6s} "
              f"p99 {fmt(w['autosave']['p99']):>6s} ms   {w['page']['n']:4d} pages p95 {fmt(w['page']['p95']):>6s} ms"
              f"   {w['failed']} failed")
    if report.get("check"):
        c = report["check"]
        print(f"lost-answer check   : {c['saves_sent']} saves sent, {c['acknowledged_saves']} acknowledged by "
              f"{c['learners']} learners; {c['answers_checked']} answers checked: {c['found']} found, "
              f"{c['superseded']} replaced by a later unacknowledged save, {c['missing']} missing, "
              f"{c['mismatched']} mismatched, {c['wrong_owner']} wrong owner; attempts {c.get('attempt_status')}")
    if report.get("cpu"):
        print("CPU seconds         : " + ", ".join(f"{k} {v}" for k, v in report["cpu"].items()))


# ----------------------------------------------------------------------------- one run


def locust_run(args: argparse.Namespace, *, host: str, learners: int, submitters: int, users_file: Path,
               work: Path) -> dict:
    env = {**os.environ, "LOAD_USERS": str(users_file), "LOAD_ACKS": str(work / "acks.jsonl"),
           "LOAD_SAMPLES": str(work / "samples.csv"), "LOAD_SUMMARY": str(work / "summary.json"),
           "LOAD_SAVE_EVERY_S": str(args.save_every), "LOAD_SESSION_SAVES": str(args.session_saves),
           "LOAD_SUBMIT_FROM_S": str((learners + submitters) / args.spawn_rate + args.hold),
           "LOAD_SUBMIT_WINDOW_S": str(args.submit_window),
           "LOAD_LAB_SUBMITTERS": str(submitters), "PYTHONUNBUFFERED": "1"}
    ramp = (learners + submitters) / args.spawn_rate
    duration = math.ceil(ramp + args.hold + args.submit_window + 15)  # 15 s: the last submits and reviews
    classes = ["Learner", *(["LabSubmitter"] if submitters else [])]
    argv = [str(BIN / "locust"), "-f", str(HERE / "locustfile.py"), "--headless", "--host", host,
            "-u", str(learners + submitters), "-r", str(args.spawn_rate), "-t", f"{duration}s",
            "--stop-timeout", "15", "--csv", str(work / "locust"), "--loglevel", "WARNING", *classes]
    say(f"locust: {learners} learners + {submitters} lab submitters against {host}, ramp {ramp:.0f} s, "
        f"hold {args.hold:.0f} s, " + (f"submits in the last {args.submit_window:.0f} s" if not args.session_saves
                                       else f"attempts of about {args.session_saves} autosaves"))
    with open(work / "locust.log", "w") as log:
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, start_new_session=True)
        try:
            for line in proc.stdout:
                log.write(line)
                if line.startswith("[load]"):
                    say(line[7:].rstrip())
        except KeyboardInterrupt:
            stop(proc, "locust")
            raise
        proc.wait()
    say(f"locust finished ({proc.returncode}: {'no failures' if proc.returncode == 0 else 'some requests failed'})")
    if not (work / "samples.csv").exists():
        raise SystemExit(f"locust wrote no samples: see {work / 'locust.log'}")
    summary = json.loads((work / "summary.json").read_text())
    return {"figures": figures(work / "samples.csv", summary), "cpu_warnings": summary.get("cpu_warnings")}


def check(env: dict, work: Path) -> dict:
    done = subprocess.run([sys.executable, str(HERE / "db.py"), "check", "--acks", str(work / "acks.jsonl"),
                           "--json"], cwd=ROOT, env=env, capture_output=True, text=True)
    (work / "check.log").write_text(done.stdout + done.stderr)
    lines = done.stdout.strip().splitlines()
    if done.returncode not in (0, 1) or not lines:
        raise SystemExit(f"the lost-answer check could not run:\n{(done.stdout + done.stderr)[-3000:]}")
    for line in lines[:-1]:
        say(line)
    return json.loads(lines[-1])


def local_point(args: argparse.Namespace, *, learners: int, base_env: dict, template: str, server: str,
                work: Path) -> dict:
    """One learner count on a fresh copy of the template database, with a stack of its own."""
    work.mkdir(parents=True, exist_ok=True)
    name = f"{template}_{learners}"
    admin_sql(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin_sql(server, f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    env = {**base_env, "DATABASE_URL": with_db(server, name), "QUANTPREP_VAR_DIR": str(work / "var")}
    stack = Stack(args, env, work)
    try:
        say(f"starting redis, gunicorn ({args.workers} workers × {args.threads} threads) and one Celery worker "
            f"({args.sandbox} sandbox) on database {name}")
        url = stack.start()
        users_file = work / "users.json"
        say(run_logged([sys.executable, str(HERE / "db.py"), "seed", "--learners", str(learners), "--submitters",
                        str(args.lab_submitters), "--lab", args.lab, "--tag", str(learners), "--out",
                        str(users_file)], stack.env, work / "setup.log", "seeding").strip())
        warm = warm_up(url, json.loads(users_file.read_text()), sessions=2 * args.workers * args.threads)
        say(f"warm-up: {4 * args.workers * args.threads} sessions of the warm-up learner in {warm:.1f} s")
        before, started = cpu_snapshot(stack.pids()), time.monotonic()
        reaped = resource.getrusage(resource.RUSAGE_CHILDREN)  # the only child to finish meanwhile: locust
        result = locust_run(args, host=url, learners=learners, submitters=args.lab_submitters,
                            users_file=users_file, work=work)
        after, now = cpu_snapshot(stack.pids()), resource.getrusage(resource.RUSAGE_CHILDREN)
        result["cpu"] = cpu_used(before, after, time.monotonic() - started, {
            "locust": now.ru_utime + now.ru_stime - reaped.ru_utime - reaped.ru_stime})
        say("the lost-answer check")
        result["check"] = check(stack.env, work)
    finally:
        stack.stop()
        if not args.keep_db:
            with contextlib.suppress(Exception):
                admin_sql(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    result.update(learners=learners, lab_submitters=args.lab_submitters,
                  stack={"gunicorn_workers": args.workers, "gunicorn_threads": args.threads,
                         "worker_class": "gthread" if args.threads > 1 else "sync",
                         "celery_concurrency": args.celery_concurrency, "sandbox": args.sandbox,
                         "database": "PostgreSQL (local server)", "redis": "redis-server, broker and cache"})
    (work / "report.json").write_text(json.dumps(result, indent=1))
    return result


def sweep_table(results: list[dict]) -> None:
    """One line per learner count; "other work" is the machine's busy time outside the stack, in cores."""
    print("\nlearners  autosave p50   p95    p99 ms, steady state (whole run p99)  page p95 ms  errors   "
          "lost answers  other work")
    first_over = None
    for r in results:
        f, s = r["figures"], r["figures"]["autosave_steady"]
        c, cpu = r.get("check") or {}, r.get("cpu") or {}
        lost = c.get("missing", 0) + c.get("mismatched", 0) + c.get("wrong_owner", 0)
        other = (cpu.get("everything else on the machine", 0) / cpu["wall seconds"]) if cpu.get("wall seconds") else 0
        print(f"{r['learners']:8d}  {fmt(s['p50']):>12s} {fmt(s['p95']):>5s} {fmt(s['p99']):>6s} "
              f"({fmt(f['autosave']['p99'])}){'':22s}{fmt(f['page']['p95']):>11s}  "
              f"{100 * (f['error_rate'] or 0):5.2f}%  {lost:5d} of {c.get('answers_checked', '?'):<5}  "
              f"{other:.2f} cores")
        if first_over is None and s["p99"] is not None and s["p99"] > TARGET_MS:
            first_over = r["learners"]
    if first_over is None:
        print(f"autosave p99 (steady state) stayed at or under {TARGET_MS:.0f} ms at every count of the sweep")
    else:
        print(f"autosave p99 (steady state) passes {TARGET_MS:.0f} ms first at {first_over} learners")


def report_again(folder: Path) -> int:
    """The figures of an earlier run (or of each run of a sweep) computed again from its saved files."""
    folders = sorted((d for d in folder.glob("learners-*") if (d / "report.json").exists()),
                     key=lambda d: int(d.name.split("-")[1])) or [folder]
    results = []
    for d in folders:
        result = json.loads((d / "report.json").read_text())
        result["figures"] = figures(d / "samples.csv", json.loads((d / "summary.json").read_text()))
        (d / "report.json").write_text(json.dumps(result, indent=1))
        print_report(result["learners"], result)
        results.append(result)
    if len(results) > 1:
        sweep_table(results)
    return 0


def main() -> int:
    args = parse()
    if args.report:
        return report_again(args.report)
    if args.seed_only:
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.dev", "DEBUG": "false",
               "DATABASE_URL": args.database_url}
        print(run_logged([sys.executable, str(HERE / "db.py"), "seed", "--learners", str(args.learners),
                          "--submitters", str(args.lab_submitters), "--lab", args.lab, "--out",
                          str(args.users_file)], env, Path(os.devnull), "seeding").strip())
        return 0
    out = args.out or ROOT / "var" / "load" / time.strftime("%Y%m%d-%H%M%S")
    out.mkdir(parents=True, exist_ok=True)
    say(f"results in {out}")

    if args.host:
        result = locust_run(args, host=args.host, learners=args.learners, submitters=args.lab_submitters,
                            users_file=args.users_file, work=out)
        result.update(learners=args.learners, lab_submitters=args.lab_submitters, host=args.host)
        if args.database_url:
            env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.dev", "DEBUG": "false",
                   "DATABASE_URL": args.database_url, "QUANTPREP_VAR_DIR": str(out / "var")}
            result["check"] = check(env, out)
        else:
            say(f"no --database-url: the acknowledged saves are in {out / 'acks.jsonl'}, not checked")
        (out / "report.json").write_text(json.dumps(result, indent=1))
        print_report(args.learners, result)
        c = result.get("check")
        return 1 if c and c["missing"] + c["mismatched"] + c["wrong_owner"] else 0

    server = args.database_url or DEFAULT_SERVER
    postgres_ready(server)
    template = f"quantprep_load_{os.getpid()}"
    base_env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.prod",
                "SECRET_KEY": secrets.token_urlsafe(50), "DEBUG": "false",
                "SANDBOX_BACKEND": args.sandbox, "SANDBOX_ALLOW_UNSAFE": "1" if args.sandbox == "local" else "0",
                "SECURE_SSL_REDIRECT": "false",  # plain http on loopback: TLS would end at the proxy in front
                "ALLOWED_HOSTS": "127.0.0.1,localhost", "PYTHONUNBUFFERED": "1", "QUANTPREP_VAR_DIR": str(out / "var")}
    base_env.pop("TEST_DATABASE_URL", None)
    counts = [int(c) for c in args.sweep.split(",")] if args.sweep else [args.learners]
    results = []
    try:
        say(f"throwaway database {template} on {urlsplit(server).hostname}: migrate, load_content")
        admin_sql(server, f'CREATE DATABASE "{template}"')
        env = {**base_env, "DATABASE_URL": with_db(server, template)}
        run_logged([sys.executable, "manage.py", "migrate", "--no-input"], env, out / "setup.log", "migrate")
        run_logged([sys.executable, "manage.py", "load_content"], env, out / "setup.log", "load_content")
        if args.collectstatic or not staticfiles_fresh():
            say("collectstatic (production settings serve the hashed, compressed files; about a minute)")
            run_logged([sys.executable, "manage.py", "collectstatic", "--no-input"], env, out / "setup.log",
                       "collectstatic")
        for n in counts:
            result = local_point(args, learners=n, base_env=base_env, template=template, server=server,
                                 work=out / f"learners-{n}" if len(counts) > 1 else out)
            print_report(n, result)
            results.append(result)
    finally:
        if not args.keep_db:
            with contextlib.suppress(Exception):
                admin_sql(server, f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)')
    if len(results) > 1:
        sweep_table(results)
        (out / "sweep.json").write_text(json.dumps(results, indent=1))
    lost = sum((r["check"]["missing"] + r["check"]["mismatched"] + r["check"]["wrong_owner"]) for r in results)
    say(f"done: results in {out}" + (f"; {lost} answers LOST" if lost else "; no answer lost"))
    return 1 if lost else 0


if __name__ == "__main__":
    sys.exit(main())
