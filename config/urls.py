from django.contrib import admin
from django.http import HttpResponsePermanentRedirect
from django.templatetags.static import static
from django.urls import include, path


def favicon(_request):
    """For clients that ask for /favicon.ico without reading the page's <link rel="icon"> (resolved per request:
    the manifest of hashed static names may not exist when the URLconf is imported)."""
    return HttpResponsePermanentRedirect(static("favicon.svg"))


# /healthz and /readyz are answered by config.health.HealthCheckMiddleware, before any URL resolving.
urlpatterns = [
    path("admin/", admin.site.urls),
    path("favicon.ico", favicon),
    path("", include("cohorts.urls")),
    path("", include("quizzes.urls")),
    path("labs/", include("labs.urls")),
    path("drills/", include("drills.urls")),
    path("reports/", include("reports.urls")),
    path("api/", include("labs.api")),
]
