"""The releases' list, a release's page and the journalists' page in Chromium, in English and
Arabic: they lay out in their direction, nothing sticks out sideways, and their screenshots go
to docs/screenshots/."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from publisher import services
from publisher.services.accounts import User
from tests.accounts.conftest import PASSWORD
from tests.newsroom.test_delivery_browser import CHROMIUM, shoot
from tests.newsroom.test_releases import Office, office, office_server

__all__ = ["office", "office_server"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield chromium
        finally:
            chromium.close()


def fits(page: Any, language: str) -> None:
    assert page.locator("html").get_attribute("dir") == ("rtl" if language == "ar" else "ltr")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], "the page sticks out sideways"


def test_release_pages_in_english_and_arabic(office: Office, browser: Any) -> None:
    titles = [
        ("Envoy meets delegation in Gaziantep", "en", "Press Releases"),
        ("المبعوث يلتقي وفداً في غازي عنتاب", "ar", "بيانات صحفية"),
        ("Aid convoy crosses at Bab al-Hawa", "en", "Local News"),
    ]
    ids = []
    for n, (title, language, category) in enumerate(titles * 3):
        ids.append(
            office.submitted(
                title=f"{title}" if n < 3 else f"{title} ({n})",
                language=language,
                category=category,
                date=f"2024-05-{n + 1:02d}T09:00:00+03:00",
            )
        )
    services.approval.approve(office.backend, ids[1], User("eleni", "editor", False, 0))
    office.add_user("edward", "editor")
    services.accounts.add_user(office.backend, "ada", "admin", PASSWORD, "tests")
    services.add_journalist(
        office.backend,
        "james@example.org",
        "tests",
        "James Wright",
        "en",
        "The Levant Herald",
        ["Press Releases"],
        "instant",
    )
    services.add_journalist(
        office.backend, "amira@example.org", "tests", "أميرة حداد", "ar", "عنب بلدي", [], "daily"
    )
    services.suppress(office.backend, "email", "amira@example.org", "ada", "asked by phone")
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    page.goto(f"{office.base}/newsroom/login")
    page.fill("#username", "edward")
    page.fill("#password", "correct horse battery staple")
    page.click("form:not(.signout) button[type=submit]")
    for language in ("en", "ar"):
        page.goto(f"{office.base}/newsroom/releases?lang={language}")
        fits(page, language)
        assert page.locator("table.releases tbody tr").count() == 9
        shoot(page, f"newsroom-releases-{language}")
        page.goto(f"{office.base}/newsroom/releases/{ids[0]}?lang={language}")
        fits(page, language)
        assert page.locator("button[value=approve]").count() == 1
        shoot(page, f"newsroom-release-{language}")
    page.close()
    admin = browser.new_page(viewport={"width": 1100, "height": 900})
    admin.goto(f"{office.base}/newsroom/login")
    admin.fill("#username", "ada")
    admin.fill("#password", PASSWORD)
    admin.click("form:not(.signout) button[type=submit]")
    admin.goto(f"{office.base}/newsroom/recipients/journalists?lang=en")
    fits(admin, "en")
    admin.locator("details summary").first.click()
    shoot(admin, "newsroom-journalists-en")
