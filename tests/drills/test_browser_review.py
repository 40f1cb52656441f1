"""In a real browser: three cards reviewed with the keyboard alone (space reveals, 1-4 rates); the counts change.

New cards rated Again or Good enter learning (due in 1 or 10 minutes: counted as learning, learn-ahead 20 min);
Easy goes straight to review (due in days, so not counted as due now)."""

import pytest

from drills.models import Card, Deck, ReviewLog
from drills.services import card_guid
from tests.e2e.browser import chromium_page, log_in, shot
from tests.factories import user_make


def counts(page) -> tuple[int, int, int]:
    return tuple(int(page.get_attribute(f"#count-{k}", "data-count")) for k in ("new", "learning", "due"))


@pytest.mark.django_db(transaction=True)
@pytest.mark.browser
@pytest.mark.redis
@pytest.mark.slow
def test_three_cards_reviewed_with_the_keyboard(web_server):
    user_make("kate")
    deck = Deck.objects.create(slug="kbd", title="Keyboard deck")
    for i in range(4):
        Card.objects.create(deck=deck, key=f"k{i}", guid=card_guid(deck_slug="kbd", key=f"k{i}"), order=i,
                            front=f"Card {i}: what is $x_{i}^2$?", back=f"The square of $x_{i}$.")
    with chromium_page() as (page, errors):
        log_in(page, web_server, "kate")
        page.goto(web_server + "/drills/")
        page.wait_for_selector("#front .katex")
        assert counts(page) == (4, 0, 0)
        seen = []
        for rating, expected in (("1", (3, 1, 0)), ("3", (2, 2, 0)), ("4", (1, 2, 0))):
            seen.append(page.inner_text("#front"))
            assert page.is_hidden("#back")
            page.keyboard.press(" ")
            page.wait_for_selector("#back", state="visible")
            assert "m" in page.inner_text("#rate-1 small") or "d" in page.inner_text("#rate-1 small")
            with page.expect_navigation():
                page.keyboard.press(rating)
            page.wait_for_selector("#count-new")
            assert counts(page) == expected
        shot(page, "drills-review-keyboard")
        page.goto(web_server + "/drills/progress/")
        page.wait_for_function("() => window.Chart && Chart.getChart('chart-reviews') !== undefined")
        shot(page, "drills-progress")
        assert errors == []
    assert [log.rating for log in ReviewLog.objects.order_by("id")] == [1, 3, 4]
    assert len(set(seen)) == 3
