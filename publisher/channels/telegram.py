"""Telegram: a release as HTML messages of at most 4096 characters, then its photos.

The text is `templates/telegram/message.html` (the bold title, the date, the lede, the body, the
source and a link to the web page), split at paragraph, sentence or word boundaries into as many
messages as it needs. Each image follows as a photo with its caption (at most 1024 characters);
a local image is named by its absolute path so the deliverer uploads it once and reuses the
file_id.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar

from markupsafe import Markup

from publisher.channels.base import Channel
from publisher.errors import RenderError
from publisher.release import Image, Release
from publisher.render import BodyParts, RenderContext, markdown_to_html
from publisher.splitters.telegram_html import (
    split_telegram_html,
    to_telegram_html,
    unsupported_tags,
)

# Words around the release's own text, in its language (an Arabic line that starts with a
# Latin label would be laid out left to right by Telegram's clients).
LABELS: dict[str, dict[str, str]] = {
    "en": {"source": "Source", "read_more": "Read on the website"},
    "ar": {"source": "المصدر", "read_more": "اقرأ البيان على الموقع"},
    "fr": {"source": "Source", "read_more": "Lire sur le site"},
}
ELLIPSIS = "…"


def labels_for(language: str) -> dict[str, str]:
    """The message labels in a release's language (English when there are none for it)."""
    return LABELS.get(language.split("-")[0].lower(), LABELS["en"])


class TelegramChannel(Channel):
    """Telegram Bot API: HTML parse mode, text messages then photo messages."""

    name = "telegram"
    max_text: ClassVar[int] = 4096
    max_caption: ClassVar[int] = 1024
    parse_mode: ClassVar[str] = "HTML"
    rate_per_s: ClassVar[float | None] = 30

    @classmethod
    def render(cls, release: Release, body: BodyParts, ctx: RenderContext) -> dict[str, Any]:
        """`{"messages": [{"text", "parse_mode"}..., {"photo", "caption", "parse_mode"}...]}`."""
        override = release.override(cls.name, "text")
        text = ctx.templates.render_html(
            "telegram/message.html",
            release=release,
            title=release.title,
            summary=release.summary,
            source=release.source,
            date=release.date,
            language=release.language,
            direction=release.direction,
            body=Markup(to_telegram_html(body.html)),
            override=Markup(to_telegram_html(markdown_to_html(override))) if override else "",
            page_url=ctx.page_url(release),
            labels=labels_for(release.language),
        )
        _check_tags(text, "telegram/message.html")
        messages: list[dict[str, Any]] = [
            {"text": part, "parse_mode": cls.parse_mode}
            for part in split_telegram_html(text, cls.max_text)
        ]
        if not messages:
            raise RenderError(cls.name, "the message is empty", "telegram/message.html")
        for image in release.images:
            caption = ctx.templates.render_html(
                "telegram/caption.html", release=release, image=image
            )
            _check_tags(caption, "telegram/caption.html")
            messages.append(
                {
                    "photo": photo_source(release, image),
                    "caption": fit_caption(caption, cls.max_caption),
                    "parse_mode": cls.parse_mode,
                }
            )
        return {"messages": messages}


def photo_source(release: Release, image: Image) -> str:
    """What sendPhoto gets: a URL as it is, a local file as its absolute path."""
    if image.is_url:
        return image.src
    return os.path.abspath(Path(release.source_path).parent / image.src)


def fit_caption(caption: str, limit: int) -> str:
    """A caption cut to `limit` UTF-16 code units at a word boundary, marked with an ellipsis."""
    parts = split_telegram_html(caption, limit)
    if len(parts) <= 1:
        return parts[0] if parts else ""
    return split_telegram_html(caption, limit - len(ELLIPSIS))[0] + ELLIPSIS


def _check_tags(text: str, template: str) -> None:
    refused = unsupported_tags(text)
    if refused:
        tags = ", ".join(f"<{name}>" for name in refused)
        raise RenderError(
            "telegram", f"the template writes {tags}, which Telegram does not accept", template
        )
