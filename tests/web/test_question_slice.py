"""The thin question slice: a question page with LaTeX for KaTeX, and numeric and symbolic parts graded by
graders.answers.check_answer."""

import pytest
from django.urls import reverse

from quizzes.models import Response
from tests.factories import question_make, user_make

pytestmark = pytest.mark.django_db


@pytest.fixture
def student_client(client):
    client.force_login(user_make("sam"))
    return client


def test_question_page_keeps_latex_for_katex_and_loads_it_locally(student_client):
    question_make()
    page = student_client.get(reverse("quizzes:detail", args=["kv-cache-7b"])).content.decode()
    assert "$n_{layers} = 32$" in page  # not mangled by Markdown (the underscore is not emphasis)
    assert "/static/vendor/katex/katex.min.js" in page and "cdn" not in page.lower()


def test_a_numeric_part_is_graded_and_stored(student_client):
    question_make()
    url = reverse("quizzes:answer", args=["kv-cache-7b", "a"])
    page = student_client.post(url, {"answer": "0.524288 MB"}, HTTP_HX_REQUEST="true").content.decode()
    assert "Correct" in page and "Converted" in page
    wrong = student_client.post(url, {"answer": "262.144"}, HTTP_HX_REQUEST="true").content.decode()
    assert "Not correct" in wrong and "multiply by 2" in wrong
    assert [r.correct for r in Response.objects.order_by("created_at")] == [True, False]


def test_input_that_does_not_parse_is_not_graded_and_not_stored(student_client):
    question_make()
    url = reverse("quizzes:answer", args=["kv-cache-7b", "b"])
    page = student_client.post(url, {"answer": "s*(q - "}, HTTP_HX_REQUEST="true").content.decode()
    assert "Not graded" in page
    assert not Response.objects.exists()
    page = student_client.post(url, {"answer": "s q - s z"}, HTTP_HX_REQUEST="true").content.decode()
    assert "Correct" in page and "We read your answer as" in page


def test_without_javascript_the_answer_form_still_works(student_client):
    question_make()
    response = student_client.post(reverse("quizzes:answer", args=["kv-cache-7b", "a"]), {"answer": "524.288"},
                                   follow=True)
    assert "Correct" in response.content.decode()
