"""``/healthz``: the process answers (a load balancer's liveness check; touches nothing). ``/readyz``: it can
serve, because the database and the broker answer (a readiness check: take it out of rotation when not).
Both are plain JSON, need no session, and say what failed.

They are answered by a middleware placed first, before the host check and the HTTPS redirect: a container's
health check and a load balancer call them by IP address over plain HTTP, which a production ALLOWED_HOSTS
and SECURE_SSL_REDIRECT would otherwise refuse or redirect."""

from __future__ import annotations

import time

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.utils.cache import add_never_cache_headers

from config.celery import app

BROKER_TIMEOUT_S = 2.0


def healthz() -> JsonResponse:
    return JsonResponse({"status": "ok"})


def _database() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means not ready; the message says which
        return f"database: {type(exc).__name__}: {exc}"[:300]


def _broker() -> str | None:
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=BROKER_TIMEOUT_S)
        return None
    except Exception as exc:  # noqa: BLE001
        return f"broker: {type(exc).__name__}: {exc}"[:300]


def readyz() -> JsonResponse:
    started = time.monotonic()
    problems = [p for p in (_database(), _broker()) if p]
    body = {"status": "ok" if not problems else "unavailable", "problems": problems,
            "checked_in_ms": round(1000 * (time.monotonic() - started), 1)}
    return JsonResponse(body, status=200 if not problems else 503)


CHECKS = {"/healthz": healthz, "/readyz": readyz}


class HealthCheckMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        check = CHECKS.get(request.path_info)
        if check is None or request.method not in {"GET", "HEAD"}:
            return self.get_response(request)
        response = check()
        add_never_cache_headers(response)
        return response
