"""Who works the report queue: instructors (the instructor role) and content authors (Django staff)."""

from django.contrib.auth.models import User

from cohorts.roles import is_instructor


def is_report_staff(user: User) -> bool:
    return user.is_authenticated and (user.is_staff or is_instructor(user))
