"""Quizzes in Django's admin, read-mostly (see cohorts.admin)."""

from django.contrib import admin

from cohorts.admin import ReadMostlyAdmin
from quizzes.models import AttemptGrant, Extension, Quiz


@admin.register(Quiz)
class QuizAdmin(ReadMostlyAdmin):
    list_display = ("slug", "title", "cohort", "builtin", "time_limit_s", "max_attempts", "archived_at")
    list_filter = ("builtin", "cohort")
    search_fields = ("slug", "title")


@admin.register(Extension)
class ExtensionAdmin(ReadMostlyAdmin):
    list_display = ("quiz", "user", "extra_s", "granted_by", "granted_at", "reason")
    search_fields = ("user__username", "quiz__slug")


@admin.register(AttemptGrant)
class AttemptGrantAdmin(ReadMostlyAdmin):
    list_display = ("quiz", "user", "extra", "granted_by", "granted_at", "reason")
    search_fields = ("user__username", "quiz__slug")
