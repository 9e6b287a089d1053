"""What the newsroom's release and recipient pages show, worked out from the services below:
a release's page (what it says, its history in the organisation's time zone, the actions a
role may take now), its delivery page (progress per channel, errors grouped by cause, links to
what was posted), the recipients' lists searched and paged, and a CSV import from an upload.
"""

from __future__ import annotations

import re
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from publisher.delivery import DRY_RUN
from publisher.errors import ReleaseError
from publisher.services import accounts, drafts, status
from publisher.services.accounts import Principal
from publisher.services.backend import Backend
from publisher.services.recipients import (
    JOURNALISTS,
    TELEGRAM,
    ImportReport,
    import_journalists,
    list_recipients,
    stats,
)
from publisher.store.records import DeliveryRecord

#: The release's fields its page sums up, in this order (the rest is on the edit page).
SUMMARISED = ("summary", "category", "tags", "language", "date", "publish_at", "channels")
EXAMPLES = 3  # recipients shown for each cause of failure
MAX_CSV_BYTES = 5_000_000
NUMERIC = re.compile(r"[0-9]{1,25}")
PUBLIC_CHANNEL = re.compile(r"@([A-Za-z0-9_]{4,64})")


# --- a release's page -----------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    """One change in a release's history: what, who, when (local time), and its details."""

    kind: str
    who: str
    when: str  # "YYYY-MM-DD HH:MM" in the organisation's time zone
    iso: str
    details: dict[str, str]


@dataclass(frozen=True)
class ReleaseView:
    """A release as its page shows it, and what the one looking may do with it now."""

    draft: drafts.Draft
    title: str
    summary: list[tuple[str, str]]
    events: list[Event]
    actions: tuple[str, ...]  # among approve, publish, schedule, cancel, retry, resume
    own_release: bool  # the one looking wrote it and may therefore not approve it
    approval_required: bool
    zone: str
    author: str
    approver: str
    scheduled_at: str = ""


def _local(backend: Backend, epoch_s: float) -> datetime:
    return datetime.fromtimestamp(epoch_s, backend.settings.timezone)


def _who(key: str) -> str:
    """`user:NAME` / `token:NAME` as people read it."""
    kind, _, name = key.partition(":")
    return f"token {name}" if kind == "token" else name


