"""A release's delivery page in Chromium, against the newsroom as an office runs it
(`publisher serve` and a real `publisher worker` over the session's Redis, every channel on
its loopback peer): an editor publishes from the release's page, the delivery page's counts
move from pending to sent without a reload, two refused sends are retried from the page, and
the posted Telegram and X messages are linked. Screenshots in English and Arabic."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from publisher import services
from publisher.services import accounts, approval, drafts
from publisher.services.accounts import User
from publisher.settings import get_settings, reload_settings
from publisher.store import Store
from tests.conftest import Worker, run_cli
from tests.newsroom.stack import PASSWORD, Stack, running_stack

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
CHATS = [7000 + n for n in range(12)]
FIELDS: dict[str, Any] = {
    "title": "Envoy meets delegation in Gaziantep",
    "date": "2024-05-01T09:00:00+03:00",
    "summary": "The envoy met a delegation of local councils.",
    "body": "The envoy met a delegation.\n\nThey spoke of the crossings and of aid.",
    "category": "Press Releases",
    "channels": ["telegram", "x", "email", "website"],
}


@pytest.fixture
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def stack(tmp_path: Path, data_dir: Path) -> Iterator[Stack]:
    with running_stack(data_dir, tmp_path / "stack.log") as running:
        yield running


def count(page: Any, channel: str, name: str) -> int:
    cell = page.locator(f'#progress tr[data-channel="{channel}"] td[data-count="{name}"]')
    return int(cell.inner_text())


def wait_for(predicate: Any, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError("the page did not get there in time")


def test_the_delivery_page_follows_a_broadcast_and_retries_its_failures(
    stack: Stack, browser: Any, workers: list[Worker], tmp_path: Path
) -> None:
    chats = tmp_path / "chats.txt"
    chats.write_text("".join(f"{chat}\n" for chat in CHATS))
    imported = run_cli("subscribers", "import", "--channel", "telegram", str(chats), env=stack.env)
    assert imported.returncode == 0, imported.stderr
    settings_env = {"PUBLIC_URL": stack.base, "TELEGRAM_CHANNEL": "@press_office"}
    with pytest.MonkeyPatch.context() as patch:
        for key, value in settings_env.items():
            patch.setenv(key, value)
        reload_settings()
        client = redis.Redis.from_url(str(get_settings().redis_url))
        backend = services.Backend(Store(client), get_settings())
        officer, editor = User("olivia", "officer", False, 0), User("eleni", "editor", False, 0)
        release_id = drafts.create(backend, FIELDS, officer).id
        approval.submit(backend, release_id, officer)
        approval.approve(backend, release_id, editor)
        accounts.add_user(backend, "edward", "editor", PASSWORD, "tests")
    reload_settings()

    stack.worker.stop()  # so that the page sees the release pending, then moving
    # the next two sendMessage calls are refused for good ("Bad Request"): two failures
    stack.bot.fail_next(2, status=400, methods=["sendMessage"])
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    errors: list[str] = []
    page.on(
        "response",
        lambda r: (
            errors.append(f"{r.status} {r.url}")
            if r.status >= 400 and not r.url.endswith("/favicon.ico")
            else None
        ),
    )
    page.goto(f"{stack.base}/newsroom/login")
    page.fill("#username", "edward")
    page.fill("#password", PASSWORD)
    page.click("form:not(.signout) button[type=submit]")
    page.goto(f"{stack.base}/newsroom/releases/{release_id}")
    page.click("button[value=publish]")
    assert "it is on its way" in page.inner_text(".notice")
    page.click(f"a[href^='/newsroom/releases/{release_id}/delivery']")
    assert page.locator("#progress").get_attribute("data-pending") == "true"
    assert count(page, "telegram", "sent") == 0
    page.evaluate("window.notReloaded = true")

    workers.append(Worker(stack.env, concurrency=2, log=tmp_path / "worker.log").start())
    wait_for(lambda: page.locator("#progress").get_attribute("data-pending") == "false", 60)
    assert page.evaluate("window.notReloaded") is True  # updated in place, never reloaded
    total = len(CHATS) + 1  # the subscribers and the public channel
    assert count(page, "telegram", "failed") == 2
    assert count(page, "telegram", "sent") == total - 2
    assert count(page, "x", "sent") == 1 and count(page, "website", "sent") == 1
    causes = page.locator("table.errors").inner_text()
    assert "Telegram refused the message" in causes and "\t2\t" in causes
    x_link = page.locator("ul.posted a[href^='https://x.com/i/web/status/']")
    assert x_link.count() >= 1
    shoot(page, "newsroom-delivery-en")

    page.click("#progress button[value=retry]")
    assert re.search(rf"/newsroom/releases/{release_id}/delivery", page.url)
    wait_for(
        lambda: (
            page.locator("#progress").get_attribute("data-pending") == "false"
            and count(page, "telegram", "failed") == 0
        ),
        30,
    )
    assert count(page, "telegram", "sent") == total
    assert page.locator("#progress button[value=retry]").count() == 0
    assert page.locator("table.errors").count() == 0
    # the public channel's post is linked once it went out (a refused send may have been it)
    assert page.locator("ul.posted a[href^='https://t.me/press_office/']").count() >= 1
    sent_to = {call.chat_id for call in stack.bot.calls("sendMessage") if call.ok}
    assert len(sent_to) >= len(CHATS)

    page.goto(f"{stack.base}/newsroom/releases/{release_id}/delivery?lang=ar")
    assert page.locator("html").get_attribute("dir") == "rtl"
    assert "تيليغرام" in page.inner_text("table.progress")
    shoot(page, "newsroom-delivery-ar")
    assert not errors, errors


def shoot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
