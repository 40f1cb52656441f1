"""The account page: a learner makes, sees and revokes their own API tokens (cohorts/account_views.py)."""

import datetime as dt
import re

import pytest
from django.contrib.auth.models import User
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cohorts.models import ApiToken
from cohorts.tokens import DEFAULT_DAYS, MAX_DAYS, MAX_LIVE_SELF_SERVICE, token_authenticate, token_create
from tests.factories import user_make

pytestmark = pytest.mark.django_db
TOKEN = re.compile(r"qp_[A-Za-z0-9_-]{43}")


def logged_in(username: str) -> Client:
    client = Client()
    client.force_login(user_make(username))
    return client


def create(client: Client, days="") -> tuple[object, str]:
    response = client.post(reverse("account_token_create"), {"days": days} if days != "" else {})
    return response, response.content.decode()


def test_the_account_page_needs_login_and_is_linked_from_the_header():
    assert Client().get(reverse("account")).status_code == 302
    client = logged_in("ada")
    page = client.get(reverse("account")).content.decode()
    assert "You have no API tokens yet." in page and f'value="{DEFAULT_DAYS}"' in page
    home = client.get(reverse("home")).content.decode()
    assert f'href="{reverse("account")}"' in home


def test_a_new_token_is_shown_once_with_the_commands_to_use_it():
    client = logged_in("ada")
    response, page = create(client, 7)
    assert response.status_code == 201 and response["Cache-Control"] == "no-store"
    plaintext = TOKEN.search(page).group(0)
    assert token_authenticate(plaintext).username == "ada"
    assert f"export QUANTPREP_TOKEN={plaintext}" in page
    assert "export QUANTPREP_URL=http://testserver" in page and "~/.config/quantprep/token" in page
    token = ApiToken.objects.get(user__username="ada")
    assert dt.timedelta(days=6, hours=23) < token.expires_at - timezone.now() <= dt.timedelta(days=7)
    # never again: the listing shows the prefix only, and nothing kept the plaintext
    later = client.get(reverse("account")).content.decode()
    assert token.prefix in later and plaintext not in later and not TOKEN.search(later)
    stored = " ".join(str(v) for v in ApiToken.objects.filter(id=token.id).values().get().values())
    assert plaintext not in stored
    assert all(plaintext not in str(s.get_decoded()) for s in Session.objects.all())


def test_the_default_lifetime_is_used_when_days_is_left_at_its_initial_value():
    client = logged_in("ada")
    response, _ = create(client, DEFAULT_DAYS)
    assert response.status_code == 201
    token = ApiToken.objects.get()
    assert dt.timedelta(days=DEFAULT_DAYS - 1) < token.expires_at - timezone.now() <= dt.timedelta(days=DEFAULT_DAYS)


@pytest.mark.parametrize("days", [0, -3, MAX_DAYS + 1, "ten", ""])
def test_a_lifetime_out_of_bounds_is_refused_and_makes_no_token(days):
    client = logged_in("ada")
    response, page = create(client, days)
    assert response.status_code == 400 and 'role="alert"' in page
    assert not ApiToken.objects.exists() and not TOKEN.search(page)


def test_the_longest_lifetime_is_accepted():
    response, _ = create(logged_in("ada"), MAX_DAYS)
    assert response.status_code == 201


def test_the_list_shows_each_tokens_state_expiry_and_last_use():
    client = logged_in("ada")
    ada = User.objects.get(username="ada")
    live, live_text = token_create(user=ada, days=3)
    expired, _ = token_create(user=ada)
    ApiToken.objects.filter(id=expired.id).update(expires_at=timezone.now() - dt.timedelta(days=1))
    revoked, _ = token_create(user=ada)
    client.post(reverse("account_token_revoke", args=[revoked.id]))
    token_authenticate(live_text)
    page = client.get(reverse("account")).content.decode()
    rows = dict(re.findall(r'data-prefix="([^"]+)" class="token-(\w+)"', page))
    assert rows == {live.prefix: "live", expired.prefix: "expired", revoked.prefix: "revoked"}
    live.refresh_from_db()
    assert live.last_used_at.strftime("%Y-%m-%d %H:%M") in page
    assert live.expires_at.strftime("%Y-%m-%d %H:%M") in page
    assert page.count(">Revoke</button>") == 1  # only the live one can be revoked


def test_revoking_a_token_stops_it_at_once():
    client = logged_in("ada")
    _, page = create(client, 5)
    plaintext = TOKEN.search(page).group(0)
    token = ApiToken.objects.get()
    response = client.post(reverse("account_token_revoke", args=[token.id]), follow=True)
    assert response.status_code == 200 and f"Revoked the token {token.prefix}" in response.content.decode()
    assert token_authenticate(plaintext) is None
    assert client.get(reverse("account_token_revoke", args=[token.id])).status_code == 405  # POST only


def test_a_learner_sees_and_revokes_only_their_own_tokens():
    bob = user_make("bob")
    theirs, plaintext = token_create(user=bob)
    client = logged_in("ada")
    assert theirs.prefix not in client.get(reverse("account")).content.decode()
    assert client.post(reverse("account_token_revoke", args=[theirs.id])).status_code == 404
    assert client.post(reverse("account_token_revoke", args=[theirs.id + 1000])).status_code == 404
    assert token_authenticate(plaintext) == bob


def test_the_forms_need_the_csrf_token():
    ada = user_make("ada")
    token, _ = token_create(user=ada)
    client = Client(enforce_csrf_checks=True)
    client.force_login(ada)
    assert client.post(reverse("account_token_create"), {"days": 5}).status_code == 403
    assert client.post(reverse("account_token_revoke", args=[token.id])).status_code == 403
    assert ApiToken.objects.count() == 1 and ApiToken.objects.get().revoked_at is None
    # with the token from the page's form, both work
    page = client.get(reverse("account")).content.decode()
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    assert client.post(reverse("account_token_create"), {"days": 5, "csrfmiddlewaretoken": csrf}).status_code == 201
    assert client.post(reverse("account_token_revoke", args=[token.id]),
                       {"csrfmiddlewaretoken": csrf}).status_code == 302


def test_live_tokens_are_capped_until_one_is_revoked():
    client = logged_in("ada")
    for _ in range(MAX_LIVE_SELF_SERVICE):
        assert create(client, 1)[0].status_code == 201
    response, page = create(client, 1)
    assert response.status_code == 400 and "revoke one" in page
    client.post(reverse("account_token_revoke", args=[ApiToken.objects.first().id]))
    assert create(client, 1)[0].status_code == 201
