"""``{{ text|mathdown }}``: Markdown with LaTeX left intact for KaTeX to render in the page.

Math is cut out before Markdown runs (so ``a_1 * b_2`` is not read as emphasis) and put back
HTML-escaped. Content comes from ``fixtures/`` (authored, reviewed), never from learners."""

import html
import re

import markdown
from django import template
from django.utils.safestring import mark_safe

register = template.Library()
MATH = re.compile(r"\$\$.+?\$\$|\\\[.+?\\\]|\\\(.+?\\\)|(?<![\\$])\$[^$\n]+?\$", re.S)


@register.filter
def mathdown(text: str) -> str:
    pieces: list[str] = []

    def hold(match: re.Match) -> str:
        pieces.append(html.escape(match.group(0), quote=False))
        return f"\x00{len(pieces) - 1}\x00"

    rendered = markdown.markdown(MATH.sub(hold, text or ""), extensions=["fenced_code", "tables"])
    return mark_safe(re.sub(r"\x00(\d+)\x00", lambda m: pieces[int(m.group(1))], rendered))
