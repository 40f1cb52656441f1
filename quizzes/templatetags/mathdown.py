"""``{{ text|mathdown }}``: Markdown with LaTeX left intact for KaTeX to render in the page, then an
allow-list sanitizer (nh3).

Math is cut out before Markdown runs (so ``a_1 * b_2`` is not read as emphasis) and put back
HTML-escaped. The text is not always ours: instructors write quiz descriptions and imported Anki decks
carry HTML, so the result keeps only the tags and attributes content needs, links only to http, https and
mailto, and no script, style, event handler, frame, form or embedded object."""

import html
import re

import markdown
import nh3
from django import template
from django.utils.safestring import mark_safe

register = template.Library()
MATH = re.compile(r"\$\$.+?\$\$|\\\[.+?\\\]|\\\(.+?\\\)|(?<![\\$])\$[^$\n]+?\$", re.S)
TAGS = {"p", "br", "hr", "em", "strong", "b", "i", "code", "pre", "blockquote", "ul", "ol", "li", "table", "thead",
        "tbody", "tr", "th", "td", "a", "h1", "h2", "h3", "h4", "h5", "h6", "sub", "sup", "del", "span", "div"}
ATTRIBUTES = {"a": {"href", "title"}, "th": {"align"}, "td": {"align"}, "code": {"class"}, "ol": {"start"}}


def clean_html(text: str) -> str:
    """HTML cut down to the allow-list: what is not on it is dropped, its text kept (escaped)."""
    return nh3.clean(text, tags=TAGS, attributes=ATTRIBUTES, url_schemes={"http", "https", "mailto"},
                     link_rel="noopener noreferrer", strip_comments=True)


def clean_rich_text(text: str) -> str:
    """Stored rich text from outside (an imported Anki field) cleaned the same way, its math left as typed:
    a ``<`` inside ``$...$`` is LaTeX, not a tag."""
    parts, last = [], 0
    for match in MATH.finditer(text or ""):
        parts += [clean_html(text[last:match.start()]), match.group(0)]
        last = match.end()
    return "".join(parts + [clean_html((text or "")[last:])])


@register.filter
def mathdown(text: str) -> str:
    pieces: list[str] = []

    def hold(match: re.Match) -> str:
        pieces.append(html.escape(match.group(0), quote=False))
        return f"\x00{len(pieces) - 1}\x00"

    rendered = markdown.markdown(MATH.sub(hold, text or ""), extensions=["fenced_code", "tables"])
    return mark_safe(clean_html(re.sub(r"\x00(\d+)\x00", lambda m: pieces[int(m.group(1))], rendered)))
