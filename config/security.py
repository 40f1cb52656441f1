"""Response headers that every page gets: the Content-Security-Policy (settings.CONTENT_SECURITY_POLICY).

Scripts come only from our own static files (no inline script, no eval), so text that slips past the
sanitizer still cannot run; styles may be inline because KaTeX, MathLive, CodeMirror and htmx set them."""

from django.conf import settings


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", settings.CONTENT_SECURITY_POLICY)
        return response
