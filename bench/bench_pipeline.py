"""The lab grading pipeline, end to end on this machine: the harness protocol's own cost per timed call
(against the reference kernel's time, per benchmark case), submit-to-verdict latency per lab (p50/p95:
cold, warm with a learner's pause between submissions, and warm back to back),
the sandbox's overhead against the harness run by the local backend (forked from its zygote, torch already
imported), and submissions per minute with
one worker process and more, with and without what workers keep warm (labs.grading.warm). Real Redis, real Celery workers, a throwaway SQLite database.

    python bench/bench_pipeline.py [--backend docker|local] [--repeats 5] [--burst 12] [--think 8]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
WORK = Path(tempfile.mkdtemp(prefix="quantprep-bench-"))
os.environ.update(DJANGO_SETTINGS_MODULE="config.settings.dev", QUANTPREP_VAR_DIR=str(WORK),
                  DATABASE_URL=f"sqlite:///{WORK / 'bench.sqlite3'}")


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) > 1 else values[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["docker", "local"], default="docker")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--burst", type=int, default=12)
    parser.add_argument("--labs", default="", help="comma-separated lab slugs for the latency part (default: all)")
    parser.add_argument("--warm", type=int, default=1, help="SANDBOX_WARM of the warm runs (default 1)")
    parser.add_argument("--think", type=float, default=8.0,
                        help="seconds between a verdict and the next submission in the warm latency runs (default 8)")
    parser.add_argument("--latency-only", action="store_true", help="skip the protocol, overhead and burst parts")
    args = parser.parse_args()

    from tests.conftest import free_port, redis_start, stop, wait_for, worker_start

    port = free_port()
    redis = redis_start(port, WORK)
    os.environ["CELERY_BROKER_URL"] = f"redis://127.0.0.1:{port}/0"
    os.environ["SANDBOX_BACKEND"] = args.backend

    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.core.management import call_command

    from content.labs import lab_folder_get, labs_root
    from content.load import labs_sync
    from labs.grading import grade
    from labs.grading.report import TIMING_STAGES
    from labs.models import Lab, Submission
    from labs.services import submission_create

    call_command("migrate", verbosity=0)
    labs_sync(root=labs_root())
    user = User.objects.create_user("bench", password="x" * 20)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    print(f"backend {args.backend}, {os.cpu_count()} CPUs, torch threads per sandbox 1; work dir {WORK}\n")

    # 0. The protocol's cost per timed call: handing the inputs over and taking the outputs back, which
    #    the reference's own split (trusted) measures, next to the kernel's time; per benchmark case.
    from labs.grading.build import job_build
    from labs.grading.result import result_read
    from sandbox.api import get_backend

    def verdict_of(submission_id: int) -> Submission:
        return wait_for(lambda: Submission.objects.filter(id=submission_id, status="done").first(), timeout=600,
                        what=f"submission {submission_id}")

    code = (labs_root() / "fp8-e4m3/solutions/correct/frexp_round.py").read_text()
    if not args.latency_only:
        print(f"{'lab':<12} {'benchmark':<16} {'kernel ms':>10} {'protocol ms':>12} {'ratio':>6}   (reference, median of "
              "the timed calls)")
        for lab in Lab.objects.order_by("slug"):
            solution = sorted((labs_root() / lab.slug / "solutions/correct").glob("*.py"))[0].read_text()
            job, plan = job_build(lab_folder_get(lab.slug), solution, name=f"bench-protocol-{lab.slug}")
            result = result_read(get_backend(args.backend).run(job).stdout)
            plan.wait()
            for case, calls in result.reference.calls.items():
                kernel = statistics.median(k for _, k in calls)
                protocol = statistics.median(t - k for t, k in calls)
                print(f"{lab.slug:<12} {case:<16} {kernel * 1e3:>10.2f} {protocol * 1e3:>12.2f} {protocol / kernel:>6.2f}")
        print()

        # 1. The sandbox's overhead: the same grading with the harness forked by the local backend and in
        #    the chosen backend, alternated so that load on this shared machine hits both alike.
        fp8 = lab_folder_get("fp8-e4m3")
        walls = {"local": [], args.backend: []}
        for i in range(args.repeats):
            for backend in walls:
                walls[backend].append(grade(fp8, code, name=f"bench-{backend}-{i}", backend=backend).wall_s)
        direct, boxed = statistics.median(walls["local"]), statistics.median(walls[args.backend])
        print(f"sandbox run of fp8-e4m3: harness in the local backend {direct:.2f} s, {args.backend} {boxed:.2f} s, "
              f"overhead ratio {boxed / direct:.2f}\n")

    # 2. Submit to verdict, per lab, one submission at a time through a real worker: first with nothing kept
    #    warm (SANDBOX_WARM=0: every job starts its container, imports torch, makes its inputs and times the
    #    reference while its learner waits), then as workers run by default (labs.grading.warm), twice: with
    #    a learner's pause between a verdict and the next submission (--think: the worker is idle when the
    #    submission comes, its warm work done), and back to back (the next job finds that work still going).
    keys = [key for key, _ in TIMING_STAGES]
    latency = {}
    runs = [("cold", 0, 0.0), ("warm", args.warm, args.think), ("back to back", args.warm, 0.0)]
    for run_name, warm, think in runs:
        worker = worker_start({**env, "SANDBOX_WARM": str(warm)}, WORK / f"worker-{run_name.replace(' ', '-')}.log")
        time.sleep(5 * warm)  # the worker's warm-up: its first sandbox up, each lab's first inputs made
        breakdowns = {}
        for lab in Lab.objects.order_by("slug"):
            if args.labs and lab.slug not in args.labs.split(","):
                continue
            solution = sorted((labs_root() / lab.slug / "solutions/correct").glob("*.py"))[0].read_text()
            latencies, timings = [], []
            for _ in range(args.repeats):
                time.sleep(think)
                start = time.monotonic()
                done = verdict_of(submission_create(user=user, lab=lab, code=solution).id)
                latencies.append(time.monotonic() - start)
                assert done.verdict == "accepted", (lab.slug, done.verdict, done.result.get("diagnostics"))
                timings.append(done.result.get("timings") or {})
            latency.setdefault(lab.slug, {})[run_name] = latencies
            breakdowns[lab.slug] = {key: statistics.median(t[key] for t in timings if key in t)
                                    for key in keys if any(key in t for t in timings)}
        stop(worker)
        # Where the time goes: the median of each stage of the grading breakdown (labs.grading.StageClock).
        print(f"breakdown, {run_name} (SANDBOX_WARM={warm}, {think:g} s between a verdict and the next submission), "
              f"median s per stage ({', '.join(f'{i + 1} {key[:-2]}' for i, key in enumerate(keys))})")
        print(f"{'lab':<12}" + "".join(f"{i + 1:>7}" for i in range(len(keys))))
        for slug, medians in breakdowns.items():
            print(f"{slug:<12}" + "".join(f"{medians[k]:>7.2f}" if k in medians else f"{'-':>7}" for k in keys))
        print()
    print(f"{'lab':<12} {'cold p50':>9} {'p95':>6} {'warm p50':>9} {'p95':>6} {'ratio':>6} {'b2b p50':>8} {'p95':>6}"
          f"   (submit to verdict, s, {args.repeats} runs each, 1 worker; warm: {args.think:g} s between a verdict "
          "and the next submission; b2b: warm, back to back)")
    for slug, by_run in latency.items():
        cold, hot, b2b = (statistics.median(by_run[name]) for name, _, _ in runs)
        print(f"{slug:<12} {cold:>9.2f} {p95(by_run['cold']):>6.2f} {hot:>9.2f} {p95(by_run['warm']):>6.2f} "
              f"{cold / hot:>6.2f} {b2b:>8.2f} {p95(by_run['back to back']):>6.2f}")

    if not args.latency_only:
        # 3. Throughput: a burst of fp8 submissions, one per learner (a learner may have only a couple waiting,
        #    and one of theirs at a time goes to the graders), under each configuration; the first row is the
        #    baseline (one worker process, nothing warm), measured in this run.
        lab = Lab.objects.get(slug="fp8-e4m3")
        learners = [User.objects.create_user(f"bench-burst-{i}", password="x" * 20) for i in range(args.burst)]
        configs = [(1, 1, 0), (1, 1, 1), (2, 1, 1), (1, 2, 1), (1, 3, 1)]  # (workers, concurrency, SANDBOX_WARM)
        print(f"\nthroughput (fp8-e4m3, burst of {args.burst}, {os.cpu_count()} CPUs)")
        print(f"{'workers':>8} {'concurrency':>12} {'warm':>5} {'per min':>8} {'ratio':>6}")
        baseline = None
        for workers, concurrency, warm in configs:
            procs = [worker_start({**env, "SANDBOX_WARM": str(warm)}, WORK / f"burst-{workers}-{concurrency}-{warm}-{i}.log",
                                  concurrency=concurrency) for i in range(workers)]
            time.sleep(5 * warm * concurrency)
            start = time.monotonic()
            ids = [submission_create(user=learner, lab=lab, code=code).id for learner in learners]
            for submission_id in ids:
                verdict_of(submission_id)
            rate = args.burst / (time.monotonic() - start) * 60
            baseline = baseline or rate
            print(f"{workers:>8} {concurrency:>12} {warm:>5} {rate:>8.1f} {rate / baseline:>6.2f}")
            for proc in procs:
                stop(proc)
    stop(redis)
    shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    main()
