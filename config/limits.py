"""Rate limits on the costly paths, counted in Django's cache (Redis in production: CACHE_URL; each process's
memory in development): a fixed window per key. Used by the views that grade an answer and by registration;
the login lockout is django-axes's (settings AXES_*), the lab queue's cap is labs.services'."""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.utils.html import format_html


def limit_hit(*, key: str, limit: int, window_s: int) -> int | None:
    """Count one request for ``key``. None while the window's count is within ``limit``; otherwise the
    seconds until the window ends (for Retry-After)."""
    now = time.time()
    slot = f"limit:{key}:{int(now // window_s)}"
    count = 1 if cache.add(slot, 1, timeout=window_s + 5) else cache.incr(slot)
    if count <= limit:
        return None
    return max(1, int(window_s - now % window_s))


def refusal(message: str, *, status: int, retry_after: int | None = None) -> HttpResponse:
    """A refused answer check as a status line the pages show where a verdict would go (static/js/site.js
    swaps 409 and 429 in)."""
    response = HttpResponse(format_html('<p class="verdict invalid" role="status">{}</p>', message), status=status)
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    return response


def too_many(message: str, retry_after: int) -> HttpResponse:
    return refusal(f"{message} Try again in {retry_after} s.", status=429, retry_after=retry_after)


def answer_check_limited(request: HttpRequest) -> HttpResponse | None:
    """The answer checks (question bank, drill cards, practice): ANSWER_CHECKS_PER_MINUTE per learner, across
    all three. Each check runs the math grader in a process of its own, so a loop of them is real load."""
    retry = limit_hit(key=f"check:{request.user.pk}", limit=settings.ANSWER_CHECKS_PER_MINUTE, window_s=60)
    if retry is None:
        return None
    return too_many(f"That is more than {settings.ANSWER_CHECKS_PER_MINUTE} answer checks in a minute.", retry)


def client_address(request: HttpRequest) -> str:
    """The client's address: the proxy's X-Forwarded-For only when settings say a proxy sets it."""
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "") if settings.BEHIND_PROXY else ""
    return forwarded.split(",")[-1].strip() or request.META.get("REMOTE_ADDR", "")
