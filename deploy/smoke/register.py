"""Registers a learner over HTTP the way a browser does (the form, its CSRF token and cookie), standard
library only: python3 deploy/smoke/register.py BASE_URL USERNAME PASSWORD. Exit 0 once the site answers the
form with the redirect home that follows a new account."""

import http.cookiejar
import re
import sys
import urllib.error
import urllib.parse
import urllib.request


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def main(base: str, username: str, password: str) -> int:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect)
    page = opener.open(f"{base}/register/", timeout=30).read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    # Production marks the cookie Secure, so a client keeps it only for https; send it back by hand.
    cookie = next((c.value for c in jar if c.name == "csrftoken"), None)
    if token is None or cookie is None:
        print("register: the form has no CSRF token or cookie", file=sys.stderr)
        return 1
    body = urllib.parse.urlencode({"csrfmiddlewaretoken": token.group(1), "username": username,
                                   "password1": password, "password2": password, "invite_code": ""}).encode()
    request = urllib.request.Request(f"{base}/register/", data=body, headers={
        "Cookie": f"csrftoken={cookie}", "Content-Type": "application/x-www-form-urlencoded"})
    try:
        response = opener.open(request, timeout=30)
        status, location = response.status, response.headers.get("Location", "")
    except urllib.error.HTTPError as exc:
        status, location = exc.code, exc.headers.get("Location", "")
    if status != 302 or location not in {"/", f"{base}/"}:
        print(f"register: expected a redirect home after the form, got HTTP {status} {location!r}", file=sys.stderr)
        return 1
    print(f"registered {username} over HTTP (302 -> {location})")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
