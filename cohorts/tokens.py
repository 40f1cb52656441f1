"""API tokens for the ``quantprep`` CLI (docs/cli.md).

A token is ``qp_`` followed by 43 URL-safe characters (256 random bits). It is shown once, when it is
made; the database keeps only its SHA-256 digest and its first characters (``prefix``) to find the row
and to tell tokens apart on a page. SHA-256 without a salt is enough here: the token is random, not a
password, so there is nothing to guess from a leaked digest.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from cohorts.models import ApiToken

TOKEN_MARK = "qp_"
PREFIX_LENGTH = len(TOKEN_MARK) + 8
DEFAULT_DAYS = 30
MAX_DAYS = 365
# A learner makes their own tokens on the account page; this many live ones at a time, then they revoke one.
MAX_LIVE_SELF_SERVICE = 10
# last_used_at is written at most this often per token: the CLI polls twice a second, and on SQLite
# every write takes the database lock the worker needs for its progress updates.
LAST_USED_RESOLUTION = dt.timedelta(seconds=60)


class TokenRefused(ValueError):
    pass


def token_digest(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode("utf-8", "surrogatepass")).hexdigest()


@transaction.atomic
def token_create(*, user: User, days: int = DEFAULT_DAYS) -> tuple[ApiToken, str]:
    """A new token for ``user``, valid for ``days`` days; the plaintext is returned once, never stored."""
    if not 1 <= days <= MAX_DAYS:
        raise TokenRefused(f"A token lasts between 1 and {MAX_DAYS} days, not {days}.")
    if not user.is_active:
        raise TokenRefused(f"{user.username} is not an active account.")
    plaintext = TOKEN_MARK + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(user=user, prefix=plaintext[:PREFIX_LENGTH], digest=token_digest(plaintext),
                                    expires_at=timezone.now() + dt.timedelta(days=days))
    return token, plaintext


def token_authenticate(plaintext: str, *, now: dt.datetime | None = None) -> User | None:
    """The user a live token belongs to, or None for an unknown, expired or revoked token (or an inactive
    user). Rows are found by prefix and the digests compared in constant time."""
    if not plaintext or not plaintext.startswith(TOKEN_MARK) or len(plaintext) > 200:
        return None
    now = now or timezone.now()
    digest = token_digest(plaintext)
    match = None
    for candidate in ApiToken.objects.filter(prefix=plaintext[:PREFIX_LENGTH]).select_related("user"):
        if hmac.compare_digest(candidate.digest, digest):
            match = candidate
    if match is None or match.revoked_at is not None or match.expires_at <= now or not match.user.is_active:
        return None
    if match.last_used_at is None or now - match.last_used_at >= LAST_USED_RESOLUTION:
        ApiToken.objects.filter(id=match.id).update(last_used_at=now)
    return match.user


def token_revoke(*, token: ApiToken) -> ApiToken:
    """Revoke a token from now on (idempotent: a revoked token keeps its first revocation time)."""
    ApiToken.objects.filter(id=token.id, revoked_at__isnull=True).update(revoked_at=timezone.now())
    token.refresh_from_db(fields=["revoked_at"])
    return token


def tokens_of(user: User) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user)


def tokens_live(user: User, *, now: dt.datetime | None = None) -> QuerySet[ApiToken]:
    return tokens_of(user).filter(revoked_at__isnull=True, expires_at__gt=now or timezone.now())


def token_state(token: ApiToken, *, now: dt.datetime | None = None) -> str:
    """live, expired or revoked (a revoked token is revoked even after its expiry)."""
    if token.revoked_at is not None:
        return "revoked"
    return "expired" if token.expires_at <= (now or timezone.now()) else "live"
