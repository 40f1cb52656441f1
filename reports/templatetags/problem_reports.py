"""``{% question_reports question %}`` and ``{% card_reports card %}``: on a question page or a drill card,
the link to report a problem and the learner's own reports there, with the staff's answers (withheld while
a timed attempt that asks the question runs)."""

from django import template
from django.urls import reverse

from reports import selectors
from reports.models import ProblemReport

register = template.Library()


@register.inclusion_tag("reports/_mine_here.html", takes_context=True)
def question_reports(context, question):
    user = context["user"]
    reports = selectors.reports_of(user=user).filter(question=question).exclude(where=ProblemReport.Where.CARD)
    return {"rows": selectors.learner_rows(user=user, reports=reports), "what": "question",
            "new_url": reverse("reports:new_question", args=[question.slug])}


@register.inclusion_tag("reports/_mine_here.html", takes_context=True)
def card_reports(context, card):
    user = context["user"]
    return {"rows": selectors.learner_rows(user=user, reports=selectors.reports_of(user=user).filter(card=card)),
            "what": "card", "new_url": reverse("reports:new_card", args=[card.id])}
