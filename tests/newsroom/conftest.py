"""The compose page's tests: the accounts tests' fixtures (the live app over the session's real
Redis, `newsroom.signed_in(name, role)`), the process's settings on the live app's data dir (the
release checks look for uploaded images there), and `compose_release`, which fills the compose
form in Chromium as an officer would."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from publisher.settings import Settings, reload_settings
from tests.accounts.conftest import PASSWORD, Newsroom, live, newsroom, smtp_peer, web_settings

__all__ = ["PASSWORD", "Newsroom", "live", "newsroom", "smtp_peer", "web_settings"]


@pytest.fixture(autouse=True)
def same_settings(web_settings: Settings) -> Iterator[None]:
    """The release checks and renderers read the process's settings: make them the live app's
    (its media folder for uploads, its PUBLIC_URL for the links the preview rewrites)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PUBLISHER_DATA_DIR", str(web_settings.data_dir))
        patch.setenv("PUBLIC_URL", web_settings.public_url)
        reload_settings()
        yield
    reload_settings()


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the form carries no CSRF token"
    return found.group(1)


def form_fields(**fields: Any) -> dict[str, Any]:
    """A compose form's fields as a browser sends them (every channel ticked by default)."""
    data: dict[str, Any] = {
        "channels_shown": "1",
        "channels": ["telegram", "x", "email", "website"],
        "language": "en",
        "date": "2024-05-01T09:00",
    }
    data.update(fields)
    return data


def post_form(
    client: httpx.Client, path: str, csrf: str, headers: dict[str, str] | None = None, **fields: Any
) -> httpx.Response:
    return client.post(path, data={**form_fields(**fields), "csrf": csrf}, headers=headers)


def compose_release(page: Any, base: str, fields: dict[str, Any]) -> None:
    """Fill the compose form open in `page` (or open /newsroom/releases/new first when `base`
    is given and the page is elsewhere). `fields`: title, summary, body, category, tags,
    language ("en"|"ar"|another tag), date ("YYYY-MM-DDTHH:MM"), publish_at,
    translation_of (an id), image (a path to upload), image_alt, image_caption,
    links [(title, url)], channels [names], x_thread, telegram_text, email_subject."""
    if "/newsroom/releases/" not in page.url:
        page.goto(f"{base}/newsroom/releases/new")
    simple = {
        "title": "#title",
        "summary": "#summary",
        "body": "#body",
        "category": "#category",
        "tags": "#tags",
        "date": "#date",
        "publish_at": "#publish-at",
        "x_thread": "#override-x-thread",
        "telegram_text": "#override-telegram",
        "email_subject": "#override-email",
    }
    for key, selector in simple.items():
        if key in fields:
            page.fill(selector, fields[key])
    if "language" in fields:
        if fields["language"] in ("en", "ar"):
            page.select_option("#language", fields["language"])
        else:
            page.select_option("#language", "")
            page.fill("#language-other", fields["language"])
    if "translation_of" in fields:
        options = page.locator("#translation-of option").evaluate_all("os => os.map(o => o.value)")
        if fields["translation_of"] in options:
            page.select_option("#translation-of", fields["translation_of"])
        else:
            page.fill("#translation-of-id", fields["translation_of"])
    for index, (title, url) in enumerate(fields.get("links", [])):
        page.fill(f"#link-title-{index}", title)
        page.fill(f"#link-url-{index}", url)
    if "channels" in fields:
        for box in page.locator("input[name=channels]").all():
            box.set_checked(box.get_attribute("value") in fields["channels"])
    if "image" in fields:
        rows = page.locator(".image-row").count()
        page.set_input_files("#upload-image", str(fields["image"]))
        page.fill("#upload-alt", fields.get("image_alt", ""))
        page.fill("#upload-caption", fields.get("image_caption", ""))
        page.click(".upload button")
        page.wait_for_function("n => document.querySelectorAll('.image-row').length > n", arg=rows)
