"""The CLI's REST API (labs/api.py) and its bearer tokens (cohorts/tokens.py): tokens are stored as digests
only, dead tokens get 401, other people's submissions are 404 (never 403), and a submission is queued
exactly once, after its row is committed."""

import datetime as dt
import hashlib
import io

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from cohorts.models import ApiToken
from cohorts.tokens import TOKEN_MARK, TokenRefused, token_authenticate, token_create, token_revoke
from labs import tasks
from labs.grading import GradeReport, Verdict
from labs.models import Submission
from labs.services import submission_record_result
from tests.factories import instructor_make, user_make

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued(monkeypatch):
    """Grading tasks sent to the broker (none is: the list records them)."""
    sent = []
    monkeypatch.setattr(tasks.grade_submission, "apply_async", lambda args, *a, **k: sent.append(args[0]))
    return sent


def api_client(plaintext: str | None) -> Client:
    return Client(headers={"Authorization": f"Bearer {plaintext}"} if plaintext else {})


def login(username: str) -> tuple:
    user = user_make(username)
    return user, api_client(token_create(user=user)[1])


def post_code(client: Client, code: str, slug: str = "fp8-e4m3"):
    return client.post(f"/api/labs/{slug}/submissions", {"code": code}, content_type="application/json")


# --- tokens -------------------------------------------------------------------------------------

def test_only_a_digest_and_a_prefix_of_the_token_are_stored():
    user = user_make("ann")
    token, plaintext = token_create(user=user)
    assert plaintext.startswith(TOKEN_MARK) and len(plaintext) >= 40
    stored = ApiToken.objects.filter(id=token.id).values().get()
    assert plaintext not in " ".join(str(value) for value in stored.values())
    assert stored["digest"] == hashlib.sha256(plaintext.encode()).hexdigest()
    assert plaintext.startswith(stored["prefix"]) and len(stored["prefix"]) < 16
    assert dt.timedelta(days=29, hours=23) < token.expires_at - timezone.now() <= dt.timedelta(days=30)
    assert token_create(user=user)[1] != plaintext


def test_authentication_finds_the_user_and_records_the_use():
    user = user_make("ann")
    token, plaintext = token_create(user=user, days=3)
    assert token.last_used_at is None
    assert token_authenticate(plaintext) == user
    token.refresh_from_db()
    assert token.last_used_at is not None
    assert token_authenticate(plaintext[:-1] + ("A" if plaintext[-1] != "A" else "B")) is None
    assert token_authenticate(token.prefix) is None
    assert token_authenticate("") is None and token_authenticate(token.digest) is None


def test_expired_revoked_and_inactive_tokens_authenticate_nobody():
    user = user_make("ann")
    token, plaintext = token_create(user=user, days=1)
    assert token_authenticate(plaintext, now=timezone.now() + dt.timedelta(days=1, seconds=1)) is None
    assert token_authenticate(plaintext) == user
    user.is_active = False
    user.save()
    assert token_authenticate(plaintext) is None
    user.is_active = True
    user.save()
    token_revoke(token=token)
    first = token.revoked_at
    assert first is not None and token_authenticate(plaintext) is None
    assert token_revoke(token=token).revoked_at == first
    with pytest.raises(TokenRefused):
        token_create(user=user, days=0)


def test_the_management_command_prints_a_working_token_once_and_revokes_it():
    user = user_make("ann")
    out, err = io.StringIO(), io.StringIO()
    call_command("api_token", "ann", "--days", "7", stdout=out, stderr=err)
    plaintext = out.getvalue().strip()
    assert token_authenticate(plaintext) == user and "shown only now" in err.getvalue()
    listing = io.StringIO()
    call_command("api_token", "ann", "--list", stdout=listing)
    assert plaintext[:11] in listing.getvalue() and plaintext not in listing.getvalue()
    call_command("api_token", "ann", "--revoke", plaintext[:11], stdout=io.StringIO())
    assert token_authenticate(plaintext) is None


# --- authentication on the API ------------------------------------------------------------------

@pytest.mark.parametrize("header", [None, "Bearer", "Bearer qp_not-a-token", "Token qp_x", "Basic YTpi"])
def test_requests_without_a_live_token_get_401_with_a_json_message(lab, header):
    client = Client(headers={"Authorization": header} if header else {})
    for response in (client.get("/api/labs"), client.get("/api/submissions/1"), post_code(client, "x = 1")):
        assert response.status_code == 401
        assert "token" in response.json()["detail"]
        assert response["WWW-Authenticate"].startswith("Bearer")


def test_an_expired_or_revoked_token_gets_401(lab):
    user = user_make("ann")
    expired, expired_text = token_create(user=user)
    ApiToken.objects.filter(id=expired.id).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    revoked, revoked_text = token_create(user=user)
    assert api_client(revoked_text).get("/api/labs").status_code == 200
    token_revoke(token=revoked)
    for plaintext in (expired_text, revoked_text):
        response = api_client(plaintext).get("/api/labs")
        assert response.status_code == 401 and "expired or revoked" in response.json()["detail"]


