"""Reading QuantPrep's pages as the load test's learners do (the locustfile and run.py's warm-up)."""

from __future__ import annotations

import html
import re

PART_TAG = re.compile(r'<section\b[^>]*\bclass="attempt-part\b[^>]*>')
ATTRIBUTE = re.compile(r'([\w-]+)="([^"]*)"')


def attempt_parts(page: str) -> list[tuple[int, str, str]]:
    """(part id, kind, autosave URL) of every part on an attempt page, read from each part's section tag
    (``templates/quizzes/_part_input.html``), whatever the order of its attributes."""
    parts = []
    for tag in PART_TAG.findall(page):
        attrs = {k: html.unescape(v) for k, v in ATTRIBUTE.findall(tag)}
        if attrs.get("id", "").startswith("part-") and "data-autosave-url" in attrs:
            parts.append((int(attrs["id"][5:]), attrs.get("data-kind", ""), attrs["data-autosave-url"]))
    return parts
