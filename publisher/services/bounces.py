"""Bounces: a journalist's address refused at send time or reported later by a delivery status
notification (DSN), counted and suppressed by one set of rules.

    "gone"     no such user (5.1.x)               suppressed at once, state "bounced"
    "hard"     any other permanent failure        counted; suppressed at PUBLISHER_BOUNCE_LIMIT
    "soft"     temporary (4.x.x, a delayed DSN)   counted, nothing suppressed
    "message"  about our message or sender        noted, nothing counted (5.1.7/5.1.8)

`publisher bounces import PATH` reads a Maildir or an mbox: flufl.bounce finds who bounced and
whether permanently (`all_failures`, every detector from RFC 3464 to qmail's QSBMF), and the
report's own words (the DSN's Status and Diagnostic-Code, else the text next to the address)
say which kind (`publisher.senders.smtp.bounce_kind`, the same rule as at send time). Addresses
are matched to journalists case-insensitively. Every suppression is an event with its cause,
and so is every counted bounce.
"""

from __future__ import annotations

import logging
import mailbox
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from logging import INFO
from pathlib import Path

from flufl.bounce import all_failures

from publisher.errors import ReleaseError
from publisher.logs import log_event
from publisher.recipients import InvalidChoice, normalise_address
from publisher.senders.smtp import bounce_kind, enhanced_status
from publisher.services.backend import Backend
from publisher.services.recipients import JOURNALISTS, suppress

log = logging.getLogger(__name__)

CAUSE_MAX = 300  # characters of a reply or diagnostic kept as the cause


@dataclass(frozen=True)
class BounceOutcome:
    """What one bounce of one address did: `action` is "suppressed", "counted" (a hard bounce
    under the limit), "soft", "not counted" (about our message), "already suppressed" or
    "not a journalist"."""

    address: str
    action: str
    kind: str
    cause: str
    hard: int = 0
    soft: int = 0
    limit: int = 0  # PUBLISHER_BOUNCE_LIMIT when it was counted


def record_bounce(
    backend: Backend, address: str, kind: str, cause: str, actor: str, channel: str = JOURNALISTS
) -> BounceOutcome:
    """Apply the bounce rules to one address: `kind` is "gone", "hard", "soft" or "message"."""
    cause = " ".join(cause.split())[:CAUSE_MAX]
    store = backend.store
    try:
        address = normalise_address(address)
    except InvalidChoice:
        return BounceOutcome(address, "not a journalist", kind, cause)
    known = store.recipient(channel, address)
    if known is None:
        return BounceOutcome(address, "not a journalist", kind, cause)
    if known[1] is not None:
        return BounceOutcome(address, "already suppressed", kind, cause)
    if kind == "message":
        return BounceOutcome(address, "not counted", kind, cause)
    if kind == "soft":
        soft = store.count_bounce(channel, address, hard=False)
        store.add_recipient_event(
            channel, "bounced", actor, address=address, bounce="soft", count=str(soft), cause=cause
        )
        return BounceOutcome(address, "soft", kind, cause, soft=soft)
    if kind == "gone":
        suppress(backend, channel, address, actor, f"bounced: {cause}", "bounced")
        return BounceOutcome(address, "suppressed", kind, cause)
    hard = store.count_bounce(channel, address, hard=True)
    store.add_recipient_event(
        channel, "bounced", actor, address=address, bounce="hard", count=str(hard), cause=cause
    )
    limit = backend.settings.publisher_bounce_limit
    if hard >= limit:
        why = f"bounced {hard} times (PUBLISHER_BOUNCE_LIMIT {limit}); last: {cause}"
        suppress(backend, channel, address, actor, why, "bounced")
        return BounceOutcome(address, "suppressed", kind, cause, hard=hard, limit=limit)
    return BounceOutcome(address, "counted", kind, cause, hard=hard, limit=limit)


@dataclass(frozen=True)
class MessageReport:
    """One message of the mailbox: what it said about whom, and what was done."""

    label: str
    outcomes: list[BounceOutcome] = field(default_factory=list)

    def line(self) -> str:
        """One line for people: the message, then each address, what was done and why."""
        if not self.outcomes:
            return f"{self.label}: not a bounce, skipped"
        return f"{self.label}: " + "; ".join(_said(o) for o in self.outcomes)


def _said(outcome: BounceOutcome) -> str:
    what = {
        "suppressed": "suppressed (no such user)"
        if outcome.kind == "gone"
        else f"suppressed (hard bounce {outcome.hard} of {outcome.limit})",
        "counted": f"hard bounce {outcome.hard} of {outcome.limit} counted",
        "soft": f"soft bounce {outcome.soft} counted, not suppressed",
        "not counted": "not counted (about our message or sender)",
        "already suppressed": "already suppressed, nothing to do",
        "not a journalist": "not a journalist, ignored",
    }[outcome.action]
    return f"{outcome.address} {what}: {outcome.cause or 'no reason given'}"


@dataclass(frozen=True)
class BounceImport:
    """Every message read, in order, and the totals."""

    messages: list[MessageReport]

    def totals(self) -> Counter[str]:
        counts: Counter[str] = Counter(o.action for m in self.messages for o in m.outcomes)
        counts["messages"] = len(self.messages)
        counts["not a bounce"] = sum(1 for m in self.messages if not m.outcomes)
        return counts

    def summary(self) -> str:
        totals = self.totals()
        names = {
            "suppressed": "suppressed",
            "counted": "hard bounces counted",
            "soft": "soft bounces counted",
            "not counted": "not counted (about our message)",
            "already suppressed": "already suppressed",
            "not a journalist": "not journalists",
            "not a bounce": "not bounces",
        }
        parts = [f"{name} {totals[key]}" for key, name in names.items() if totals[key]]
        return f"{totals['messages']} messages read: {', '.join(parts) or 'nothing to do'}"


