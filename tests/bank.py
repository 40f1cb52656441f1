"""The course's content (``fixtures/``) as the tests iterate over it, read once per pytest process."""

from functools import cache
from pathlib import Path

from content.reader import Content, read_content

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@cache
def fixtures_content() -> Content:
    """``read_content`` checks every answer spec, about 2 CPU seconds; collecting the suite asked for it four
    times in each pytest process. Callers only read what it returns."""
    return read_content(FIXTURES)
