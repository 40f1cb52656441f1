"""Problem reports in Django's admin, read-mostly (see cohorts.admin): the queue page answers them."""

from django.contrib import admin

from cohorts.admin import ReadMostlyAdmin
from reports.models import ProblemReport


@admin.register(ProblemReport)
class ProblemReportAdmin(ReadMostlyAdmin):
    list_display = ("id", "subject", "where", "reporter", "status", "created_at", "answered_by", "answered_at")
    list_filter = ("status", "where")
    search_fields = ("subject", "reporter__username", "text")
