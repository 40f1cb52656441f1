from django import forms

from content.names import part_label
from reports.models import ANSWER_MAX, FIXED_IN_MAX, TEXT_MAX


class ReportForm(forms.Form):
    """The learner's report. ``parts`` are the question's parts the learner may name (none for a card)."""

    part = forms.ChoiceField(required=False, label="Which part (optional)")
    text = forms.CharField(max_length=TEXT_MAX, label="What is wrong?", strip=True,
                           widget=forms.Textarea(attrs={"rows": 6, "maxlength": TEXT_MAX}),
                           help_text=f"Plain text, up to {TEXT_MAX} characters: what you think is wrong and why "
                                     "(a source helps).")

    def __init__(self, *args, parts=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.parts = {str(p.id): p for p in parts}
        if len(self.parts) > 1:
            self.fields["part"].choices = [("", "the whole question")] + [(pid, part_label(p.order))
                                                                         for pid, p in self.parts.items()]
        else:
            del self.fields["part"]

    def chosen_part(self):
        return self.parts.get(self.cleaned_data.get("part") or "")


class RespondForm(forms.Form):
    action = forms.ChoiceField(choices=[("answer", "Send the answer"), ("fixed", "Mark fixed"),
                                        ("declined", "Decline")])
    answer = forms.CharField(max_length=ANSWER_MAX, required=False, label="Answer to the learner",
                             widget=forms.Textarea(attrs={"rows": 4, "maxlength": ANSWER_MAX}))
    fixed_in = forms.CharField(max_length=FIXED_IN_MAX, required=False, label="Fixed in",
                               help_text="a commit hash, docs/errata.md#anchor, or an http(s) URL")
