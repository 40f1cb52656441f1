from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import UserCreationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from cohorts.home_selectors import learner_home
from cohorts.services import InviteCodeInvalid, cohort_join, student_register
from config.limits import client_address, limit_hit


class RegisterForm(UserCreationForm):
    invite_code = forms.CharField(max_length=16, required=False, help_text="From your instructor (optional).")


def home(request: HttpRequest) -> HttpResponse:
    """A visitor reads what QuantPrep is (the landing page); a signed-in learner gets their own home."""
    if not request.user.is_authenticated:
        return render(request, "landing.html")
    return render(request, "cohorts/home.html", {
        "cohorts": [e.cohort for e in request.user.enrolments.select_related("cohort")],
        **learner_home(user=request.user, now=timezone.now())})


def register(request: HttpRequest) -> HttpResponse:
    form = RegisterForm(request.POST or None)
    if request.method == "POST":  # counted per address, valid or not: a script creating accounts is cut off
        retry = limit_hit(key=f"register:{client_address(request)}", limit=settings.REGISTRATIONS_PER_HOUR,
                          window_s=3600)
        if retry is not None:
            response = render(request, "registration/register.html", {
                "form": form, "refused": f"Too many accounts were created from your address in the last hour. "
                                         f"Try again in {retry // 60 + 1} minutes."}, status=429)
            response["Retry-After"] = str(retry)
            return response
    if request.method == "POST" and form.is_valid():
        try:
            user = student_register(username=form.cleaned_data["username"], password=form.cleaned_data["password1"],
                                    invite_code=form.cleaned_data["invite_code"])
        except InviteCodeInvalid as exc:
            form.add_error("invite_code", str(exc))
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            return redirect("home")
    return render(request, "registration/register.html", {"form": form})


@login_required
def join(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        try:
            cohort = cohort_join(user=request.user, invite_code=request.POST.get("invite_code", ""))
            messages.success(request, f"You joined {cohort.name}.")
        except InviteCodeInvalid as exc:
            messages.error(request, str(exc))
    return redirect("home")
