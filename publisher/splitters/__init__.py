"""Splitters: cut a channel's finished text into parts that fit the platform's limits."""

from __future__ import annotations

from publisher.splitters.telegram_html import (
    TELEGRAM_TAGS,
    split_telegram_html,
    unsupported_tags,
    utf16_len,
)

__all__ = ["TELEGRAM_TAGS", "split_telegram_html", "unsupported_tags", "utf16_len"]
