from django.contrib import admin
from django.urls import include, path

# /healthz and /readyz are answered by config.health.HealthCheckMiddleware, before any URL resolving.
urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("cohorts.urls")),
    path("", include("quizzes.urls")),
    path("labs/", include("labs.urls")),
    path("drills/", include("drills.urls")),
    path("reports/", include("reports.urls")),
    path("api/", include("labs.api")),
]