def open_mailbox(path: Path) -> mailbox.Mailbox[mailbox.Message]:
    """A Maildir (a folder with cur/ and new/) or an mbox file, checked before anything is read.

    Raises ReleaseError (exit 2) naming the path and the fix.
    """
    fix = "give a Maildir (a folder holding cur/ and new/) or an mbox file"
    if path.is_dir():
        if not ((path / "cur").is_dir() and (path / "new").is_dir()):
            raise ReleaseError(str(path), "path", "a folder, but not a Maildir", fix)
        return mailbox.Maildir(path, factory=None, create=False)
    try:
        with path.open("rb") as handle:
            start = handle.read(5)
    except FileNotFoundError:
        raise ReleaseError(str(path), "path", "no such file or folder", fix) from None
    except OSError as exc:
        raise ReleaseError(str(path), "path", f"cannot read it ({exc.strerror})", fix) from None
    if start and start != b"From ":
        raise ReleaseError(str(path), "path", "not an mbox (no 'From ' line first)", fix)
    return mailbox.mbox(path, create=False)


def import_bounces(
    backend: Backend, box: mailbox.Mailbox[mailbox.Message], actor: str
) -> BounceImport:
    """Apply the bounce rules to every address each message reports (see the module's table)."""
    reports = [
        MessageReport(label, [record_bounce(backend, a, k, c, actor) for a, k, c in found])
        for label, found in _read(box)
    ]
    result = BounceImport(reports)
    log_event(log, INFO, "bounces imported", channel=JOURNALISTS, actor=actor,
              **{k.replace(" ", "_"): v for k, v in result.totals().items()})  # fmt: skip
    return result


def _read(
    box: mailbox.Mailbox[mailbox.Message],
) -> Iterator[tuple[str, list[tuple[str, str, str]]]]:
    """(label, [(address, kind, cause)]) for each message, in the mailbox's order."""
    maildir = isinstance(box, mailbox.Maildir)
    keys = sorted(box.keys(), key=_delivered) if maildir else list(box.keys())
    for number, key in enumerate(keys, 1):
        message = box[key]
        label = f"message {number}" + (f" ({key})" if maildir else "")
        yield label, bounces_in(message)


_MICROSECONDS = re.compile(r"M(\d+)")


def _delivered(key: str) -> tuple[float, int, str]:
    """When a Maildir message arrived, from its name ("1733212800.M104905P1642Q8.host", as
    Python, Dovecot and Postfix write it): the microseconds are not zero-padded, so the names
    alone sort M99999 after M104905 of the same second."""
    seconds, _, rest = key.partition(".")
    micro = _MICROSECONDS.search(rest)
    return (
        float(seconds) if seconds.isdigit() else float("inf"),
        int(micro.group(1)) if micro else 0,
        key,
    )


def bounces_in(message: Message) -> list[tuple[str, str, str]]:
    """Who a DSN (or a bounce in an older format) reports, as (address, kind, cause)."""
    temporary, permanent = all_failures(message)
    details = _dsn_details(message)
    found: list[tuple[str, str, str]] = []
    seen: set[str] = set()
    for raw, permanent_failure in [(a, True) for a in sorted(permanent)] + [
        (a, False) for a in sorted(temporary)
    ]:
        address = raw.decode("ascii", "replace").strip().strip("<>")
        if not address or address.lower() in seen:
            continue
        seen.add(address.lower())
        status, diagnostic = details.get(address.lower(), ("", ""))
        text = diagnostic or _words_about(message, address)
        cause = text if not status or status in text else f"{status} {text}".strip()
        if not permanent_failure:
            found.append((address, "soft", cause))
            continue
        if not status.startswith("5.") or status == "5.0.0":  # none, generic, or 4.x.x "failed"
            status = enhanced_status(text) or ""
        found.append((address, bounce_kind(text, status or None), cause))
    return found


def _dsn_details(message: Message) -> dict[str, tuple[str, str]]:
    """address -> (Status, Diagnostic-Code) of each per-recipient block of an RFC 3464 report."""
    details: dict[str, tuple[str, str]] = {}
    for part in message.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        blocks = part.get_payload()
        if not isinstance(blocks, list):
            continue
        for block in blocks:
            if not isinstance(block, Message):
                continue
            status = (block.get("status") or "").strip().split(" ")[0]
            diagnostic = " ".join(str(block.get("diagnostic-code") or "").split())
            diagnostic = re.sub(r"^\s*smtp\s*;\s*", "", diagnostic, flags=re.IGNORECASE)
            for header in ("original-recipient", "final-recipient", "x-actual-recipient"):
                value = str(block.get(header) or "")
                address = value.split(";", 1)[-1].strip().strip("<>").lower()
                if address:
                    details.setdefault(address, (enhanced_status(status) or "", diagnostic))
    return details


def _words_about(message: Message, address: str) -> str:
    """What a plain-text bounce (qmail, an old Postfix) says right after the address."""
    wanted = address.lower()
    for part in message.walk():
        if part.get_content_type() != "text/plain":
            continue
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            continue
        text = payload.decode(part.get_content_charset() or "utf-8", "replace")
        for paragraph in re.split(r"\n\s*\n", text):
            lowered = paragraph.lower()
            at = lowered.find(wanted)
            if at >= 0:
                after = paragraph[at + len(wanted) :].lstrip(">: \t\n")
                return " ".join(after.split())[:CAUSE_MAX]
    return ""
