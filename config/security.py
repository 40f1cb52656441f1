"""What every request and response goes through before the views: a cap on the request's size, read from
its Content-Length before any of the body is (so no upload reaches the disk: FILE_UPLOAD_MAX_MEMORY_SIZE
is the same cap), and the Content-Security-Policy header (settings.CONTENT_SECURITY_POLICY).

Scripts come only from our own static files (no inline script, no eval), so text that slips past the
sanitizer still cannot run; styles may be inline because KaTeX, MathLive, CodeMirror and htmx set them."""

from django.conf import settings
from django.http import HttpResponse, JsonResponse


class RequestSizeLimitMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > settings.MAX_REQUEST_BYTES:
            message = f"The request is larger than {settings.MAX_REQUEST_BYTES // 1024} KB."
            if request.path.startswith("/api/"):  # the API's errors are JSON, whatever refuses them
                return JsonResponse({"detail": message}, status=413)
            return HttpResponse(message, status=413, content_type="text/plain; charset=utf-8")
        return self.get_response(request)


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", settings.CONTENT_SECURITY_POLICY)
        return response
