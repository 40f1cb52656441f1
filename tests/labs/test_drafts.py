"""Lab drafts (issue #18, "nothing lost"): the lab page autosaves the learner's code as a draft and opens on it
again; a draft is the owner's only (another learner's is never shown or written); past the submission size cap
it is refused (413) with a message; the autosave needs the CSRF token; the editor opens on the newest of the
draft and the last submission, else the starter."""

from __future__ import annotations

import datetime as dt
import html
import re

import pytest
from django.test import Client

from labs import services
from labs.grading import MAX_CODE_BYTES
from labs.models import Lab, LabDraft, Submission
from tests.factories import user_make

pytestmark = pytest.mark.django_db
STARTER = "def quantize(x):\n    raise NotImplementedError\n"


@pytest.fixture
def lab():
    return Lab.objects.create(slug="draft-lab", title="Draft lab", statement="Write it.", starter=STARTER)


def editor(page: str) -> str:
    """The code the editor opens with: the solution textarea's text (the starter's own textarea aside)."""
    return html.unescape(re.search(r'<textarea id="code"[^>]*>\n(.*?)</textarea>', page, re.S).group(1))


def client_for(username: str) -> tuple[Client, object]:
    user = user_make(username)
    client = Client()
    client.force_login(user)
    return client, user


def test_a_saved_draft_is_what_the_page_opens_with(lab):
    client, user = client_for("dora")
    page = client.get("/labs/draft-lab/").content.decode()
    assert editor(page) == STARTER and "Draft saved" not in page  # the starter, no draft yet
    response = client.post("/labs/draft-lab/draft/", {"code": "def quantize(x):\n    return x  # mine\n"})
    assert response.status_code == 200
    data = response.json()
    assert data["saved"] is True and len(data["saved_hhmm"]) == 5
    assert LabDraft.objects.get(user=user, lab=lab).code.endswith("# mine\n")
    page = client.get("/labs/draft-lab/").content.decode()
    assert editor(page) == "def quantize(x):\n    return x  # mine\n"
    assert f"Draft saved {data['saved_hhmm']}" in page
    client.post("/labs/draft-lab/draft/", {"code": "v2"})  # overwritten, one row
    assert LabDraft.objects.filter(user=user, lab=lab).count() == 1
    assert LabDraft.objects.get(user=user, lab=lab).code == "v2"


def test_another_learners_draft_is_never_shown_nor_written(lab):
    owner, owner_user = client_for("olga")
    other, other_user = client_for("otto")
    owner.post("/labs/draft-lab/draft/", {"code": "# olga's secret solution"})
    assert editor(other.get("/labs/draft-lab/").content.decode()) == STARTER
    other.post("/labs/draft-lab/draft/", {"code": "# otto's"})  # writes otto's own draft, not olga's
    assert LabDraft.objects.get(user=owner_user, lab=lab).code == "# olga's secret solution"
    assert LabDraft.objects.get(user=other_user, lab=lab).code == "# otto's"
    assert editor(owner.get("/labs/draft-lab/").content.decode()) == "# olga's secret solution"


def test_oversize_and_empty_requests_are_refused_with_a_message(lab):
    client, user = client_for("ola")
    big = "x" * (MAX_CODE_BYTES + 1)
    response = client.post("/labs/draft-lab/draft/", {"code": big})
    assert response.status_code == 413
    assert response.json() == {"saved": False, "error": f"Not saved: the code is larger than "
                               f"{MAX_CODE_BYTES // 1024} KB, the most a submission may be."}
    assert client.post("/labs/draft-lab/draft/", {}).status_code == 400
    assert client.post("/labs/draft-lab/draft/", {"code": "x" * MAX_CODE_BYTES}).status_code == 200  # at the cap
    assert not LabDraft.objects.filter(code=big).exists()


def test_the_autosave_needs_a_login_the_csrf_token_and_a_post(lab):
    assert Client().post("/labs/draft-lab/draft/", {"code": "x"}).status_code == 302  # to the login page
    user = user_make("cara")
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(user)
    assert strict.post("/labs/draft-lab/draft/", {"code": "x"}).status_code == 403
    strict.get("/labs/draft-lab/")
    token = strict.cookies["csrftoken"].value
    assert strict.post("/labs/draft-lab/draft/", {"code": "x"}, HTTP_X_CSRFTOKEN=token).status_code == 200
    assert strict.post("/labs/draft-lab/draft/", {"code": "y", "csrfmiddlewaretoken": token}).status_code == 200
    assert strict.get("/labs/draft-lab/draft/").status_code == 405
    assert Client(enforce_csrf_checks=True).get("/labs/no-such-lab/").status_code == 302
    assert LabDraft.objects.get(user=user, lab=lab).code == "y"


def test_the_editor_opens_on_the_newest_of_draft_and_last_submission(lab, monkeypatch):
    monkeypatch.setattr(services, "submission_enqueue", lambda submission_id, delay_s=0: None)
    client, user = client_for("nina")
    client.post("/labs/draft-lab/draft/", {"code": "# the draft"})
    submission = Submission.objects.create(user=user, lab=lab, code="# uploaded later")  # e.g. through the API
    page = client.get("/labs/draft-lab/").content.decode()
    assert editor(page) == "# uploaded later" and "Draft saved" not in page  # the submission is newer
    LabDraft.objects.filter(user=user).update(updated_at=submission.created_at + dt.timedelta(seconds=1))
    page = client.get("/labs/draft-lab/").content.decode()
    assert editor(page) == "# the draft" and "Draft saved" in page
    LabDraft.objects.all().delete()
    assert editor(client.get("/labs/draft-lab/").content.decode()) == "# uploaded later"  # no draft
    Submission.objects.all().delete()
    assert editor(client.get("/labs/draft-lab/").content.decode()) == STARTER  # neither: the starter


def test_a_refused_submission_keeps_the_posted_code_and_drafts_do_not_count_as_submissions(lab):
    client, user = client_for("rita")
    for n in range(5):
        assert client.post("/labs/draft-lab/draft/", {"code": f"# try {n}"}).status_code == 200
    assert Submission.objects.filter(user=user).count() == 0  # no submission, no rate limit spent
    response = client.post("/labs/draft-lab/", {"code": "y" * (MAX_CODE_BYTES + 1) + "# posted"})
    assert response.status_code == 400 and editor(response.content.decode()).endswith("# posted")
