"""A small client for the QuantPrep API (labs/api.py). Every failure becomes a ``ClientError`` with a
message meant for a person; the caller decides how to show it."""

from __future__ import annotations

import time

import httpx

DEFAULT_URL = "http://127.0.0.1:8000"


class ClientError(Exception):
    """The server could not be reached or refused the request."""

    def __init__(self, message: str, *, status: int | None = None):
        super().__init__(message)
        self.status = status


class AuthError(ClientError):
    pass


class Client:
    def __init__(self, base_url: str, token: str, *, timeout: float = 30.0,
                 transport: httpx.BaseTransport | None = None):
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout, transport=transport,
                                  headers={"Authorization": f"Bearer {token}", "Accept": "application/json",
                                           "User-Agent": "quantprep-cli/0.1"})

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def labs(self) -> list[dict]:
        return self._request("GET", "/api/labs")

    def submit(self, lab: str, code: str) -> dict:
        return self._request("POST", f"/api/labs/{lab}/submissions", json={"code": code})

    def submission(self, submission_id: int) -> dict:
        return self._request("GET", f"/api/submissions/{submission_id}")

    # A GET only reads, so one lost to the network (a server closing an idle kept-alive connection as the
    # request goes out, a restart behind a load balancer) is sent again; a POST never is: it could submit twice.
    GET_ATTEMPTS = 3

    def _send(self, method: str, path: str, **kwargs) -> httpx.Response:
        attempts = self.GET_ATTEMPTS if method == "GET" else 1
        for attempt in range(1, attempts + 1):
            try:
                return self._http.request(method, path, **kwargs)
            except httpx.TransportError:
                if attempt == attempts:
                    raise
                time.sleep(0.2 * attempt)
        raise AssertionError("unreachable")

    def _request(self, method: str, path: str, **kwargs):
        try:
            response = self._send(method, path, **kwargs)
        except httpx.TimeoutException as exc:
            raise ClientError(f"the QuantPrep server at {self.base_url} did not answer in time ({exc}).") from exc
        except httpx.HTTPError as exc:
            raise ClientError(f"cannot reach the QuantPrep server at {self.base_url}: {exc or type(exc).__name__}. "
                              "Is it running? Set QUANTPREP_URL or --url.") from exc
        try:
            body = response.json()
        except ValueError:
            body = None
        detail = body.get("detail") if isinstance(body, dict) else None
        if response.status_code == 401:
            raise AuthError(f"the server refused the token: {detail or 'HTTP 401'}", status=401)
        if response.status_code >= 400:
            if isinstance(detail, list):  # ninja's validation errors
                detail = "; ".join(str(item.get("msg", item)) if isinstance(item, dict) else str(item)
                                   for item in detail)
            raise ClientError(detail or f"HTTP {response.status_code} from {response.url}",
                              status=response.status_code)
        if body is None:
            raise ClientError(f"unexpected answer from {response.url} (HTTP {response.status_code}, "
                              f"{response.headers.get('content-type', 'no content type')}): is {self.base_url} "
                              "a QuantPrep server?", status=response.status_code)
        return body
