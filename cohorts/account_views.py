"""The learner's account page: their own API tokens for the ``quantprep`` CLI (docs/cli.md).

A new token is shown once, in the answer to the POST that made it (never stored in the session, which
lives in the database: only the token's digest is kept anywhere); the page lists the learner's tokens by
prefix and revokes one. Another user's token answers 404, as a missing one does.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from cohorts.tokens import (
    DEFAULT_DAYS,
    MAX_DAYS,
    MAX_LIVE_SELF_SERVICE,
    TokenRefused,
    token_create,
    token_revoke,
    token_state,
    tokens_live,
    tokens_of,
)


class TokenForm(forms.Form):
    days = forms.IntegerField(min_value=1, max_value=MAX_DAYS, initial=DEFAULT_DAYS, label="Valid for (days)",
                              help_text=f"1 to {MAX_DAYS} days.",
                              widget=forms.NumberInput(attrs={"class": "narrow"}))


def _page(request: HttpRequest, *, form: TokenForm | None = None, created=None, plaintext: str = "",
          status: int = 200) -> HttpResponse:
    now = timezone.now()
    tokens = [{"token": t, "state": token_state(t, now=now)} for t in tokens_of(request.user)]
    response = render(request, "cohorts/account.html", {
        "form": form or TokenForm(), "tokens": tokens, "created": created, "plaintext": plaintext,
        "server_url": request.build_absolute_uri("/").rstrip("/"), "max_live": MAX_LIVE_SELF_SERVICE,
    }, status=status)
    response["Cache-Control"] = "no-store"  # the page that shows a new token is kept by no cache
    return response


@login_required
def account(request: HttpRequest) -> HttpResponse:
    return _page(request)


@login_required
@require_POST
def account_token_create(request: HttpRequest) -> HttpResponse:
    form = TokenForm(request.POST)
    if not form.is_valid():
        return _page(request, form=form, status=400)
    if tokens_live(request.user).count() >= MAX_LIVE_SELF_SERVICE:
        form.add_error(None, f"You have {MAX_LIVE_SELF_SERVICE} live tokens already; revoke one you no longer "
                             "use first.")
        return _page(request, form=form, status=400)
    try:
        token, plaintext = token_create(user=request.user, days=form.cleaned_data["days"])
    except TokenRefused as exc:
        form.add_error(None, str(exc))
        return _page(request, form=form, status=400)
    # Rendered here, not after a redirect: the plaintext exists only in this answer.
    return _page(request, created=token, plaintext=plaintext, status=201)


@login_required
@require_POST
def account_token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    token = get_object_or_404(tokens_of(request.user), id=token_id)
    already = token.revoked_at is not None
    token_revoke(token=token)
    if already:
        messages.info(request, f"The token {token.prefix}… was already revoked.")
    else:
        messages.success(request, f"Revoked the token {token.prefix}…; the CLI can no longer use it.")
    return redirect("account")
