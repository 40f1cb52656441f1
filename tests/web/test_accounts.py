"""Accounts, roles and cohorts through the web pages."""

import pytest
from django.urls import reverse

from cohorts.models import Cohort, Enrolment
from cohorts.roles import is_instructor
from cohorts.services import cohort_create
from tests.factories import PASSWORD, instructor_make, user_make

pytestmark = pytest.mark.django_db


def test_register_with_invite_code_joins_the_cohort(client):
    cohort = cohort_create(name="Spring", instructor=instructor_make())
    response = client.post(reverse("register"), {"username": "ada", "password1": PASSWORD, "password2": PASSWORD,
                                                 "invite_code": cohort.invite_code.lower()})
    assert response.status_code == 302
    assert Enrolment.objects.filter(cohort=cohort, student__username="ada").exists()
    assert client.get(reverse("home")).status_code == 200


def test_a_wrong_invite_code_is_a_form_error_and_creates_no_account(client):
    response = client.post(reverse("register"), {"username": "bob", "password1": PASSWORD, "password2": PASSWORD,
                                                 "invite_code": "NOPE"})
    assert response.status_code == 200
    assert "No cohort has the invite code" in response.content.decode()
    assert not Enrolment.objects.exists()
    from django.contrib.auth.models import User

    assert not User.objects.filter(username="bob").exists()


def test_login_logout_and_pages_need_login(client):
    user_make("carol")
    assert client.get(reverse("labs:list")).status_code == 302
    assert client.post(reverse("login"), {"username": "carol", "password": PASSWORD}).status_code == 302
    assert client.get(reverse("labs:list")).status_code == 200
    client.post(reverse("logout"))
    assert client.get(reverse("labs:list")).status_code == 302


def test_students_cannot_open_the_cohort_pages_and_instructors_see_only_their_cohorts(client):
    """The instructor's pages (/cohorts/, which replaced the dashboard, and a cohort's page): 403 for a student;
    an instructor lists and opens only the cohorts they teach."""
    teacher, other = instructor_make("t1"), instructor_make("t2")
    mine, theirs = cohort_create(name="Mine", instructor=teacher), cohort_create(name="Theirs", instructor=other)
    student_a, student_b = user_make("in-mine"), user_make("in-theirs")
    Enrolment.objects.create(cohort=mine, student=student_a)
    Enrolment.objects.create(cohort=theirs, student=student_b)
    assert is_instructor(teacher) and not is_instructor(student_a)

    client.force_login(student_a)
    assert client.get(reverse("cohort_list")).status_code == 403
    assert client.get(reverse("cohort", args=[mine.id])).status_code == 403
    client.force_login(teacher)
    listing = client.get(reverse("cohort_list")).content.decode()
    assert "Mine" in listing and mine.invite_code in listing
    assert "Theirs" not in listing and theirs.invite_code not in listing
    page = client.get(reverse("cohort", args=[mine.id])).content.decode()
    assert "in-mine" in page and "in-theirs" not in page
    assert client.get(reverse("cohort", args=[theirs.id])).status_code == 404


def test_join_with_code_from_the_home_page(client):
    cohort = Cohort.objects.create(name="Late")
    student = user_make("dave")
    client.force_login(student)
    client.post(reverse("join"), {"invite_code": f"  {cohort.invite_code} "})
    assert Enrolment.objects.filter(cohort=cohort, student=student).exists()