# --- endpoints ----------------------------------------------------------------------------------

def test_the_labs_are_listed(lab):
    _, client = login("ann")
    labs = client.get("/api/labs").json()
    assert {"slug": "fp8-e4m3", "title": lab.title, "summary": lab.summary} in labs
    assert all(set(item) == {"slug", "title", "summary"} for item in labs)


def test_a_submission_is_created_and_queued_exactly_once_on_commit(lab, queued, django_capture_on_commit_callbacks):
    user, client = login("ann")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = post_code(client, "def quantize(x):\n    return x\n")
    assert response.status_code == 201
    body = response.json()
    submission = Submission.objects.get()
    assert (submission.user, submission.lab, submission.status) == (user, lab, "queued")
    assert body["id"] == submission.id and body["status"] == "queued"
    assert body["url"].endswith(f"/api/submissions/{submission.id}")
    assert body["web_url"].endswith(f"/labs/submissions/{submission.id}/")
    assert len(callbacks) == 1 and queued == [submission.id]


def test_a_rejected_submission_is_400_with_the_reason(lab, queued, django_capture_on_commit_callbacks):
    _, client = login("ann")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        empty = post_code(client, "   \n")
        huge = post_code(client, "#" * 300_000)
    assert empty.status_code == 400 and empty.json() == {"detail": "The submission is empty."}
    assert huge.status_code == 400 and "larger than" in huge.json()["detail"]
    enormous = post_code(client, "#" * 3_000_000)  # above MAX_REQUEST_BYTES: refused before it is read
    assert enormous.status_code == 413 and enormous.json() == {"detail": "The request is larger than 2048 KB."}
    assert client.post("/api/labs/fp8-e4m3/submissions", {}, content_type="application/json").status_code == 422
    assert Submission.objects.count() == 0 and callbacks == [] and queued == []


def test_an_unknown_lab_is_404(lab, queued):
    _, client = login("ann")
    response = post_code(client, "x = 1", slug="no-such-lab")
    assert response.status_code == 404 and "no-such-lab" in response.json()["detail"]
    assert Submission.objects.count() == 0


def test_a_submission_shows_its_progress_and_then_its_verdict(lab, queued):
    _, client = login("ann")
    submission_id = post_code(client, "x = 1").json()["id"]
    body = client.get(f"/api/submissions/{submission_id}").json()
    assert (body["id"], body["lab"], body["status"], body["progress"]) == (submission_id, "fp8-e4m3", "queued",
                                                                           "queued")
    assert body["verdict"] == "" and body["score"] is None and body["result"] == {}
    report = GradeReport(Verdict.WRONG_ANSWER, score=0.0, cases=[
        {"name": "small", "passed": False, "message": "off by one binade\nmore", "metrics": {}}],
        diagnostics="1 of 1 cases failed.")
    submission_record_result(submission_id=submission_id, report=report)
    body = client.get(f"/api/submissions/{submission_id}").json()
    assert (body["status"], body["verdict"], body["score"]) == ("done", "wrong_answer", 0.0)
    assert body["result"]["cases"][0]["name"] == "small" and body["finished_at"]


def test_another_students_submission_is_404_like_a_missing_one(lab, queued):
    _, ann = login("ann")
    _, bob = login("bob")
    submission_id = post_code(ann, "x = 1").json()["id"]
    theirs, missing = bob.get(f"/api/submissions/{submission_id}"), bob.get(f"/api/submissions/{submission_id + 99}")
    assert theirs.status_code == missing.status_code == 404
    assert theirs.json()["detail"] == f"No submission {submission_id}."
    assert ann.get(f"/api/submissions/{submission_id}").status_code == 200


def test_an_instructor_sees_what_the_web_pages_show_them(lab, queued):
    """The API uses the same selector as the pages: a teacher sees their own students' submissions."""
    from cohorts.models import Cohort, Enrolment

    student, ann = login("ann")
    teacher = instructor_make("teacher")
    other = instructor_make("other")
    cohort = Cohort.objects.create(name="c")
    cohort.instructors.add(teacher)
    Enrolment.objects.create(cohort=cohort, student=student)
    submission_id = post_code(ann, "x = 1").json()["id"]
    assert api_client(token_create(user=teacher)[1]).get(f"/api/submissions/{submission_id}").status_code == 200
    assert api_client(token_create(user=other)[1]).get(f"/api/submissions/{submission_id}").status_code == 404


def test_the_openapi_schema_describes_the_endpoints_and_the_bearer_scheme():
    assert Client().get("/api/openapi.json").status_code == 302  # signed-in users only, like /api/docs
    client = Client()
    client.force_login(user_make("schema-reader"))
    schema = client.get("/api/openapi.json").json()
    assert {"/api/labs", "/api/labs/{slug}/submissions", "/api/submissions/{submission_id}"} <= set(schema["paths"])
    schemes = schema["components"]["securitySchemes"]
    assert any(s.get("scheme") == "bearer" for s in schemes.values())
