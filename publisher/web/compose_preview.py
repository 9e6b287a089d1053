"""What the compose page shows of `services.drafts.preview`: Telegram bubbles with their
counts, the X thread with each post's weighted length, the email and the web page as
documents for sandboxed frames, and each problem under the field that causes it.

The payloads are the ones delivery sends; only how they are shown is decided here. Telegram's
HTML is shown in the page itself, so it is cleaned again to Telegram's own small tag set (a
hand-written Telegram text is the officer's HTML). The email and the page go into `srcdoc`
frames without scripts; their links to the public site (PUBLIC_URL) point at the newsroom's
copy of it, `/newsroom/site/`, which serves the draft's uploaded images before they are
published, so the preview loads nothing from elsewhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nh3
from markupsafe import Markup
from twitter_text import parse_tweet

from publisher.channels.telegram import TelegramChannel, telegram_length
from publisher.channels.x import XChannel
from publisher.services.drafts import Preview
from publisher.web.compose_form import SPARE_ROWS

SITE_COPY = "/newsroom/site/"
TELEGRAM_TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre",
                 "blockquote", "span", "tg-spoiler"}  # fmt: skip
HEAD = re.compile(r"<head(\s[^>]*)?>", re.IGNORECASE)


@dataclass
class Shown:
    """The preview of a draft as the compose page shows it."""

    ok: bool
    direction: str
    language: str
    telegram: list[dict[str, Any]] = field(default_factory=list)
    x: list[dict[str, Any]] = field(default_factory=list)
    email: dict[str, Any] | None = None
    website: dict[str, Any] | None = None
    #: field name -> its problems ("problem: fix"), warnings among them
    errors: dict[str, list[str]] = field(default_factory=dict)


def telegram_html(text: str) -> Markup:
    """Telegram's HTML cleaned to the tags Telegram itself shows, safe inside the page."""
    cleaned = nh3.clean(
        text,
        tags=TELEGRAM_TAGS,
        attributes={"a": {"href"}, "code": {"class"}, "span": {"class"}},
        url_schemes={"http", "https", "mailto", "tg"},
        link_rel="noopener noreferrer nofollow",
    )
    return Markup(cleaned)  # noqa: S704 - cleaned by nh3 just above


def media_name(path_or_url: str) -> str | None:
    """The uploaded file a local image stands for (its name in the media folder), or None."""
    if path_or_url.startswith(("http://", "https://")) or not path_or_url:
        return None
    return Path(path_or_url).name


def frame_document(html: str, base_url: str, release_id: str) -> str:
    """A channel's HTML document for a preview frame: its site links on the newsroom's copy,
    and relative links resolved as on the release's published page."""
    html = html.replace(f'="{base_url}/', f'="{SITE_COPY}')
    base = f'<base href="{SITE_COPY}releases/{release_id}/">'
    found = HEAD.search(html)
    if found is None:
        return base + html
    return html[: found.end()] + base + html[found.end() :]


def _errors(preview: Preview) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for problem in [*preview.problems, *preview.warnings]:
        text = f"{problem.problem}: {problem.fix}" if problem.fix else problem.problem
        errors.setdefault(problem.field, []).append(text)
    return errors


def shown(preview: Preview, base_url: str) -> Shown:
    """The compose page's view of one preview."""
    release = preview.release
    result = Shown(
        ok=preview.ok,
        direction=release.direction if release is not None else "ltr",
        language=release.language if release is not None else "en",
        errors=_errors(preview),
    )
    if preview.rendered is None or release is None:
        return result
    channels = preview.rendered["channels"]
    for message in channels.get("telegram", {}).get("messages", []):
        if "photo" in message:
            size = telegram_length(message.get("caption", ""))
            name = media_name(str(message["photo"]))
            result.telegram.append({
                "photo": f"{SITE_COPY}releases/{release.id}/{name}" if name else "",
                "photo_url": "" if name else str(message["photo"]),
                "html": telegram_html(message.get("caption", "")),
                "count": size,
                "limit": TelegramChannel.max_caption,
                "over": size > TelegramChannel.max_caption,
            })  # fmt: skip
        else:
            size = telegram_length(message["text"])
            result.telegram.append({
                "html": telegram_html(message["text"]),
                "count": size,
                "limit": TelegramChannel.max_text,
                "over": size > TelegramChannel.max_text,
            })  # fmt: skip
    for post in channels.get("x", {}).get("posts", []):
        weighted = parse_tweet(post["text"]).weightedLength
        result.x.append(
            {"text": post["text"], "count": weighted, "limit": XChannel.max_text,
             "over": weighted > XChannel.max_text}
        )  # fmt: skip
    if "email" in channels:
        email = channels["email"]
        result.email = {
            "subject": email["subject"],
            "srcdoc": frame_document(email["html"], base_url, release.id),
        }
    if "website" in channels:
        result.website = {
            "path": channels["website"]["path"],
            "srcdoc": frame_document(channels["website"]["html"], base_url, release.id),
        }
    return result


FIELD_SLOTS = ("title", "summary", "source", "body", "category", "tags", "language", "date",
               "publish_at", "images", "links", "channels", "translation_of", "overrides",
               "overrides.x.thread", "overrides.telegram.text",
               "overrides.email.subject")  # fmt: skip


def slot_names(
    values: dict[str, Any], channel_names: tuple[str, ...], spare: bool = True
) -> list[str]:
    """Every field name the compose form shows problems under (the rest go to the summary);
    without `spare`, only the image and link rows that were filled (the page has those)."""
    names = [*FIELD_SLOTS, *(f"channels.{name}" for name in channel_names)]
    images = len(values["images"]) - (0 if spare else SPARE_ROWS)
    for i in range(images):
        names += [f"images[{i}]", f"images[{i}].src"]
    links = len(values["links"]) - (0 if spare else SPARE_ROWS)
    names += [f"links[{i}].url" for i in range(links)]
    return names
