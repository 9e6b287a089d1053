"""The words of the newsroom's pages for the releases' list, a release's page and delivery page,
and the recipients' pages, in English and Arabic (merged into `publisher.web.words.WORDS`; every
word in both languages)."""

from __future__ import annotations

WORDS: dict[str, dict[str, str]] = {
    "en": {},
    "ar": {},
}
