"""Reading recipient lists: Telegram subscribers (a chat a line) and journalists (CSV)."""

from __future__ import annotations

import csv
import io
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from email_validator import EmailNotValidError, validate_email

from publisher.errors import ReleaseError

Entries = dict[str, dict[str, Any]]


def _split_list(text: str) -> list[str]:
    return [part.strip() for part in text.replace("|", ";").split(";") if part.strip()]


def read_text(path: Path) -> str:
    """The file as text, or a ReleaseError naming the file and the fix."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ReleaseError(str(path), "file", "no such file", "check the path") from None
    except UnicodeDecodeError:
        raise ReleaseError(str(path), "file", "not UTF-8 text", "save it as UTF-8") from None


#: What a Telegram subscriber may choose to read in: one language, or every version.
SUBSCRIBER_LANGUAGES = ("en", "ar", "both")
#: A subscriber's state as `subscribers list` shows it.
SUBSCRIBER_STATES = ("subscribed", "stopped", "blocked")


def chat_type(chat_id: str) -> str:
    """Telegram's chat type from the id's shape (negative: a group, -100...: a supergroup)."""
    if chat_id.startswith("@"):
        return "channel"
    if chat_id.startswith("-100"):
        return "supergroup"
    return "group" if chat_id.startswith("-") else "private"


def subscriber_entry(
    chat_id: str, kind: str, language: str, categories: list[str] | None, source: str
) -> dict[str, Any]:
    """A subscriber's stored record, kept small (a press office has 100,000 of them): the
    time as epoch seconds, no type when the chat id's shape says it (`chat_type`), and no
    categories at all when they read every category."""
    entry: dict[str, Any] = {"language": language, "since": int(time.time()), "source": source}
    if kind != chat_type(chat_id):
        entry["type"] = kind
    if categories:
        entry["categories"] = sorted(set(categories))
    return entry


def iso_time(value: Any) -> str:
    """A stored time (epoch seconds, or already ISO 8601) as ISO 8601 in UTC."""
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC).isoformat(timespec="seconds")
    return str(value or "")


def parse_subscribers(path: Path) -> tuple[Entries, list[ReleaseError]]:
    """One chat id or @channel a line, optionally `,language,category;category`."""
    entries: Entries = {}
    problems: list[ReleaseError] = []
    for number, line in enumerate(read_text(path).splitlines(), 1):
        fields = [f.strip() for f in line.split(",")]
        chat = fields[0]
        if not chat or chat.startswith("#"):
            continue
        if not (chat.lstrip("-").isdigit() or (chat.startswith("@") and len(chat) > 5)):
            problems.append(
                ReleaseError(
                    f"{path}:{number}",
                    "chat",
                    f"{chat!r} is not a chat id or @channel",
                    "one numeric chat id or @channelname a line",
                )
            )
            continue
        entries[chat] = {
            "language": fields[1] if len(fields) > 1 else "",
            "categories": _split_list(fields[2]) if len(fields) > 2 else [],
        }
    return entries, problems


#: The journalists' CSV columns, found by their header name in any order.
JOURNALIST_COLUMNS = ("email", "name", "language", "outlet", "beats", "cadence")
CADENCES = ("instant", "daily", "both")


class InvalidChoice(ValueError):
    """Raised when one field of a journalist is not valid; `field` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def journalist_entry(
    name: str = "",
    language: str = "",
    outlet: str = "",
    beats: list[str] | None = None,
    cadence: str = "",
) -> dict[str, Any]:
    """A journalist's stored choices (InvalidChoice for a cadence not in CADENCES)."""
    cadence = (cadence or "instant").strip().lower()
    if cadence not in CADENCES:
        raise InvalidChoice("cadence", f"cadence {cadence!r} is not one of {', '.join(CADENCES)}")
    return {
        "name": " ".join(name.split()),
        "language": (language.strip() or "en").lower(),
        "outlet": " ".join(outlet.split()),
        "beats": beats or [],
        "cadence": cadence,
    }


def normalise_address(text: str) -> str:
    """An address checked for syntax (email-validator, no DNS) and lower-cased, so the same
    journalist imported twice with different capitals is one record (InvalidChoice if not)."""
    try:
        return validate_email(text.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        message = f"{text.strip()!r} is not an email address ({exc})"
        raise InvalidChoice("email", message) from exc


def parse_journalists(path: Path) -> tuple[Entries, list[ReleaseError]]:
    """A CSV with a header row naming its columns (email required; name, language, outlet,
    beats separated by ';', cadence instant|daily|both), in any order."""
    entries: Entries = {}
    problems: list[ReleaseError] = []
    text = read_text(path)
    # newline="": a quoted field may hold a line break. A spreadsheet set to a language
    # that writes decimal commas saves with semicolons (or tabs): the header line says which.
    first = text.split("\n", 1)[0]
    delimiter = next((d for d in (",", ";", "\t") if d in first), ",")
    rows = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = [column.strip().lower() for column in next(rows, [])]
    unknown = [c for c in header if c not in JOURNALIST_COLUMNS]
    if unknown or "email" not in header:
        problem = (
            f"unknown column {', '.join(repr(c) for c in unknown)}"
            if unknown
            else "no email column"
        )
        fix = f"the first line names the columns, from {', '.join(JOURNALIST_COLUMNS)}"
        return {}, [ReleaseError(f"{path}:1", "header", problem, fix)]
    for row in rows:
        number = rows.line_num  # the row's last line in the file
        if not "".join(row).strip():
            continue
        if len(row) > len(header):
            problems.append(
                ReleaseError(
                    f"{path}:{number}",
                    "columns",
                    f"{len(row)} fields where the header names {len(header)}",
                    f'put a field that holds a "{delimiter}" in double quotes',
                )
            )
            continue
        fields = dict(zip(header, (cell.strip() for cell in row), strict=False))
        try:
            address = normalise_address(fields.get("email", ""))
            entries[address] = journalist_entry(
                name=fields.get("name", ""),
                language=fields.get("language", ""),
                outlet=fields.get("outlet", ""),
                beats=_split_list(fields.get("beats", "")),
                cadence=fields.get("cadence", ""),
            )
        except InvalidChoice as exc:
            problems.append(
                ReleaseError(f"{path}:{number}", exc.field, str(exc), "correct or remove the line")
            )
    return entries, problems
