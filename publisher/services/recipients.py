"""Who receives releases: import, add, remove, list, subscribe, unsubscribe, suppress, count.

Every change is an event in the channel's recipient stream (who did it, the cause). A
suppressed address (unsubscribed, blocked the bot, bounced) is never added back by an import
or by staff; only the person's own subscribe (`/start`, a confirmed sign-up) lifts it.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from logging import INFO
from pathlib import Path
from typing import Any

from publisher import channels as channel_registry
from publisher.errors import ReleaseError, UnknownChannelError
from publisher.logs import log_event
from publisher.recipients import (
    SUBSCRIBER_STATES,
    Entries,
    InvalidChoice,
    chat_type,
    iso_time,
    journalist_entry,
    normalise_address,
    parse_journalists,
    parse_subscribers,
    subscriber_entry,
)
from publisher.services.backend import Backend

log = logging.getLogger(__name__)

JOURNALISTS = "email"
TELEGRAM = "telegram"


@dataclass(frozen=True)
class ImportReport:
    """What an import did: how many were added, how many left out as suppressed, bad lines."""

    added: int
    left_out: int
    problems: list[ReleaseError] = field(default_factory=list)


def _subscriber_channel(name: str) -> str:
    if not channel_registry.get(name).has_subscribers:
        known = [n for n in channel_registry.names() if channel_registry.get(n).has_subscribers]
        raise UnknownChannelError(
            f"channel {name!r} has no subscribers; use {', '.join(known)}", name
        )
    return name


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _add(backend: Backend, channel: str, entries: Entries, actor: str, how: str) -> tuple[int, int]:
    added, left_out = backend.store.add_recipients(channel, entries)
    backend.store.add_recipient_event(channel, how, actor, added=str(added), left_out=str(left_out))
    log_event(
        log, INFO, f"recipients {how}", channel=channel, added=added, left_out=left_out, actor=actor
    )
    return added, left_out


def import_subscribers(backend: Backend, channel: str, path: Path, actor: str) -> ImportReport:
    """Chats from a file (one id or @channel a line, optionally `,language,category;...`)."""
    channel = _subscriber_channel(channel)
    entries, problems = parse_subscribers(path)
    records = {
        chat: subscriber_entry(
            chat,
            chat_type(chat),
            entry.get("language") or "both",
            entry.get("categories"),
            "import",
        )
        for chat, entry in entries.items()
    }
    added, left_out = _add(backend, channel, records, actor, "imported")
    return ImportReport(added, left_out, problems)


def import_journalists(backend: Backend, path: Path, actor: str) -> ImportReport:
    """Journalists from a CSV whose header names its columns; bad rows are reported by line."""
    entries, problems = parse_journalists(path)
    since = _now()
    for entry in entries.values():
        entry.update(state="subscribed", since=since, source="import")
    added, left_out = _add(backend, JOURNALISTS, entries, actor, "imported")
    return ImportReport(added, left_out, problems)


def add_journalist(
    backend: Backend,
    address: str,
    actor: str,
    name: str = "",
    language: str = "",
    outlet: str = "",
    beats: list[str] | None = None,
    cadence: str = "",
) -> bool:
    """Add or update one journalist; False when the address is suppressed (left out)."""
    try:
        address = normalise_address(address)
        entry = journalist_entry(name, language, outlet, beats, cadence)
    except InvalidChoice as exc:
        raise ReleaseError(address, exc.field, str(exc), "correct the value") from None
    entry.update(state="subscribed", since=_now(), source="staff")
    added, _ = _add(backend, JOURNALISTS, {address: entry}, actor, "added")
    return added == 1


def add_subscriber(
    backend: Backend,
    channel: str,
    chat: str,
    actor: str,
    language: str = "both",
    categories: list[str] | None = None,
) -> bool:
    """Add one chat as staff do (like an import); False when it is suppressed (left out: only
    the person's own /start brings a chat back)."""
    channel = _subscriber_channel(channel)
    entry = subscriber_entry(chat, chat_type(chat), language, categories, "staff")
    added, _ = _add(backend, channel, {chat: entry}, actor, "added")
    return added == 1


def remove_journalist(backend: Backend, address: str, actor: str) -> bool:
    """Delete a journalist (not a suppression: a later import may add them again)."""
    try:
        key = normalise_address(address)  # stored as `add` and imports normalise it
    except InvalidChoice:
        return False
    removed = backend.store.remove_recipient(JOURNALISTS, key)
    if removed:
        backend.store.add_recipient_event(JOURNALISTS, "removed", actor, address=key)
        log_event(log, INFO, "recipient removed", channel=JOURNALISTS, actor=actor)
    return removed


def list_recipients(backend: Backend, channel: str) -> list[dict[str, Any]]:
    """Every recipient of a channel with their choices and state (suppressed ones too, with
    why), sorted by address. Telegram's rows carry `chat_id`, `type`, `language`,
    `categories`, `state`, `since` and `source`, as DESIGN.md gives them."""
    channel = _subscriber_channel(channel)
    store = backend.store
    rows = [_row(channel, a, info, None) for a, info in store.iter_recipients(channel)]
    rows += [_row(channel, a, info, why) for a, info, why in store.iter_suppressed(channel)]
    return sorted(rows, key=lambda row: row["address"])


def _row(
    channel: str, address: str, info: dict[str, Any], why: dict[str, Any] | None
) -> dict[str, Any]:
    row: dict[str, Any] = {"address": address, **info, "state": "subscribed"}
    if why is not None:
        row.update(state=why.get("state") or "suppressed", cause=why.get("cause", ""))
    row["since"] = iso_time(info.get("since"))
    if channel == TELEGRAM:
        row = {"chat_id": address, **row}
        row.setdefault("type", chat_type(address))
        row.setdefault("language", "both")
        row.setdefault("categories", [])
        row.setdefault("source", "import")
        if row["state"] not in SUBSCRIBER_STATES:  # older suppressions: the chat was gone
            row["state"] = "stopped" if row["state"] == "unsubscribed" else "blocked"
    return row


def subscribe(
    backend: Backend, channel: str, address: str, choices: dict[str, Any], actor: str, source: str
) -> None:
    """The person's own subscribe (a confirmed sign-up): lifts a suppression."""
    channel = _subscriber_channel(channel)
    entry = {"state": "subscribed", "since": _now(), "source": source, **choices}
    backend.store.put_recipient(channel, address, entry)
    backend.store.add_recipient_event(channel, "subscribed", actor, address=address, source=source)
    log_event(log, INFO, "subscribed", channel=channel, source=source)


def suppress(
    backend: Backend,
    channel: str,
    address: str,
    actor: str,
    cause: str,
    state: str = "suppressed",
) -> None:
    """Stop every delivery to an address for good (unsubscribed, blocked, bounced, by staff)."""
    channel = _subscriber_channel(channel)
    backend.store.suppress(channel, address, cause, state)
    event = {"address": address, "cause": cause, "state": state}
    backend.store.add_recipient_event(channel, "suppressed", actor, **event)
    log_event(log, INFO, "suppressed", channel=channel, cause=cause, state=state, actor=actor)


def unsubscribe(backend: Backend, channel: str, address: str, actor: str) -> None:
    """The person's own unsubscribe (an unsubscribe link): a suppression."""
    suppress(backend, channel, address, actor, "unsubscribed", "unsubscribed")


def stats(backend: Backend, channel: str) -> dict[str, dict[str, int]]:
    """Receiving recipients of a channel per language and per category (none chosen: "all"),
    and every recipient per state (subscribed, stopped, blocked...)."""
    channel = _subscriber_channel(channel)
    by_language: Counter[str] = Counter()
    by_category: Counter[str] = Counter()
    by_state: Counter[str] = Counter()
    for _, info in backend.store.iter_recipients(channel):
        by_state["subscribed"] += 1
        by_language[info.get("language") or "both"] += 1
        for category in info.get("categories") or info.get("beats") or ["all"]:
            by_category[category] += 1
    for address, info, why in backend.store.iter_suppressed(channel):
        by_state[_row(channel, address, info, why)["state"]] += 1
    return {"language": dict(by_language), "category": dict(by_category), "state": dict(by_state)}
