"""Small helpers for the instructor's tables."""

from urllib.parse import urlencode

from django import template

register = template.Library()


@register.filter
def get_item(mapping: dict, key):
    return mapping.get(key) if mapping else None


@register.filter
def percent(fraction) -> str:
    return "" if fraction is None else f"{100 * fraction:.0f}%"


@register.simple_tag
def query(**params) -> str:
    """A query string of the non-empty parameters, for sort and filter links."""
    return urlencode({k: v for k, v in params.items() if v not in ("", None, False)})
