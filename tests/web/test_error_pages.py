"""The site's own error pages (templates/404.html, 403.html, 403_csrf.html, 400.html, 500.html) with DEBUG
off, the favicon, and `make run`'s web server (dev settings, DEBUG off as scripts/run.sh starts it) showing
them and still serving static files without collectstatic."""

import os

import httpx
import pytest
from django.contrib.staticfiles import finders
from django.template import loader
from django.test import Client, override_settings
from django.urls import path, reverse

from tests.conftest import database_url, stop, web_start
from tests.factories import user_make


def boom(request):
    raise RuntimeError("a bug in a view")


urlpatterns = [path("boom/", boom)]  # this module is the URLconf of the 500 test


@pytest.fixture(autouse=True)
def _debug_off(settings):
    settings.DEBUG = False


def assert_site_page(page: str) -> None:
    assert "QuantPrep</a>" in page and 'href="/"' in page  # the header, and a way home
    assert 'rel="icon"' in page and "favicon.svg" in page
    assert "Traceback" not in page and "DEBUG" not in page and "urlpatterns" not in page.lower()


@pytest.mark.django_db
def test_a_missing_page_is_the_styled_404_logged_in_or_not():
    anonymous = Client().get("/no-such-page/")
    assert anonymous.status_code == 404
    assert [t.name for t in anonymous.templates][0] == "404.html"
    page = anonymous.content.decode()
    assert "Page not found" in page and "/no-such-page/" in page and "css/site.css" in page
    assert_site_page(page)
    client = Client()
    client.force_login(user_make("ada"))
    page = client.get("/quizzes/no-such-quiz/").content.decode()
    assert "Page not found" in page and 'href="/labs/"' in page and "ada</a>" in page


@pytest.mark.django_db
def test_a_forbidden_page_is_the_styled_403():
    client = Client()
    client.force_login(user_make("ada"))
    response = client.get(reverse("cohort_list"))  # instructors only
    assert response.status_code == 403
    page = response.content.decode()
    assert "You may not open this page" in page and "Only instructors" not in page
    assert_site_page(page)


@pytest.mark.django_db
def test_a_form_without_its_csrf_token_is_the_styled_403():
    client = Client(enforce_csrf_checks=True)
    client.force_login(user_make("ada"))
    response = client.post(reverse("join"), {"invite_code": "X"})
    assert response.status_code == 403
    page = response.content.decode()
    assert "This form has expired" in page and "CSRF verification failed" not in page
    assert_site_page(page)


@pytest.mark.django_db
def test_a_bad_host_is_the_plain_400():
    response = Client().get("/", HTTP_HOST="evil.example")
    assert response.status_code == 400
    page = response.content.decode()
    assert "could not understand this request" in page
    assert_site_page(page)


@pytest.mark.django_db
@override_settings(ROOT_URLCONF=__name__)
def test_a_failing_view_is_the_plain_500():
    response = Client(raise_request_exception=False).get("/boom/")
    assert response.status_code == 500
    page = response.content.decode()
    assert "Something went wrong on our side" in page and "a bug in a view" not in page
    assert_site_page(page)


def test_the_500_page_needs_no_request_and_no_database():
    """No django_db mark: a query here would fail the test. Django renders 500.html with an empty context."""
    page = loader.get_template("500.html").render()
    assert "Something went wrong on our side" in page and "{%" not in page
    assert_site_page(page)


@pytest.mark.django_db
def test_the_favicon_is_linked_from_every_page_and_served():
    assert finders.find("favicon.svg")
    page = Client().get(reverse("login")).content.decode()
    assert 'rel="icon" href="/static/favicon.svg" type="image/svg+xml"' in page
    response = Client().get("/favicon.ico")
    assert response.status_code == 301 and response["Location"] == "/static/favicon.svg"


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_make_runs_web_server_shows_the_styled_404_and_serves_static_files_with_debug_off(tmp_path):
    """config.settings.dev with DEBUG off, as scripts/run.sh starts runserver: no debug page, and WhiteNoise
    still serves the static files from their folders (make run never runs collectstatic)."""
    env = {k: v for k, v in os.environ.items() if k != "TEST_DATABASE_URL"}
    env.update(DJANGO_SETTINGS_MODULE="config.settings.dev", DEBUG="false", DATABASE_URL=database_url(),
               QUANTPREP_VAR_DIR=str(tmp_path / "var"), PYTHONUNBUFFERED="1")
    proc, url = web_start(env, tmp_path / "web.log")
    try:
        missing = httpx.get(url + "/no-such-page/")
        assert missing.status_code == 404 and "Page not found" in missing.text
        assert "technical_404" not in missing.text and "URLconf" not in missing.text
        for asset in ("/static/css/site.css", "/static/favicon.svg", "/static/js/site.js"):
            assert httpx.get(url + asset).status_code == 200, asset
    finally:
        stop(proc)
