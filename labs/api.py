"""The small REST API of the ``quantprep`` CLI (docs/cli.md), mounted at ``/api/``. Thin: reads go through
``labs.selectors``, writes through ``labs.services``; authentication is a bearer token checked by
``cohorts.tokens``. A submission the caller may not see answers 404, as one that does not exist does,
so ids do not leak."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.decorators import login_required
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from ninja import NinjaAPI, Schema, Status
from ninja.errors import AuthenticationError, HttpError
from ninja.security import HttpBearer

from cohorts.tokens import token_authenticate
from labs.grading import MAX_CODE_BYTES
from labs.models import Lab, Submission
from labs.selectors import submissions_visible_to
from labs.services import SubmissionRejected, TooManySubmissions, submission_create

UNAUTHORIZED = ("The API token is missing, unknown, expired or revoked. Send 'Authorization: Bearer <token>'; "
                "make one on your account page (/account/ on the site).")


class BearerToken(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str):
        user = token_authenticate(token.strip())
        if user is not None:
            request.user = user
        return user


api = NinjaAPI(title="QuantPrep API", version="1", urls_namespace="api", auth=BearerToken(),
               docs_decorator=login_required,  # the interactive docs for signed-in users only
               description="Labs and submissions for the quantprep command-line client (docs/cli.md).")


@api.exception_handler(AuthenticationError)
def unauthorized(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    response = api.create_response(request, {"detail": UNAUTHORIZED}, status=401)
    response["WWW-Authenticate"] = 'Bearer realm="quantprep"'
    return response


@api.exception_handler(RequestDataTooBig)
def too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    # Above DATA_UPLOAD_MAX_MEMORY_SIZE Django refuses to read the body at all; say why, in JSON.
    return api.create_response(request, {"detail": f"The submission is larger than {MAX_CODE_BYTES // 1024} KB."},
                               status=400)


class Message(Schema):
    detail: str


class LabOut(Schema):
    slug: str
    title: str
    summary: str


class SubmissionIn(Schema):
    code: str


class SubmissionCreated(Schema):
    id: int
    status: str
    url: str
    web_url: str


class SubmissionOut(Schema):
    id: int
    lab: str
    status: str
    progress: str
    verdict: str
    score: float | None
    score_override: float | None  # an instructor's score, which counts instead of ``score`` (the grader's)
    result: dict
    created_at: dt.datetime
    finished_at: dt.datetime | None
    web_url: str


def _urls(request: HttpRequest, submission: Submission) -> dict:
    return {"url": request.build_absolute_uri(reverse("api:submission_get", args=[submission.id])),
            "web_url": request.build_absolute_uri(reverse("labs:submission", args=[submission.id]))}


@api.get("/labs", response=list[LabOut], summary="The labs one can submit to")
def lab_list(request: HttpRequest):
    return list(Lab.objects.values("slug", "title", "summary"))


@api.post("/labs/{slug}/submissions", response={201: SubmissionCreated, 400: Message, 404: Message, 429: Message},
          summary="Submit code to a lab; grading is queued")
def submission_post(request: HttpRequest, slug: str, payload: SubmissionIn):
    lab = Lab.objects.filter(slug=slug).first()
    if lab is None:
        raise HttpError(404, f"There is no lab called {slug!r}; 'quantprep labs' lists them.")
    try:
        submission = submission_create(user=request.auth, lab=lab, code=payload.code)
    except TooManySubmissions as exc:
        response = api.create_response(request, {"detail": str(exc)}, status=429)
        if exc.retry_after:
            response["Retry-After"] = str(exc.retry_after)
        return response
    except SubmissionRejected as exc:
        return Status(400, {"detail": str(exc)})
    return Status(201, {"id": submission.id, "status": submission.status, **_urls(request, submission)})


@api.get("/submissions/{int:submission_id}", response={200: SubmissionOut, 404: Message}, url_name="submission_get",
         summary="A submission's status, progress and verdict")
def submission_get(request: HttpRequest, submission_id: int):
    submission = submissions_visible_to(request.auth).select_related("lab").filter(id=submission_id).first()
    if submission is None:
        raise HttpError(404, f"No submission {submission_id}.")
    return {"id": submission.id, "lab": submission.lab.slug, "status": submission.status,
            "progress": submission.progress, "verdict": submission.verdict, "score": submission.score,
            "score_override": submission.score_override, "result": submission.result or {},
            "created_at": submission.created_at, "finished_at": submission.finished_at,
            "web_url": _urls(request, submission)["web_url"]}


# ``path("api/", include("labs.api"))`` in config/urls.py: the namespace is "api", as ninja expects.
urlpatterns, _, app_name = api.urls
