from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from config.limits import answer_check_limited
from quizzes.content import CARD_GROUP
from quizzes.models import Part, Question, Response
from quizzes.selectors import part_params, prompt_fill
from quizzes.services.answers import response_save


@login_required
def question_list(request: HttpRequest) -> HttpResponse:
    questions = Question.objects.exclude(group=CARD_GROUP)  # card mirrors are reached through their decks
    return render(request, "quizzes/question_list.html", {"questions": questions})


@login_required
def question_detail(request: HttpRequest, slug: str) -> HttpResponse:
    question = get_object_or_404(Question, slug=slug)
    parts = []
    for part in question.parts.all():
        last = Response.objects.filter(user=request.user, part=part).first()
        params = part_params(part=part, user=request.user)
        parts.append({"part": part, "params": params, "prompt": prompt_fill(part.prompt, params), "last": last})
    return render(request, "quizzes/question_detail.html", {"question": question, "parts": parts})


@login_required
@require_POST
def part_answer(request: HttpRequest, slug: str, key: str) -> HttpResponse:
    part = get_object_or_404(Part, question__slug=slug, key=key)
    if (refused := answer_check_limited(request)) is not None:
        return refused
    result, _ = response_save(user=request.user, part=part, answer=request.POST.get("answer", ""))
    if request.htmx:
        return render(request, "_verdict.html", {"result": result})
    # Without JavaScript the form posts normally: show the verdict on the question page.
    messages.info(request, f"Part {part.key}: " + (result.error or result.feedback or
                                                   ("Correct." if result.correct else "Not correct.")))
    return redirect("quizzes:detail", slug=slug)
