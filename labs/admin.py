"""Lab submissions in Django's admin, read-mostly (see cohorts.admin)."""

from django.contrib import admin

from cohorts.admin import ReadMostlyAdmin
from labs.models import Submission, WorkerHeartbeat


@admin.register(Submission)
class SubmissionAdmin(ReadMostlyAdmin):
    list_display = ("id", "user", "lab", "status", "verdict", "score", "score_override", "speed_review", "created_at")
    list_filter = ("status", "verdict", "lab", "speed_review")
    search_fields = ("user__username",)


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(ReadMostlyAdmin):
    list_display = ("hostname", "backend", "unsafe", "problem", "queues", "seen_at")
