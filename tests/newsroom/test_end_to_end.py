"""The newsroom from one end to the other, in Chromium, as an office runs it (`publisher serve`
and a real `publisher worker`, every channel on its loopback peer, staff added with `publisher
users add`): an officer composes an English release with an image and its Arabic translation,
watching each preview follow the typing, and submits both; an editor approves and publishes
them; the delivery page reaches "sent" on every channel; a journalist's refused email is
retried from the page and goes out. Any dialog, console error or failed request fails the test.
Screenshots of each step are kept in docs/screenshots/ (e2e-*.png)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.a11y import assert_accessible
from tests.newsroom.conftest import compose_release
from tests.newsroom.stack import PASSWORD, Stack, running_stack

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
IMAGE = Path(__file__).resolve().parents[1] / "data" / "images" / "python.png"
CHATS = {"8101": "en", "8102": "ar", "8103": "both"}
JOURNALISTS = [
    ("james@example.org", "James Wright", "en"),
    ("refused@example.org", "Rita Policy", "en"),
    ("amira@example.org", "أميرة حداد", "ar"),
]
REFUSAL = "554 5.7.1 Message refused by local policy"


@pytest.fixture
def stack(tmp_path: Path, data_dir: Path) -> Iterator[Stack]:
    with running_stack(data_dir, tmp_path / "stack.log") as running:
        yield running


@pytest.fixture
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield chromium
        finally:
            chromium.close()


class Watched:
    """A browser page whose every dialog, console error and failed request is kept."""

    def __init__(self, browser: Any, base: str) -> None:
        self.page = browser.new_page(viewport={"width": 1280, "height": 1000})
        self.problems: list[str] = []
        self.page.on("dialog", lambda d: (self.problems.append(f"dialog {d.message}"), d.dismiss()))
        self.page.on(
            "console",
            lambda m: self.problems.append(f"console {m.text}") if m.type == "error" else None,
        )
        self.page.on(
            "response",
            lambda r: (
                self.problems.append(f"{r.status} {r.url}")
                if r.status >= 400 and not r.url.endswith("/favicon.ico")
                else None
            ),
        )
        # a request cut short by leaving the page (a preview in flight) is not a failure
        self.page.on(
            "requestfailed",
            lambda r: (
                self.problems.append(f"failed {r.url}: {r.failure}")
                if "ERR_ABORTED" not in str(r.failure)
                else None
            ),
        )
        self.base = base

    def sign_in(self, name: str) -> None:
        self.page.goto(f"{self.base}/newsroom/login")
        self.page.fill("#username", name)
        self.page.fill("#password", PASSWORD)
        self.page.click("form:not(.signout) button[type=submit]")
        self.page.wait_for_url(f"{self.base}/newsroom/")


def shoot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    height = page.evaluate("document.documentElement.scrollHeight")
    page.set_viewport_size({"width": 1280, "height": min(max(height, 800), 4000)})
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))
    page.set_viewport_size({"width": 1280, "height": 1000})


def frame_text(page: Any, pane: str) -> str:
    return str(page.frame_locator(f"iframe.frame-{pane}").locator("body").inner_text())


def wait_for(predicate: Any, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError("the page did not get there in time")


def count(page: Any, channel: str, name: str) -> int:
    cell = page.locator(f'#progress tr[data-channel="{channel}"] td[data-count="{name}"]')
    return int(cell.inner_text())


def test_an_officer_writes_an_editor_publishes_and_every_channel_gets_it(
    stack: Stack, browser: Any, tmp_path: Path
) -> None:
    stack.add_user("olivia", "officer")
    stack.add_user("edward", "editor")
    chats = tmp_path / "chats.txt"
    chats.write_text("".join(f"{chat},{language}\n" for chat, language in CHATS.items()))
    assert stack.cli("subscribers", "import", "--channel", "telegram", str(chats)).returncode == 0
    journalists = tmp_path / "journalists.csv"
    journalists.write_text(
        "name,email,language\n" + "".join(f"{n},{e},{lang}\n" for e, n, lang in JOURNALISTS)
    )
    assert stack.cli("journalists", "import", str(journalists)).returncode == 0
    stack.smtp.data_replies["refused@example.org"] = REFUSAL

    # --- the officer writes the release and watches every preview follow the typing -----
    officer = Watched(browser, stack.base)
    officer.sign_in("olivia")
    page = officer.page
    page.goto(f"{stack.base}/newsroom/releases/new")
    compose_release(
        page,
        stack.base,
        {
            "title": "Water returns to Idlib",
            "summary": "The main pumping station works again.",
            "body": "Engineers repaired the station.\n\nWater reaches 40,000 homes.",
            "category": "Local News",
            "date": "2024-05-01T09:00",
            "image": IMAGE,
            "image_alt": "The repaired pump",
            "image_caption": "The pump at the station",
        },
    )
    page.locator("#title").press("End")
    page.locator("#title").press_sequentially(" after three weeks", delay=20)
    whole = "Water returns to Idlib after three weeks"
    page.wait_for_function(
        "t => document.querySelector('.bubble-text').textContent.includes(t)", arg=whole
    )
    wait_for(lambda: whole in frame_text(page, "email") and whole in frame_text(page, "website"))
    x_pane = page.locator(".preview-panes").inner_text()
    assert whole in x_pane and re.search(r"\b\d+/280\b", x_pane)
    loaded = (
        page.frame_locator("iframe.frame-email")
        .locator("img")
        .evaluate_all("is => is.map(i => i.complete && i.naturalWidth > 0)")
    )
    assert loaded and all(loaded), "the email preview's image did not load"
    page.click("form#compose .actions button[type=submit]:not([formaction])")
    page.wait_for_url(re.compile(r"/newsroom/releases/[a-z0-9-]+/edit"))
    english = page.url.split("/newsroom/releases/")[1].split("/")[0]
    shoot(page, "e2e-1-compose-en")
    assert_accessible(page, "compose and preview, en")

    page.goto(f"{stack.base}/newsroom/releases/new")
    compose_release(
        page,
        stack.base,
        {
            "title": "عودة المياه إلى إدلب",
            "summary": "محطة الضخ الرئيسية تعمل من جديد.",
            "body": "أصلح المهندسون المحطة.\n\nتصل المياه إلى ٤٠ ألف منزل.",
            "category": "أخبار محلية",
            "language": "ar",
            "date": "2024-05-01T09:00",
            "translation_of": english,
        },
    )
    page.locator("#body").press("End")
    page.locator("#body").press_sequentially(" والعمل مستمر.", delay=20)
    page.wait_for_function(
        "t => document.querySelector('.bubble-text').textContent.includes(t)",
        arg="والعمل مستمر",
    )
    wait_for(lambda: "والعمل مستمر" in frame_text(page, "email"))
    bubble_dir = page.locator(".bubble").first.evaluate("e => getComputedStyle(e).direction")
    assert bubble_dir == "rtl"
    page.click("form#compose .actions button[type=submit]:not([formaction])")
    page.wait_for_url(re.compile(r"/newsroom/releases/[a-z0-9-]+/edit"))
    arabic = page.url.split("/newsroom/releases/")[1].split("/")[0]
    assert arabic != english
    shoot(page, "e2e-2-compose-ar")
    page.goto(f"{stack.base}/newsroom/releases/{arabic}/edit?lang=ar")
    assert_accessible(page, "compose and preview, ar")
    for release_id in (english, arabic):
        page.goto(f"{stack.base}/newsroom/releases/{release_id}/edit")
        page.click(f"form[action='/newsroom/releases/{release_id}/submit'] button")
        page.wait_for_url(f"{stack.base}/newsroom/releases/{release_id}*")
    assert "approve" not in page.locator("main").inner_html()  # an officer approves nothing
    shoot(page, "e2e-3-submitted")
    assert not officer.problems, officer.problems

    # --- the editor approves and publishes both ---------------------------------------------
    editor = Watched(browser, stack.base)
    editor.sign_in("edward")
    page = editor.page
    for release_id in (english, arabic):
        page.goto(f"{stack.base}/newsroom/releases/{release_id}")
        page.click("button[value=approve]")
        page.wait_for_selector("button[value=publish]")
        if release_id == english:
            shoot(page, "e2e-4-approved")
            assert_accessible(page, "release, en")
        page.click("button[value=publish]")
        page.wait_for_selector(".notice")

    # --- the delivery page reaches "sent" on every channel, then a failure is retried -------
    page.goto(f"{stack.base}/newsroom/releases/{english}/delivery")
    wait_for(lambda: page.locator("#progress").get_attribute("data-pending") == "false", 90)
    english_readers = sum(1 for language in CHATS.values() if language in ("en", "both"))
    assert count(page, "telegram", "sent") == english_readers + 1  # and the public channel
    assert count(page, "x", "sent") == 1 and count(page, "website", "sent") == 1
    assert count(page, "email", "sent") == 1 and count(page, "email", "failed") == 1
    for channel in ("telegram", "x", "website"):
        assert count(page, channel, "failed") == 0 and count(page, channel, "pending") == 0
    assert "refused@example.org" in page.locator("table.errors").inner_text()
    assert page.locator("ul.posted a[href^='https://x.com/i/web/status/']").count() >= 1
    shoot(page, "e2e-5-delivery")
    assert_accessible(page, "delivery, en")

    del stack.smtp.data_replies["refused@example.org"]
    page.click("#progress button[value=retry]")
    wait_for(
        lambda: (
            page.locator("#progress").get_attribute("data-pending") == "false"
            and count(page, "email", "failed") == 0
        ),
        60,
    )
    assert count(page, "email", "sent") == 2
    shoot(page, "e2e-6-retried")
    received = {to for mail in stack.smtp.messages for to in mail.rcpt_tos}
    assert {"james@example.org", "refused@example.org", "amira@example.org"} <= received

    page.goto(f"{stack.base}/newsroom/releases/{arabic}/delivery?lang=ar")
    wait_for(lambda: page.locator("#progress").get_attribute("data-pending") == "false", 60)
    arabic_readers = sum(1 for language in CHATS.values() if language in ("ar", "both"))
    assert count(page, "telegram", "sent") == arabic_readers + 1
    assert count(page, "email", "sent") == 1
    shoot(page, "e2e-7-delivery-ar")
    assert_accessible(page, "delivery, ar")
    page.goto(f"{stack.base}/newsroom/releases/{arabic}?lang=ar")
    assert_accessible(page, "release, ar")
    assert not editor.problems, editor.problems