def _text(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return "" if value is None else str(value)


def release_view(backend: Backend, release_id: str, who: Principal) -> ReleaseView:
    """The release's page for `who`: its summary, its history, and the actions their role and
    the release's state allow. ReleaseError for an unknown id."""
    draft = drafts.get(backend, release_id)
    required = backend.settings.publisher_approval == "required"
    own = required and draft.author == drafts.principal_key(who)
    state = draft.state
    found = status.release_status(backend, release_id) if state in ("sending", "published") else {}
    channels = found.get("channels", {}).values()
    may = {action for action in accounts.ACTIONS.get(who.role, frozenset())}
    publishable = state == "approved" or (not required and state in ("draft", "awaiting-approval"))
    wanted = {
        "approve": state == "awaiting-approval" and not own,
        "publish": publishable,
        "schedule": publishable,
        "cancel": state in ("scheduled", "sending"),
        "retry": any(c.get("failed") for c in channels),
        "resume": any(c.get("paused_reason") for c in channels),
    }
    actions = tuple(a for a, ok in wanted.items() if ok and a in may)
    events = []
    for event in draft.events:
        when = _local(backend, float(event["at"]))
        details = {k: v for k, v in event.items() if k not in ("type", "who", "at")}
        events.append(
            Event(
                event.get("type", ""),
                event.get("who", ""),
                when.strftime("%Y-%m-%d %H:%M"),
                when.isoformat(timespec="seconds"),
                details,
            )
        )
    fields = draft.fields
    summary = [(name, _text(fields.get(name))) for name in SUMMARISED if fields.get(name)]
    scheduled = backend.store.scheduled_at(release_id) if state == "scheduled" else None
    return ReleaseView(
        draft=draft,
        title=str(fields.get("title") or release_id),
        summary=summary,
        events=events,
        actions=actions,
        own_release=own and state == "awaiting-approval" and "approve" in may,
        approval_required=required,
        zone=backend.settings.publisher_timezone,
        author=_who(draft.author),
        approver=_who(draft.approved_by),
        scheduled_at=_local(backend, float(scheduled)).strftime("%Y-%m-%d %H:%M")
        if scheduled
        else "",
    )


# --- a release's delivery page --------------------------------------------------------------


@dataclass(frozen=True)
class ErrorGroup:
    """The recipients of one channel that failed for one cause: how many, and a few of them."""

    channel: str
    cause: str
    count: int
    examples: list[str]


@dataclass(frozen=True)
class Posted:
    """A link to a message the release posted on a platform (a Telegram post, an X post)."""

    channel: str
    url: str
    part: int  # 1 for the first message or post, 2 for the next...


@dataclass(frozen=True)
class DeliveryView:
    """A release's delivery as its page shows it; `pending` is true while anything waits."""

    id: str
    title: str
    state: str
    channels: dict[str, dict[str, Any]]
    errors: list[ErrorGroup]
    posted: list[Posted]
    pending: bool
    may_retry: bool
    may_resume: bool
    scheduled: bool = False
    totals: dict[str, int] = field(default_factory=dict)


def delivery_view(backend: Backend, release_id: str) -> DeliveryView:
    """Per channel: sent, failed, pending, skipped, paused, uncertain (`release_status`), the
    errors grouped by cause with counts and examples, and links to the posted messages."""
    found = status.release_status(backend, release_id)
    channels: dict[str, dict[str, Any]] = found["channels"]
    errors = found["errors"]
    if len(errors) >= status.MAX_ERRORS:  # the status keeps the first ones only: count all
        errors = _all_errors(backend, release_id, channels)
    state = drafts.display_state(found["state"])
    scheduled = state == "scheduled"
    pending = scheduled or state in ("draft", "awaiting-approval", "approved")
    pending = pending or (
        not status.finished(found) and not any(c.get("paused_reason") for c in channels.values())
    )
    totals = Counter[str]()
    for counts in channels.values():
        totals.update({name: counts[name] for name in status.COUNTS})
    return DeliveryView(
        id=release_id,
        title=found.get("title") or release_id,
        state=state,
        channels=channels,
        errors=group_errors(errors),
        posted=posted_links(backend, release_id, list(channels)),
        pending=pending and state not in ("cancelled",),
        may_retry=any(c["failed"] for c in channels.values()),
        may_resume=any(c.get("paused_reason") for c in channels.values()),
        scheduled=scheduled,
        totals=dict(totals),
    )


def _all_errors(
    backend: Backend, release_id: str, channels: dict[str, dict[str, Any]]
) -> list[dict[str, str]]:
    errors = []
    for channel, counts in channels.items():
        if counts.get("paused_reason"):
            errors.append({"channel": channel, "recipient": "*", "error": counts["paused_reason"]})
        for record in backend.store.records(release_id, channel):
            if record.state == "failed" or (
                record.state == "skipped" and record.error not in (DRY_RUN, "cancelled")
            ):
                errors.append(
                    {"channel": channel, "recipient": record.recipient, "error": record.error}
                )
    return errors


def group_errors(errors: list[dict[str, str]]) -> list[ErrorGroup]:
    """Errors (`{channel, recipient, error}`) grouped by channel and cause, the most first,
    each with up to EXAMPLES recipients."""
    groups: dict[tuple[str, str], list[str]] = {}
    for error in errors:
        key = (error["channel"], error.get("error") or "")
        groups.setdefault(key, []).append(error["recipient"])
    ordered = sorted(groups.items(), key=lambda item: (-len(item[1]), item[0]))
    return [
        ErrorGroup(channel, cause, len(recipients), [r for r in recipients if r != "*"][:EXAMPLES])
        for (channel, cause), recipients in ordered
    ]


def _record(backend: Backend, release_id: str, channel: str, recipient: str) -> DeliveryRecord:
    """One recipient's record (a fixed recipient: the X account, the Telegram channel), read
    alone: a broadcast's other 100,000 records are not scanned for it."""
    found = backend.store.record(release_id, channel, recipient)
    return found or DeliveryRecord(channel, recipient, "missing", 0, [], "", False)


def posted_links(backend: Backend, release_id: str, channels: list[str]) -> list[Posted]:
    """Links to what the release posted: each X post of its thread, and each message in the
    Telegram channel when TELEGRAM_CHANNEL is a public @name. A dry run posted nothing."""
    links = []
    if "x" in channels:
        record = _record(backend, release_id, "x", "account")
        for part, post_id in enumerate(record.platform_ids, 1):
            if NUMERIC.fullmatch(post_id):
                links.append(Posted("x", f"https://x.com/i/web/status/{post_id}", part))
    public = PUBLIC_CHANNEL.fullmatch(backend.settings.telegram_channel or "")
    if "telegram" in channels and public:
        record = _record(backend, release_id, "telegram", public.group(0))
        base = f"https://t.me/{public.group(1)}"
        for part, message_id in enumerate(record.platform_ids, 1):
            if NUMERIC.fullmatch(message_id):
                links.append(Posted("telegram", f"{base}/{message_id}", part))
    return links


# --- recipients -----------------------------------------------------------------------------


@dataclass(frozen=True)
class RecipientPage:
    """One page of a recipients' list searched by `query`, how many match, and the counts."""

    rows: list[dict[str, Any]]
    total: int
    offset: int
    limit: int
    query: str
    counts: dict[str, dict[str, int]]


def _matches(row: dict[str, Any], needle: str, keys: tuple[str, ...]) -> bool:
    return any(needle in str(row.get(key) or "").casefold() for key in keys)


def _page(
    rows: list[dict[str, Any]], query: str, keys: tuple[str, ...], offset: int, limit: int
) -> tuple[list[dict[str, Any]], int]:
    needle = query.strip().casefold()
    if needle:
        rows = [row for row in rows if _matches(row, needle, keys)]
    return rows[offset : offset + limit], len(rows)


def find_subscribers(
    backend: Backend, query: str = "", offset: int = 0, limit: int = 50
) -> RecipientPage:
    """Telegram subscribers whose chat id (or name, where the bot knows one) contains
    `query`, paged; with their counts by language, category and state."""
    rows = list_recipients(backend, TELEGRAM)
    shown, total = _page(rows, query, ("chat_id", "name", "title", "username"), offset, limit)
    return RecipientPage(shown, total, offset, limit, query, stats(backend, TELEGRAM))


def find_journalists(
    backend: Backend, query: str = "", offset: int = 0, limit: int = 50
) -> RecipientPage:
    """Journalists whose address, name or outlet contains `query`, paged (the suppressed ones
    with their cause); with their counts."""
    rows = list_recipients(backend, JOURNALISTS)
    shown, total = _page(rows, query, ("address", "name", "outlet"), offset, limit)
    return RecipientPage(shown, total, offset, limit, query, stats(backend, JOURNALISTS))


def import_journalists_csv(backend: Backend, raw: bytes, actor: str) -> ImportReport:
    """Journalists from an uploaded CSV (what `journalists import` reads from a file)."""
    if len(raw) > MAX_CSV_BYTES:
        raise ReleaseError("upload", "file", "is larger than 5 MB", "split it into smaller files")
    with tempfile.TemporaryDirectory(prefix="publisher-import-") as folder:
        path = Path(folder) / "journalists.csv"
        path.write_bytes(raw)
        return import_journalists(backend, path, actor)
