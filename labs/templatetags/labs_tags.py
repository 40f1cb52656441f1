"""Template filters for the lab pages."""

from django import template

register = template.Library()


@register.filter
def duration_words(seconds: float) -> str:
    """An estimate in words a learner reads at a glance: "40 s", "3 min", "1 h 20 min" (never "0 s")."""
    seconds = max(float(seconds), 0.0)
    if seconds < 90:
        return f"{max(5, round(seconds / 5) * 5)} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h" + (f" {minutes % 60} min" if minutes % 60 else "")
