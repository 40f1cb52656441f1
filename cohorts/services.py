"""State changes for accounts and cohorts."""

from django.contrib.auth.models import User
from django.db import transaction

from cohorts.models import Cohort, Enrolment
from cohorts.roles import INSTRUCTOR, STUDENT, role_grant


class InviteCodeInvalid(Exception):
    pass


@transaction.atomic
def student_register(*, username: str, password: str, invite_code: str = "") -> User:
    user = User.objects.create_user(username=username, password=password)
    role_grant(user=user, role=STUDENT)
    if invite_code:
        cohort_join(user=user, invite_code=invite_code)
    return user


@transaction.atomic
def cohort_create(*, name: str, instructor: User) -> Cohort:
    role_grant(user=instructor, role=INSTRUCTOR)
    cohort = Cohort.objects.create(name=name)
    cohort.instructors.add(instructor)
    return cohort


def cohort_join(*, user: User, invite_code: str) -> Cohort:
    code = invite_code.strip().upper()
    cohort = Cohort.objects.filter(invite_code=code).first()
    if cohort is None:
        raise InviteCodeInvalid(f"No cohort has the invite code {code!r}. Check it with your instructor.")
    Enrolment.objects.get_or_create(cohort=cohort, student=user)
    return cohort
