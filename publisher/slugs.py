"""Slugs: the ASCII names of releases and categories in URLs, deep links and choices.

Kept apart from the release model so that the fan-out and the bot compare categories without
loading the parser: a subscriber's `local-news` and a release's "Local News" are one category.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from functools import lru_cache

SLUG_MAX = 60


def slugify(text: str, max_length: int = SLUG_MAX) -> str:
    """ASCII `[a-z0-9-]` slug of a text, cut at a word boundary; empty if no Latin letters."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    if len(slug) > max_length:
        slug = slug[:max_length].rsplit("-", 1)[0] or slug[:max_length]
    return slug


@lru_cache(maxsize=4096)
def category_slug(name: str) -> str:
    """The slug of a category, as on the website: ASCII, or a short hash for names without
    Latin letters ("أخبار محلية" -> "c-" and ten hex digits). A slug is its own slug."""
    name = name.strip()
    return slugify(name) or "c-" + hashlib.sha1(name.encode()).hexdigest()[:10]
