import datetime as dt

from django.conf import settings
from django.utils import timezone


def sandbox_status(request):
    """Pages say loudly when a worker runs untrusted code without isolation. What the workers said in
    their heartbeats is read from the database: the web process never talks to Docker."""
    from labs.models import WorkerHeartbeat

    recent = timezone.now() - dt.timedelta(seconds=3 * settings.WORKER_HEARTBEAT_S)
    workers = list(WorkerHeartbeat.objects.filter(seen_at__gte=recent).values("hostname", "backend", "unsafe",
                                                                              "problem"))
    unsafe = [w["hostname"] for w in workers if w["unsafe"]]
    return {"sandbox": {"unsafe": bool(unsafe), "unsafe_workers": unsafe, "workers": len(workers),
                        "problems": [f"{w['hostname']}: {w['problem']}" for w in workers if w["problem"]]}}
