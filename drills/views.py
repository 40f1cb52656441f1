"""Thin views: the review page, the answer check (htmx), rating, settings, progress, Anki export."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from config.limits import answer_check_limited, refusal
from content.reader import card_question_slug
from graders.answers import check_answer
from quizzes.models import Question
from quizzes.selectors import exam_in_progress, exam_refusal_text

from . import anki, selectors, services
from .models import Card, Deck


def interval_label(delta: timedelta) -> str:
    seconds = max(0, delta.total_seconds())
    if seconds < 3600:
        return f"{max(1, round(seconds / 60))}m"
    if seconds < 86400:
        return f"{round(seconds / 3600)}h"
    days = seconds / 86400
    if days < 30:
        return f"{round(days)}d"
    if days < 365:
        return f"{days / 30:.1f}mo"
    return f"{days / 365:.1f}y"


@login_required
def review(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    prefs = services.settings_get(user=request.user)
    deck = None
    if request.GET.get("deck"):
        deck = get_object_or_404(Deck, slug=request.GET["deck"])
    queue = selectors.due_queue(user=request.user, now=now, limit=1, new_per_day=prefs.new_per_day, deck=deck)
    counts = selectors.queue_counts(user=request.user, now=now, new_per_day=prefs.new_per_day, deck=deck)
    item = queue[0] if queue else None
    buttons = []
    if item is not None:
        previews = services.intervals_preview(state=item.state, now=now, desired_retention=prefs.desired_retention)
        buttons = [{"value": v, "label": label, "interval": interval_label(previews[v])}
                   for v, label in ((1, "Again"), (2, "Hard"), (3, "Good"), (4, "Easy"))]
    graded = Card.objects.exclude(answer=None)
    decks = Deck.objects.annotate(graded=Count("cards", filter=Q(cards__in=graded)))
    quiz_tags = sorted({tag for tags in graded.values_list("tags", flat=True) for tag in tags})
    return render(request, "drills/review.html", {"item": item, "counts": counts, "buttons": buttons, "deck": deck,
                                                  "decks": decks, "prefs": prefs, "quiz_tags": quiz_tags})


@login_required
@require_POST
def card_check(request: HttpRequest, card_id: int) -> HttpResponse:
    card = get_object_or_404(Card, id=card_id)
    if not card.answer:
        raise Http404("this card has no graded answer")
    mirror = Question.objects.filter(slug=card_question_slug(card)).values_list("id", flat=True)
    if exam := exam_in_progress(user=request.user, question_ids=list(mirror)):
        return refusal(exam_refusal_text(exam), status=409)
    if (refused := answer_check_limited(request)) is not None:
        return refused
    result = check_answer(request.POST.get("answer", ""), card.answer)
    suggest = 3 if result.correct else 1
    return render(request, "drills/_check.html", {"result": result, "suggest": suggest, "card": card})


@login_required
@require_POST
def card_rate(request: HttpRequest, card_id: int) -> HttpResponse:
    card = get_object_or_404(Card, id=card_id)
    try:
        rating = int(request.POST.get("rating", ""))
    except ValueError:
        rating = 0
    if rating not in services.RATINGS:
        return HttpResponse("rating must be 1, 2, 3 or 4", status=400, content_type="text/plain; charset=utf-8")
    services.review_record(user=request.user, card=card, rating=rating, now=timezone.now())
    url = "drills:review"
    deck = request.POST.get("deck")
    return redirect(f"/drills/?deck={deck}") if deck else redirect(url)


@login_required
@require_POST
def settings_save(request: HttpRequest) -> HttpResponse:
    try:
        services.settings_update(user=request.user, desired_retention=float(request.POST["desired_retention"]),
                                 new_per_day=int(request.POST["new_per_day"]))
    except (KeyError, ValueError) as exc:
        return HttpResponse(f"bad settings: {exc}", status=400, content_type="text/plain; charset=utf-8")
    return redirect("drills:review")


@login_required
def deck_export(request: HttpRequest, slug: str, fmt: str) -> HttpResponse:
    deck = get_object_or_404(Deck, slug=slug)
    if fmt == "tsv":
        resp = HttpResponse(anki.export_tsv(deck), content_type="text/tab-separated-values; charset=utf-8")
        resp["Content-Disposition"] = f'attachment; filename="{slug}.txt"'
        return resp
    if fmt == "apkg":
        resp = HttpResponse(anki.export_apkg_bytes(deck), content_type="application/octet-stream")
        resp["Content-Disposition"] = f'attachment; filename="{slug}.apkg"'
        return resp
    raise Http404("format is tsv or apkg")


@login_required
def progress(request: HttpRequest) -> HttpResponse:
    stats = selectors.progress_stats(user=request.user, now=timezone.now())
    # the charts' numbers as (day, count) rows, for their tables
    return render(request, "drills/progress.html", {
        "stats": stats, "reviews_by_day": list(zip(stats["days"], stats["reviews"], strict=True)),
        "due_by_day": list(zip(stats["forecast_days"], stats["forecast"], strict=True))})
