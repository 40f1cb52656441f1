from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from config.limits import answer_check_limited, refusal
from content.names import part_label
from quizzes.bank import BankFilterForm, bank_questions, bank_tags
from quizzes.forms import answer_from_post
from quizzes.models import Part, Question, Response
from quizzes.selectors import bank_hidden_slugs, exam_in_progress, exam_refusal_text, part_params, prompt_fill
from quizzes.services.answers import response_save


@login_required
def question_list(request: HttpRequest) -> HttpResponse:
    """The bank, searched and filtered by the GET parameters q, tier and tag (quizzes.bank); an unknown tier or
    tag answers 400 with the form's message and the whole bank under it."""
    form = BankFilterForm(request.GET, tags=bank_tags(user=request.user))
    valid = form.is_valid()
    filters = form.cleaned_data if valid else {}
    questions = bank_questions(user=request.user, text=filters.get("q", ""), tier=filters.get("tier", ""),
                               tag=filters.get("tag", ""))
    return render(request, "quizzes/question_list.html", {
        "form": form, "questions": questions, "filtered": any(filters.values())}, status=200 if valid else 400)


@login_required
def question_detail(request: HttpRequest, slug: str) -> HttpResponse:
    """The question with, under each part, the learner's last checked answer and its verdict and feedback, so a
    reload loses nothing. While an exam that asks this question runs, the bank refuses checks on it and shows
    no earlier verdict either (nothing here answers an exam question)."""
    question = _bank_question(request, slug)
    exam = exam_in_progress(user=request.user, question_ids=[question.id])
    parts = []
    for part in question.parts.all():
        last = None if exam else Response.objects.filter(user=request.user, part=part).first()
        chosen = {a.strip() for a in last.answer.split(",")} if last else set()
        params = part_params(part=part, user=request.user)
        parts.append({"part": part, "params": params, "prompt": prompt_fill(part.prompt, params), "last": last,
                      "chosen": chosen})
    return render(request, "quizzes/question_detail.html", {
        "question": question, "parts": parts, "exam": exam_refusal_text(exam) if exam else ""})


def _bank_question(request: HttpRequest, slug: str) -> Question:
    """A question of the bank this learner may open: not one kept private until its quiz closes."""
    if slug in bank_hidden_slugs(user=request.user):
        raise Http404("No such question.")
    return get_object_or_404(Question, slug=slug)


@login_required
@require_POST
def part_answer(request: HttpRequest, slug: str, key: str) -> HttpResponse:
    part = get_object_or_404(Part, question=_bank_question(request, slug), key=key)
    if exam := exam_in_progress(user=request.user, question_ids=[part.question_id]):
        return refusal(exam_refusal_text(exam), status=409)
    if (refused := answer_check_limited(request)) is not None:
        return refused
    result, _ = response_save(user=request.user, part=part, answer=answer_from_post(request))
    if request.htmx:
        return render(request, "_verdict.html", {"result": result})
    # Without JavaScript the form posts normally: show the verdict on the question page.
    messages.info(request, f"{part_label(part.order)}: " + (result.error or result.feedback or
                                                   ("Correct." if result.correct else "Not correct.")))
    return redirect("quizzes:detail", slug=slug)
