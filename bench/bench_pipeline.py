"""The lab grading pipeline, end to end on this machine: the harness protocol's own cost per timed call
(against the reference kernel's time, per benchmark case), submit-to-verdict latency per lab (p50/p95),
the sandbox's overhead against the harness run as a plain subprocess, and submissions per minute with
one and two worker processes. Real Redis, real Celery workers, a throwaway SQLite database.

    python bench/bench_pipeline.py [--backend docker|local] [--repeats 3] [--burst 6]
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["docker", "local"], default="docker")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--burst", type=int, default=6)
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

    # 1. The sandbox's overhead: the same grading with the harness as a plain subprocess (local) and in
    #    the chosen backend, alternated so that load on this shared machine hits both alike.
    fp8 = lab_folder_get("fp8-e4m3")
    code = (labs_root() / "fp8-e4m3/solutions/correct/frexp_round.py").read_text()
    walls = {"local": [], args.backend: []}
    for i in range(args.repeats):
        for backend in walls:
            walls[backend].append(grade(fp8, code, name=f"bench-{backend}-{i}", backend=backend).wall_s)
    direct, boxed = statistics.median(walls["local"]), statistics.median(walls[args.backend])
    print(f"sandbox run of fp8-e4m3: harness as a plain subprocess {direct:.2f} s, {args.backend} {boxed:.2f} s, "
          f"overhead ratio {boxed / direct:.2f}\n")

    def verdict_of(submission_id: int) -> Submission:
        return wait_for(lambda: Submission.objects.filter(id=submission_id, status="done").first(), timeout=600,
                        what=f"submission {submission_id}")

    # 2. Submit to verdict, per lab, one submission at a time through a real worker.
    worker = worker_start(env, WORK / "worker.log")
    print(f"{'lab':<12} {'p50 s':>7} {'p95 s':>7}   (submit to verdict, {args.repeats} runs each, 1 worker)")
    breakdowns = {}
    for lab in Lab.objects.order_by("slug"):
        solution = sorted((labs_root() / lab.slug / "solutions/correct").glob("*.py"))[0].read_text()
        latencies, timings = [], []
        for _ in range(args.repeats):
            start = time.monotonic()
            done = verdict_of(submission_create(user=user, lab=lab, code=solution).id)
            latencies.append(time.monotonic() - start)
            assert done.verdict == "accepted", (lab.slug, done.verdict, done.result.get("diagnostics"))
            timings.append(done.result.get("timings") or {})
        p95 = statistics.quantiles(latencies, n=20)[-1] if len(latencies) > 1 else latencies[0]
        print(f"{lab.slug:<12} {statistics.median(latencies):>7.2f} {p95:>7.2f}")
        breakdowns[lab.slug] = {key: statistics.median(t[key] for t in timings if key in t)
                                for key, _ in TIMING_STAGES if any(key in t for t in timings)}
    stop(worker)
    # Where the time goes: the median of each stage of the grading breakdown (labs.grading.StageClock).
    keys = [key for key, _ in TIMING_STAGES]
    print(f"\nbreakdown, median s per stage ({', '.join(f'{i + 1} {key[:-2]}' for i, key in enumerate(keys))})")
    print(f"{'lab':<12}" + "".join(f"{i + 1:>7}" for i in range(len(keys))))
    for slug, medians in breakdowns.items():
        print(f"{slug:<12}" + "".join(f"{medians[k]:>7.2f}" if k in medians else f"{'-':>7}" for k in keys))

    # 3. Throughput: a burst of fp8 submissions with one and with two worker processes, one per learner
    # (a learner may have only a couple waiting, and one of theirs at a time goes to the graders).
    lab = Lab.objects.get(slug="fp8-e4m3")
    learners = [User.objects.create_user(f"bench-burst-{i}", password="x" * 20) for i in range(args.burst)]
    rates = {}
    for workers in (1, 2):
        procs = [worker_start(env, WORK / f"worker-{workers}-{i}.log") for i in range(workers)]
        start = time.monotonic()
        ids = [submission_create(user=learner, lab=lab, code=code).id for learner in learners]
        for submission_id in ids:
            verdict_of(submission_id)
        rates[workers] = args.burst / (time.monotonic() - start) * 60
        for proc in procs:
            stop(proc)
    print(f"\nthroughput (fp8-e4m3, burst of {args.burst}): 1 worker {rates[1]:.1f}/min, "
          f"2 workers {rates[2]:.1f}/min, ratio {rates[2] / rates[1]:.2f}")
    stop(redis)
    shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    main()
