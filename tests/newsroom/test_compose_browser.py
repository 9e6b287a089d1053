"""The compose page in a real headless Chromium (Debian's) with JavaScript on: an officer writes
an English release with an image and watches every preview follow the typing, then its Arabic
translation reads right to left; a hostile release shows inert everywhere. Any dialog, console
error or request the page did not expect fails the test. Screenshots: docs/screenshots/
newsroom-compose-en.png, newsroom-compose-ar.png, newsroom-preview-hostile.png."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.newsroom.conftest import PASSWORD, Newsroom, compose_release
from tests.newsroom.test_compose import png
from tests.web.conftest import SCREENSHOTS
from tests.web.test_browser import browser

__all__ = ["browser"]

EXPECTED_PATHS = ("/newsroom/", "/static/")


class Watch:
    """What a page did that it should not: dialogs, console errors, unexpected requests."""

    def console(self, message: Any) -> None:
        # The sign-in and home pages (not the compose page's) name no icon: Chromium asks.
        if message.type == "error" and not message.location["url"].endswith("/favicon.ico"):
            self.problems.append(f"console {message.text} {message.location['url']}")

    def __init__(self, page: Any, base: str) -> None:
        self.problems: list[str] = []
        origin = urlsplit(base)
        page.on("dialog", lambda d: (self.problems.append(f"dialog {d.message}"), d.dismiss()))
        page.on("pageerror", lambda e: self.problems.append(f"page error {e}"))
        page.on("console", self.console)

        def request(r: Any) -> None:  # favicon.ico: the sign-in pages have no icon
            url = urlsplit(r.url)
            if url.scheme in ("data", "about"):
                return
            if url.netloc != origin.netloc or not url.path.startswith(EXPECTED_PATHS):
                self.problems.append(f"request {r.url}")

        page.on("request", request)
        page.on(
            "response",
            lambda r: (
                self.problems.append(f"{r.status} {r.url}")
                if r.status >= 400 and not r.url.endswith("/favicon.ico")
                else None
            ),
        )


def shoot(page: Any, name: str) -> None:
    """The whole page, its preview frames drawn: a full-page capture leaves sandboxed frames
    (rendered in a process of their own) blank, so the viewport is made as tall as the page."""
    size = page.viewport_size
    height = page.evaluate("document.documentElement.scrollHeight")
    page.set_viewport_size({"width": size["width"], "height": height})
    page.wait_for_timeout(300)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))
    page.set_viewport_size(size)


def settle(page: Any) -> None:
    """Let the debounced autosave go out and come back (leaving the page aborts it)."""
    page.wait_for_timeout(1700)
    page.wait_for_load_state("networkidle")


def sign_in(page: Any, base: str, name: str) -> None:
    page.goto(f"{base}/newsroom/login")
    page.fill("#username", name)
    page.fill("#password", PASSWORD)
    page.locator("form:has(#password) button[type=submit]").click()
    page.wait_for_url(f"{base}/newsroom/")


@pytest.fixture
def officer_page(newsroom: Newsroom, browser: Any) -> Any:
    newsroom.add_user("olga", "officer")
    context = browser.new_context(viewport={"width": 1440, "height": 1000}, locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(10_000)
    watch = Watch(page, newsroom.base)
    sign_in(page, newsroom.base, "olga")
    yield page, watch
    context.close()


def test_compose_an_english_release_and_its_arabic_translation(
    newsroom: Newsroom, officer_page: Any, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    page, watch = officer_page
    base = newsroom.base
    photo = tmp_path / "pump.png"
    photo.write_bytes(png(40, 24))
    compose_release(page, base, {
        "title": "Water returns to Idlib",
        "summary": "The main pumping station works again.",
        "body": "Engineers repaired the station.\n\nWater reaches 40,000 homes.",
        "category": "Local News",
        "tags": "water, idlib",
        "date": "2024-05-01T09:00",
        "links": [("The report", "https://example.org/report")],
    })  # fmt: skip
    bubble = page.locator(".bubble-text").first
    expect(bubble).to_contain_text("Water returns to Idlib")
    page.locator("#title").press("End")
    page.locator("#title").press_sequentially(" today", delay=20)
    expect(bubble).to_contain_text("Water returns to Idlib today")
    counter = page.locator(".pane-x .count .n").first
    expect(page.locator(".pane-x .post-text").first).to_contain_text("Idlib today")
    before = int(counter.inner_text())
    page.locator("#body").press("Control+End")
    page.locator("#body").press_sequentially("\n\nMore news.", delay=10)
    expect(page.locator(".bubble-text").first).to_contain_text("More news.")
    email = page.frame_locator(".frame-email")
    expect(email.locator("h1")).to_contain_text("Water returns to Idlib today")
    expect(email.locator("body")).to_contain_text("More news.")
    expect(page.frame_locator(".frame-website").locator("h1")).to_contain_text("Idlib today")
    assert int(counter.inner_text()) >= before

    compose_release(page, base, {"image": photo, "image_alt": "The repaired pump"})
    assert re.fullmatch(r"[0-9a-f]{32}\.png", page.locator("#image-src-0").input_value())
    expect(page.locator(".bubble img")).to_have_count(1)
    expect(page.locator("#saved")).to_contain_text("Saved at", timeout=15_000)
    settle(page)
    page.locator(".actions button[type=submit]").first.click()
    page.wait_for_url(re.compile(r"/newsroom/releases/[a-z0-9-]+/edit\?saved=1$"))
    first_id = page.url.split("/")[-2]
    assert page.locator("#image-alt-0").input_value() == "The repaired pump"
    expect(
        page.frame_locator(".frame-email").locator("img[alt='The repaired pump']")
    ).to_be_visible()
    page.wait_for_timeout(300)
    shoot(page, "newsroom-compose-en")

    settle(page)
    page.goto(f"{base}/newsroom/releases/new?lang=ar")
    compose_release(page, base, {
        "language": "ar",
        "title": "عودة المياه إلى إدلب",
        "summary": "محطة الضخ الرئيسية تعمل من جديد.",
        "body": "أصلح المهندسون المحطة.\n\nتصل المياه إلى ٤٠ ألف منزل.",
        "category": "أخبار محلية",
        "date": "2024-05-01T09:30",
        "translation_of": first_id,
    })  # fmt: skip
    expect(page.locator(".chat[dir=rtl] .bubble-text").first).to_contain_text("عودة المياه")
    expect(page.frame_locator(".frame-email").locator("h1")).to_contain_text("عودة المياه")
    assert page.locator("html").get_attribute("dir") == "rtl"
    assert page.frame_locator(".frame-website").locator("html").get_attribute("dir") == "rtl"
    settle(page)
    page.locator(".actions button[type=submit]").first.click()
    page.wait_for_url(re.compile(r"/edit\?lang=ar&saved=1$"))
    assert page.locator("#translation-of").input_value() == first_id
    page.wait_for_timeout(300)
    shoot(page, "newsroom-compose-ar")
    assert watch.problems == [], "\n".join(watch.problems)


def test_a_hostile_release_shows_safely_in_every_preview(
    newsroom: Newsroom, officer_page: Any
) -> None:
    from playwright.sync_api import expect

    page, watch = officer_page
    compose_release(page, newsroom.base, {
        "title": "<img src=x onerror=alert(1)>" + "T" * 300,
        "body": "<script>alert(1)</script>\n\n<img src=x onerror=alert(1)>\n\n"
                "[x](javascript:alert(1))\n\nA paragraph.",
        "telegram_text": '<a href="javascript:alert(1)">go</a><script>alert(2)</script>',
        "email_subject": "<script>alert(3)</script>",
        "date": "2024-05-01T09:00",
    })  # fmt: skip
    expect(page.locator(".bubble-text").first).to_contain_text("go")
    expect(page.locator("#err-body .error").first).to_contain_text("script")
    expect(page.locator(".subject-text")).to_have_text("<script>alert(3)</script>")
    expect(page.frame_locator(".frame-website").locator("body")).to_contain_text("A paragraph.")
    expect(page.frame_locator(".frame-email").locator("body")).to_contain_text("A paragraph.")
    assert page.locator(".bubble a[href^='javascript']").count() == 0
    page.locator("#title").press("End")
    page.locator("#title").press_sequentially("!", delay=20)
    expect(page.locator(".pane-x")).to_contain_text("T!")
    settle(page)
    shoot(page, "newsroom-preview-hostile")
    assert watch.problems == [], "\n".join(watch.problems)
