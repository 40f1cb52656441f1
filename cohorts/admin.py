"""Django's admin, read-mostly: the workspace pages make every change (with their audit rows); the admin
is for looking things up. Only a cohort's name can be edited here."""

from django.contrib import admin

from cohorts.models import AuditEntry, Cohort, Enrolment


class ReadMostlyAdmin(admin.ModelAdmin):
    """Every field read-only unless listed in ``editable``; nothing added or deleted here."""

    editable: tuple[str, ...] = ()

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.get_fields() if f.concrete and f.name not in self.editable]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Cohort)
class CohortAdmin(ReadMostlyAdmin):
    list_display = ("name", "invite_code", "created_at")
    search_fields = ("name", "invite_code")
    editable = ("name",)


@admin.register(Enrolment)
class EnrolmentAdmin(ReadMostlyAdmin):
    list_display = ("student", "cohort", "joined_at", "time_multiplier")
    list_filter = ("cohort",)
    search_fields = ("student__username", "cohort__name")


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadMostlyAdmin):
    list_display = ("at", "actor", "action", "cohort", "learner", "quiz", "reason")
    list_filter = ("action", "cohort")
    search_fields = ("actor__username", "learner__username", "reason")
