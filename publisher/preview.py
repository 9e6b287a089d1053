"""`publisher preview`: each channel's rendering for people, with length counters."""

from __future__ import annotations

import html
import re
from typing import Any

from rich.console import Console
from rich.panel import Panel
from rich.text import Text
from twitter_text import parse_tweet

from publisher.release import Release

TAG = re.compile(r"<[^>]*>")


def telegram_length(telegram_html: str) -> int:
    """Length Telegram counts: UTF-16 code units of the visible text after entity parsing."""
    visible = html.unescape(TAG.sub("", telegram_html))
    return len(visible.encode("utf-16-le")) // 2


def counters(rendered: dict[str, Any]) -> dict[str, list[tuple[str, str]]]:
    """Per channel, (label, text) pairs with the counter in the label."""
    result: dict[str, list[tuple[str, str]]] = {}
    channels = rendered["channels"]
    if "telegram" in channels:
        messages = channels["telegram"]["messages"]
        items = []
        for i, message in enumerate(messages, 1):
            if "photo" in message:
                size = telegram_length(message.get("caption", ""))
                items.append((f"photo {i}/{len(messages)}: caption {size}/1024", message["photo"]))
            else:
                size = telegram_length(message["text"])
                items.append((f"message {i}/{len(messages)}: {size}/4096", message["text"]))
        result["telegram"] = items
    if "x" in channels:
        posts = channels["x"]["posts"]
        result["x"] = [
            (f"X post {i}/{len(posts)}: {parse_tweet(p['text']).weightedLength}/280", p["text"])
            for i, p in enumerate(posts, 1)
        ]
    if "email" in channels:
        email = channels["email"]
        html_kb = len(email["html"].encode()) / 1024
        result["email"] = [
            (f"subject ({len(email['subject'])} characters)", email["subject"]),
            (
                f"text part ({len(email['text'])} characters), HTML {html_kb:.1f}/102 KB",
                email["text"],
            ),
        ]
    if "website" in channels:
        site = channels["website"]
        result["website"] = [(f"page {site['path']} ({len(site['html']) / 1024:.1f} KB)", "")]
    return result


def print_preview(release: Release, rendered: dict[str, Any]) -> None:
    console = Console()
    console.print(Text(f"{release.id}  ({release.language}, {release.direction})", style="bold"))
    for channel, items in counters(rendered).items():
        for label, body in items:
            console.print(Panel(Text(body), title=f"{channel}: {label}", title_align="left"))


def print_plain(rendered: dict[str, Any]) -> None:
    """`render` without --json: the payload texts with a header each."""
    console = Console(highlight=False, soft_wrap=True)
    for channel, items in counters(rendered).items():
        for label, body in items:
            console.print(f"== {channel}: {label}", markup=False)
            if body:
                console.print(body, markup=False)
