"""Roles are Django groups, so permissions can be managed in the admin like any other."""

from django.contrib.auth.models import Group, User

STUDENT = "student"
INSTRUCTOR = "instructor"


def is_instructor(user: User) -> bool:
    return user.is_authenticated and (user.is_superuser or user.groups.filter(name=INSTRUCTOR).exists())


def role_grant(*, user: User, role: str) -> None:
    group, _ = Group.objects.get_or_create(name=role)
    user.groups.add(group)
