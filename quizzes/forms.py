"""Instructor forms: a quiz (fixed list or blueprint lines, new or edited) and the accommodations."""

from __future__ import annotations

from django import forms
from django.contrib.auth.models import User
from django.utils.text import slugify

from cohorts.models import Cohort
from quizzes.models import Question, Quiz
from quizzes.selectors import blueprint_pool
from quizzes.services.drill_quizzes import DECK_QUIZ_PREFIX, TAG_QUIZ_PREFIX

BLUEPRINT_KEYS = ("group", "tier", "tags", "seed")
RESERVED_SLUGS = {"new", "history", "drill-tag"}  # words the quiz URLs use


def answer_from_post(request, name: str = "answer") -> str:
    """A posted answer; a choice part's checkboxes arrive as several values, joined as the grader reads
    them ("a,c"). The quiz, its practice checks and the question bank all read answers this way."""
    return ",".join(v for v in request.POST.getlist(name) if v)


def blueprint_parse(text: str) -> list[dict]:
    """Lines like ``3 tier=L1 tags=gptq,awq group=interview`` → blueprint draws; errors name the line."""
    draws = []
    for n, line in enumerate(text.splitlines(), start=1):
        words = line.split()
        if not words:
            continue
        if not words[0].isdigit() or int(words[0]) < 1:
            raise forms.ValidationError(f"Line {n}: start with how many questions to draw, like “3 tier=L1”.")
        draw: dict = {"count": int(words[0])}
        for word in words[1:]:
            key, sep, value = word.partition("=")
            if not sep or key not in BLUEPRINT_KEYS or not value:
                raise forms.ValidationError(f"Line {n}: “{word}” is not one of "
                                            + ", ".join(f"{k}=..." for k in BLUEPRINT_KEYS) + ".")
            draw[key] = value.split(",") if key == "tags" else value
        available = len(blueprint_pool(draw))
        if available < draw["count"]:
            raise forms.ValidationError(f"Line {n}: only {available} question{'s' if available != 1 else ''} "
                                        f"match, {draw['count']} asked.")
        draws.append(draw)
    return draws


def blueprint_format(draws: list[dict]) -> str:
    """The inverse of ``blueprint_parse``: the lines an instructor typed, for editing."""
    return "\n".join(" ".join([str(d.get("count", 1))] + [f"{k}={','.join(d[k]) if k == 'tags' else d[k]}"
                                                          for k in BLUEPRINT_KEYS if d.get(k)]) for d in draws)


def quiz_slug_free(title: str) -> str:
    """A slug from the title that no quiz has, none of the URL words, and none of the catalogue's."""
    base = slugify(title)[:100] or "quiz"
    if base in RESERVED_SLUGS or base.startswith((TAG_QUIZ_PREFIX, DECK_QUIZ_PREFIX)):
        base = f"quiz-{base}"
    slug, n = base, 1
    while Quiz.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


class QuizForm(forms.ModelForm):
    questions = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 4}),
                                help_text="A fixed list: one question slug per line.")
    draws = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}),
                            help_text="Or a blueprint: one draw per line, like “3 tier=L1 tags=gptq,awq”.")
    time_limit_min = forms.FloatField(required=False, min_value=0.1, label="Time limit (minutes)",
                                      help_text="Empty: untimed.")

    class Meta:
        model = Quiz
        fields = ["title", "description", "max_attempts", "opens_at", "closes_at", "shuffle_questions",
                  "shuffle_options", "feedback", "allow_practice", "private_until_close", "cohort"]
        widgets = {"opens_at": forms.DateTimeInput(attrs={"type": "datetime-local"}),
                   "closes_at": forms.DateTimeInput(attrs={"type": "datetime-local"})}

    def __init__(self, *args, user: User, **kwargs):
        super().__init__(*args, **kwargs)
        # An instructor's quiz belongs to one of their cohorts; a platform-wide quiz is a superuser's.
        self.fields["cohort"].queryset = Cohort.objects.all() if user.is_superuser else user.teaching_cohorts.all()
        self.fields["cohort"].required = not user.is_superuser
        self.fields["cohort"].help_text = ("Empty: every learner (a platform-wide quiz)." if user.is_superuser
                                           else "The cohort whose students take it.")
        self.fields["questions"].help_text += " The slugs are on the question bank's pages (/questions/)."
        if self.instance.pk:
            self.initial.update(questions="\n".join(self.instance.question_slugs),
                                draws=blueprint_format(self.instance.blueprint),
                                time_limit_min=self.instance.time_limit_s and self.instance.time_limit_s / 60)

    def clean_questions(self) -> list[str]:
        slugs = [s.strip() for s in self.cleaned_data["questions"].splitlines() if s.strip()]
        known = set(Question.objects.filter(slug__in=slugs).values_list("slug", flat=True))
        unknown = [s for s in slugs if s not in known]
        if unknown:
            raise forms.ValidationError(f"No question with the slug {', '.join(unknown)}.")
        return slugs

    def clean_draws(self) -> list[dict]:
        return blueprint_parse(self.cleaned_data["draws"])

    def clean(self):
        data = super().clean()
        if not data.get("questions") and not data.get("draws"):
            raise forms.ValidationError("Give a list of questions or a blueprint.")
        if data.get("opens_at") and data.get("closes_at") and data["closes_at"] <= data["opens_at"]:
            raise forms.ValidationError("The window must close after it opens.")
        return data

    def save(self, commit: bool = True) -> Quiz:
        quiz = super().save(commit=False)
        quiz.question_slugs = self.cleaned_data["questions"]
        quiz.blueprint = [] if quiz.question_slugs else self.cleaned_data["draws"]
        minutes = self.cleaned_data.get("time_limit_min")
        quiz.time_limit_s = round(minutes * 60) if minutes else None
        if not quiz.slug:  # an edit keeps its slug (and so its links)
            quiz.slug = quiz_slug_free(quiz.title)
        if commit:
            quiz.save()
        return quiz
