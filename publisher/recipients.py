"""Reading recipient lists: Telegram subscribers (a chat a line) and journalists (CSV)."""

from __future__ import annotations

import csv
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


def parse_journalists(path: Path) -> tuple[Entries, list[ReleaseError]]:
    """A header row, then email,name,language[,beats] (beats separated by ';')."""
    entries: Entries = {}
    problems: list[ReleaseError] = []
    for number, row in enumerate(csv.reader(read_text(path).splitlines()), 1):
        if number == 1 or not row or not "".join(row).strip():
            continue
        try:
            address = validate_email(row[0].strip(), check_deliverability=False).normalized
        except EmailNotValidError as exc:
            problems.append(
                ReleaseError(
                    f"{path}:{number}",
                    "email",
                    f"{row[0]!r} is invalid ({exc})",
                    "correct or remove the line",
                )
            )
            continue
        entries[address] = {
            "name": row[1].strip() if len(row) > 1 else "",
            "language": (row[2].strip() if len(row) > 2 else "") or "en",
            "beats": _split_list(row[3]) if len(row) > 3 else [],
        }
    return entries, problems
