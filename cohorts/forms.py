"""The instructor's forms. A learner is always chosen from the cohort's own students."""

from __future__ import annotations

from django import forms
from django.contrib.auth.models import User

from cohorts.models import Cohort
from cohorts.services import MULTIPLIER_RANGE
from labs.services import MAX_OVERRIDE_REASON, MAX_SCORE
from quizzes.services.accommodations import MAX_EXTRA_ATTEMPTS

MAX_CSV_BYTES = 1024 * 1024


class ReasonMixin(forms.Form):
    reason = forms.CharField(max_length=300, required=False, help_text="Kept in the audit log.")


class CohortForm(ReasonMixin):
    name = forms.CharField(max_length=200)
    field_order = ["name", "reason"]


class UsernameForm(ReasonMixin):
    username = forms.CharField(max_length=150, label="Username")
    field_order = ["username", "reason"]


class BulkEnrolForm(ReasonMixin):
    usernames = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 6}),
                                help_text="One username per line, or paste a CSV (its username column).")
    csv_file = forms.FileField(required=False, label="Or a CSV file",
                               help_text="UTF-8; a 'username' column, or usernames in the first column.")
    field_order = ["usernames", "csv_file", "reason"]

    def clean(self):
        data = super().clean()
        upload = data.get("csv_file")
        data["file_text"] = ""
        if upload is not None:
            if upload.size > MAX_CSV_BYTES:
                raise forms.ValidationError(f"The CSV file is larger than {MAX_CSV_BYTES // 1024} KB.")
            try:
                data["file_text"] = upload.read().decode("utf-8-sig")
            except UnicodeDecodeError as exc:
                raise forms.ValidationError("The CSV file is not UTF-8 text.") from exc
        if not (data.get("usernames") or "").strip() and not data["file_text"].strip():
            raise forms.ValidationError("Paste some usernames or choose a CSV file.")
        return data


class MultiplierForm(ReasonMixin):
    multiplier = forms.FloatField(min_value=MULTIPLIER_RANGE[0], max_value=MULTIPLIER_RANGE[1],
                                  help_text="Applied to the time limit of every timed quiz of this cohort.")


class LearnerForm(ReasonMixin):
    learner = forms.ModelChoiceField(queryset=User.objects.none(), to_field_name="username",
                                     error_messages={"invalid_choice": "that is not a student of this cohort."})

    def __init__(self, *args, cohort: Cohort, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["learner"].queryset = (User.objects.filter(enrolments__cohort=cohort)
                                           .exclude(teaching_cohorts=cohort).order_by("username"))


class ExtensionForm(LearnerForm):
    minutes = forms.FloatField(min_value=0.5, max_value=7 * 24 * 60, label="Extra minutes")
    field_order = ["learner", "minutes", "reason"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, auto_id="extension_%s", **kwargs)


class ExtraAttemptsForm(LearnerForm):
    extra = forms.IntegerField(min_value=1, max_value=MAX_EXTRA_ATTEMPTS, initial=1, label="Attempts to add")
    field_order = ["learner", "extra", "reason"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, auto_id="attempts_%s", **kwargs)


def form_errors(form: forms.Form) -> str:
    """A form's errors as one sentence a person reads, with the fields' labels."""
    parts = []
    for name, errors in form.errors.items():
        field = form.fields.get(name)
        label = (field.label or name.replace("_", " ").capitalize()) if field else ""
        parts.append(f"{label}: {' '.join(errors)}" if label else " ".join(errors))
    return " ".join(parts)


class ReopenForm(ReasonMixin):
    minutes = forms.FloatField(min_value=0.5, max_value=7 * 24 * 60, help_text="From now.")


class CloseForm(ReasonMixin):
    pass


class RegradeForm(forms.Form):
    reason = forms.CharField(max_length=300, help_text="Shown to each learner whose grade changes, with the date.")
    include_overridden = forms.BooleanField(required=False, label="Also regrade answers scored by hand",
                                            help_text="Off: an instructor's score stays.")


class OverrideForm(forms.Form):
    score = forms.FloatField(min_value=0.0, max_value=1.0, help_text="A fraction of the part's points, 0 to 1.")
    comment = forms.CharField(max_length=2000, widget=forms.Textarea(attrs={"rows": 3}),
                              help_text="The learner reads it on their review.")


class SubmissionOverrideForm(forms.Form):
    score = forms.FloatField(required=False, min_value=0.0, max_value=MAX_SCORE,
                             help_text=f"On the grader's scale, 0 to {MAX_SCORE:g}. The grader's score and verdict stay.")
    reason = forms.CharField(max_length=MAX_OVERRIDE_REASON, help_text="Required; the learner reads it.")
    clear = forms.BooleanField(required=False, label="Clear the override",
                               help_text="The grader's score counts again (the score above is then ignored).")

    def clean(self):
        data = super().clean()
        if not data.get("clear") and data.get("score") is None and "score" not in self.errors:
            self.add_error("score", "Give a score, or tick “Clear the override”.")
        return data
