"""``python manage.py quantprep_info [--json]``: what the grading side is doing, for an operator: submissions
per status (held behind a learner's own ones apart), the oldest one waiting and for how long, and each
worker's last heartbeat (its backend, whether it can run jobs, how long ago it spoke)."""

import json

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db.models import Count
from django.utils import timezone

from labs.models import Submission, WorkerHeartbeat
from labs.services import WAITING


def snapshot() -> dict:
    now = timezone.now()
    counts = dict(Submission.objects.exclude(status=Submission.Status.DONE).values("status")
                  .annotate(n=Count("id")).values_list("status", "n"))
    held = Submission.objects.filter(held=True, status=Submission.Status.QUEUED).count()
    oldest = (Submission.objects.filter(status__in=WAITING).order_by("created_at")
              .values("id", "lab__slug", "status", "created_at").first())
    workers = [{"hostname": w.hostname, "backend": w.backend, "unsafe": w.unsafe, "problem": w.problem,
                "queues": w.queues, "seen_s_ago": round((now - w.seen_at).total_seconds(), 1),
                "alive": (now - w.seen_at).total_seconds() < 3 * settings.WORKER_HEARTBEAT_S}
               for w in WorkerHeartbeat.objects.order_by("hostname")]
    return {"queued": counts.get(Submission.Status.QUEUED, 0) - held, "held": held,
            "preparing": counts.get(Submission.Status.PREPARING, 0), "running": counts.get(Submission.Status.RUNNING, 0),
            "scoring": counts.get(Submission.Status.SCORING, 0),
            "oldest_waiting": None if oldest is None else {
                "id": oldest["id"], "lab": oldest["lab__slug"], "status": oldest["status"],
                "waiting_s": round((now - oldest["created_at"]).total_seconds(), 1)},
            "workers": workers}


class Command(BaseCommand):
    help = "Queue depths, the oldest waiting submission and the workers' heartbeats."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="one JSON object")

    def handle(self, *args, **options):
        info = snapshot()
        if options["json"]:
            self.stdout.write(json.dumps(info))
            return
        w = self.stdout.write
        w(f"submissions: {info['queued']} queued, {info['held']} held behind their learner's own, "
          f"{info['preparing']} preparing, {info['running']} running, {info['scoring']} scoring")
        old = info["oldest_waiting"]
        w("oldest waiting: none" if old is None else
          f"oldest waiting: #{old['id']} ({old['lab']}, {old['status']}) for {old['waiting_s']:.0f} s")
        if not info["workers"]:
            w("workers: none has reported (is a worker running?)")
        for wk in info["workers"]:
            state = "alive" if wk["alive"] else "SILENT"
            w(f"worker {wk['hostname']}: {state}, last seen {wk['seen_s_ago']:.0f} s ago, backend {wk['backend']}"
              + (" (UNSAFE: no isolation)" if wk["unsafe"] else "") + (f", problem: {wk['problem']}" if wk["problem"]
                                                                       else "") + f", queues {wk['queues'] or '?'}")
