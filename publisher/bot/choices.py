"""What a subscriber's input means, without I/O: deep-link payloads, button data, toggles.

Deep links (`t.me/<bot>?start=PAYLOAD`, and `/start PAYLOAD` typed by hand): at most 64
characters of `[A-Za-z0-9_-]`, meaning a language (`ar`, `en`, `both`), a category slug as on
the website (`local-news`), or both joined by "-" (`ar-local-news`). Case and "_" for "-" are
forgiven. Anything else is not understood: the chat gets the defaults for what was not
understood, and is told so.

Settings buttons carry `l:<language>` or `c:<slug>` as callback data (at most 64 bytes;
a slug too long for that is sent as `h:` and a short hash of it).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass

from publisher.recipients import SUBSCRIBER_LANGUAGES

PAYLOAD = re.compile(r"[A-Za-z0-9_-]{1,64}")
CALLBACK_DATA_MAX = 64  # bytes, Telegram's limit
LANGUAGE_DATA, CATEGORY_DATA, HASHED_DATA = "l:", "c:", "h:"


@dataclass(frozen=True, slots=True)
class DeepLink:
    """What a /start payload chose ("" for what it leaves to the defaults)."""

    language: str = ""
    category: str = ""
    understood: bool = True


def parse_payload(payload: str | None, known_slugs: Callable[[], Collection[str]]) -> DeepLink:
    """The choices a deep-link payload makes; `known_slugs` is asked only when needed."""
    if not payload:
        return DeepLink()
    if not PAYLOAD.fullmatch(payload):
        return DeepLink(understood=False)
    value = payload.lower().replace("_", "-")
    if value in SUBSCRIBER_LANGUAGES:
        return DeepLink(language=value)
    slugs = known_slugs()
    if value in slugs:
        return DeepLink(category=value)
    head, _, rest = value.partition("-")
    if head in SUBSCRIBER_LANGUAGES:
        # A language and an unknown category: the language is kept, the rest is not understood.
        return DeepLink(
            language=head, category=rest if rest in slugs else "", understood=rest in slugs
        )
    return DeepLink(understood=False)


def language_data(language: str) -> str:
    return LANGUAGE_DATA + language


def category_data(slug: str) -> str:
    """A category button's callback data: its slug, or a short hash of a slug too long."""
    data = CATEGORY_DATA + slug
    if len(data.encode()) <= CALLBACK_DATA_MAX:
        return data
    return HASHED_DATA + _digest(slug)


def parse_data(data: str | None, slugs: Collection[str]) -> tuple[str, str] | None:
    """("language", code) or ("category", slug) for a settings button; None for anything
    else (a button of an older keyboard, or of a category that is gone)."""
    if not data:
        return None
    if data.startswith(LANGUAGE_DATA):
        language = data[len(LANGUAGE_DATA) :]
        return ("language", language) if language in SUBSCRIBER_LANGUAGES else None
    if data.startswith(CATEGORY_DATA):
        slug = data[len(CATEGORY_DATA) :]
        return ("category", slug) if slug in slugs else None
    if data.startswith(HASHED_DATA):
        digest = data[len(HASHED_DATA) :]
        found = next((s for s in slugs if _digest(s) == digest), None)
        return ("category", found) if found is not None else None
    return None


def toggled(chosen: Collection[str], slug: str, every: Collection[str]) -> list[str] | None:
    """The categories after switching `slug` on or off: `[]` means every category (as stored
    when nothing is chosen), None that the change would switch the last one off."""
    on = set(chosen) if chosen else set(every)
    if slug in on:
        on.discard(slug)
    else:
        on.add(slug)
    if not on:
        return None
    if on >= set(every):
        return []
    return sorted(on)


def _digest(slug: str) -> str:
    return hashlib.sha1(slug.encode()).hexdigest()[:16]
