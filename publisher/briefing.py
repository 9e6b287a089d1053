"""The daily briefing: one email per language and day grouping that day's releases by category.

Like the seed page ("Press Releases" / "Coalition News" / "Local News" under one date), the
categories come in the order they first appear that day, each item with its headline, lede and
link. A briefing is a release of its own kind (id `briefing-YYYY-MM-DD-LANG`, email only): its
body is `templates/email/briefing.html`, and the email around it (headers, footer, the
per-journalist links) is the release email's, so it goes through the same delivery pipeline.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from publisher.release import Release
from publisher.render import Templates, format_release_date

KIND = "briefing"
LABELS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Daily briefing",
        "subject": "{organisation}: daily briefing, {day}",
        "intro": "The day's releases, by category.",
        "other": "Other news",
    },
    "ar": {
        "title": "الموجز اليومي",
        "subject": "{organisation}: الموجز اليومي، {day}",
        "intro": "بيانات اليوم، مصنّفة حسب الموضوع.",
        "other": "أخبار أخرى",
    },
}


@dataclass(frozen=True)
class Item:
    """One release in a briefing."""

    release_id: str
    title: str
    lede: str
    url: str
    category: str
    #: A translation's original's category: a reader's beats name either.
    original_category: str = ""


@dataclass(frozen=True)
class Section:
    """A category's items, in the order they were published."""

    category: str
    items: list[Item] = field(default_factory=list)


def briefing_id(day: date, language: str) -> str:
    return f"{KIND}-{day:%Y-%m-%d}-{language}"


def local_day(value: str, zone: ZoneInfo) -> date | None:
    """The organisation's local day of a release's ISO 8601 date (None if unreadable)."""
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(zone).date()


def sections(items: Iterable[Item]) -> list[Section]:
    """Items grouped by category, categories in the order of their first item."""
    grouped: dict[str, Section] = {}
    for item in items:
        grouped.setdefault(item.category, Section(item.category)).items.append(item)
    return list(grouped.values())


def labels_for(language: str, day: date, organisation: str) -> dict[str, str]:
    words = LABELS.get(language, LABELS["en"])
    day_text = format_release_date(datetime.combine(day, time(12)), language)
    return {k: v.format(day=day_text, organisation=organisation) for k, v in words.items()}


def briefing_release(
    day: date,
    language: str,
    groups: list[Section],
    templates: Templates,
    organisation: str,
    zone: ZoneInfo,
) -> Release:
    """The briefing as a release for the email channel: its body the grouped items."""
    labels = labels_for(language, day, organisation)
    context: dict[str, Any] = {"sections": groups, "labels": labels, "lang": language}
    body = templates.render_html("email/briefing.html", **context)
    subject = " ".join(templates.render_text("email/briefing.subject.txt", **context).split())
    return Release(
        id=briefing_id(day, language),
        title=labels["title"],
        date=datetime.combine(day, time(12), tzinfo=zone),
        # One HTML block (no blank line inside) passes Markdown as it is; it is sanitised
        # like any release body.
        body="\n".join(line for line in body.splitlines() if line.strip()),
        language=language,
        channels=("email",),
        overrides={"email": {"subject": subject}},
    )
