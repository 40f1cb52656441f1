from django.contrib import admin
from django.urls import include, path

from config.health import healthz, readyz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("", include("cohorts.urls")),
    path("", include("quizzes.urls")),
    path("labs/", include("labs.urls")),
    path("drills/", include("drills.urls")),
    path("api/", include("labs.api")),
]
