"""The public pages in a real headless Chromium with JavaScript off: sign up, confirm from the
email's link, manage preferences, unsubscribe, in English and Arabic. Screenshots of each page
are kept in docs/screenshots/ for people to look at."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from publisher import links
from tests.web.conftest import SCREENSHOTS, Site

CHROMIUM = "/usr/bin/chromium"
WORDS = {
    "en": {
        "sent": "Check your inbox",
        "confirm_title": "Confirm your subscription",
        "confirm": "Confirm my subscription",
        "confirmed": "You are subscribed",
        "manage": "Manage your preferences",
        "preferences": "Your preferences",
        "unsubscribe": "Unsubscribe",
        "unsubscribed": "You are unsubscribed",
        "topic": "Local News",
        "cadence": "One daily briefing",
        "sign_up": "Sign up",
    },
    "ar": {
        "sent": "تفقّدوا بريدكم الوارد",
        "confirm_title": "تأكيد الاشتراك",
        "confirm": "تأكيد الاشتراك",
        "confirmed": "تمّ الاشتراك",
        "manage": "إدارة تفضيلاتكم",
        "preferences": "تفضيلاتكم",
        "unsubscribe": "إلغاء الاشتراك",
        "unsubscribed": "تمّ إلغاء اشتراككم",
        "topic": "أخبار محلية",
        "cadence": "موجز يومي واحد",
        "sign_up": "اشتراك",
    },
}
PEOPLE = {
    "en": ("james.wright@example.org", "James Wright", "The Levant Herald"),
    "ar": ("amira@example.org", "أميرة حداد", "عنب بلدي"),
}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield chromium
        finally:
            chromium.close()


def shoot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def check_layout(page: Any, language: str) -> None:
    """The page reads in its direction and nothing sticks out sideways."""
    direction = "rtl" if language == "ar" else "ltr"
    assert page.locator("html").get_attribute("dir") == direction
    viewport = page.viewport_size["width"]
    heading = page.locator("h1").bounding_box()
    card = page.locator("main").bounding_box()
    assert card["x"] >= 0 and card["x"] + card["width"] <= viewport
    # the heading starts at the card's start: its right edge in Arabic, its left in English
    if direction == "rtl":
        assert card["x"] + card["width"] - (heading["x"] + heading["width"]) < 60
    else:
        assert heading["x"] - card["x"] < 60
    for button in page.locator("button").all():
        box = button.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= viewport


@pytest.mark.parametrize("language", ["en", "ar"])
def test_sign_up_confirm_preferences_and_unsubscribe_in_a_browser(
    site: Site, browser: Any, language: str
) -> None:
    words = WORDS[language]
    address, name, outlet = PEOPLE[language]
    context = browser.new_context(
        java_script_enabled=False,  # every page works without it
        locale="ar-SY" if language == "ar" else "en-GB",
        viewport={"width": 900, "height": 600},
    )
    page = context.new_page()
    try:
        page.goto(f"{site.base}/subscribe")  # the browser's language picks the page's
        check_layout(page, language)
        page.fill("#email", address)
        page.fill("#name", name)
        page.fill("#outlet", outlet)
        page.get_by_label(words["topic"]).check()
        page.get_by_label(words["cadence"]).check()
        shoot(page, f"signup-{language}")
        page.get_by_role("button", name=words["sign_up"]).click()
        assert page.locator("h1").inner_text() == words["sent"]
        check_layout(page, language)
        shoot(page, f"signup-sent-{language}")
        assert site.rows() == {}

        [message] = site.mails()
        html = message.get_body(("html",))
        assert html is not None
        letter = context.new_page()
        letter.set_content(html.get_content())
        assert letter.locator("div[dir]").first.get_attribute("dir") == (
            "rtl" if language == "ar" else "ltr"
        )
        shoot(letter, f"confirm-email-{language}")
        letter.close()
        page.goto(site.base + site.link_in(message))
        assert page.locator("h1").inner_text() == words["confirm_title"]
        check_layout(page, language)
        shoot(page, f"confirm-{language}")
        assert site.rows() == {}  # opening the link confirmed nothing
        page.get_by_role("button", name=words["confirm"]).click()
        assert words["confirmed"] in page.locator("h1").inner_text()
        shoot(page, f"confirmed-{language}")
        row = site.rows()[address]
        assert (row["state"], row["language"], row["cadence"]) == ("subscribed", language, "daily")
        assert row["beats"] == ["local-news"]

        page.get_by_role("link", name=words["manage"]).click()
        assert page.locator("h1").inner_text() == words["preferences"]
        check_layout(page, language)
        shoot(page, f"preferences-{language}")

        settings = site.backend.settings
        page.goto(links.unsubscribe_url("email", address, settings))
        assert page.locator("h1").inner_text() == words["unsubscribe"]
        check_layout(page, language)
        shoot(page, f"unsubscribe-{language}")
        page.get_by_role("button", name=words["unsubscribe"]).click()
        assert words["unsubscribed"] in page.locator("h1").inner_text()
        shoot(page, f"unsubscribed-{language}")
        row = site.rows()[address]
        assert (row["state"], row["cause"]) == ("unsubscribed", "unsubscribed (unsubscribe page)")
        assert len(site.peer.messages) == 1
    finally:
        context.close()


def test_the_arabic_form_fits_a_phone(site: Site, browser: Any) -> None:
    context = browser.new_context(
        java_script_enabled=False, locale="ar", viewport={"width": 390, "height": 844}
    )
    page = context.new_page()
    try:
        page.goto(f"{site.base}/subscribe")
        check_layout(page, "ar")
        shoot(page, "signup-ar-phone")
    finally:
        context.close()
