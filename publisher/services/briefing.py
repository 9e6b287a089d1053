"""The daily journalists' briefing: build it for a day and a language, send it once, and send
every due one at PUBLISHER_BRIEFING_AT (the scheduler's tick calls `send_due`).

A day's briefing holds the releases whose `date` falls on that local day (PUBLISHER_TIMEZONE)
and that have been published, in the language of the briefing. It goes to the journalists
whose cadence is daily or both and whose beats match one of its items (the fan-out reads its
kind and categories), through the same pipeline as a release: `publisher status
briefing-YYYY-MM-DD-LANG`. It is made at most once per day and language, however many
schedulers run or restart (a claim on its id); a day without releases sends nothing.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from logging import INFO

from publisher.briefing import KIND, Item, briefing_id, briefing_release, local_day, sections
from publisher.briefing_time import due_day
from publisher.links import release_url
from publisher.logs import log_event
from publisher.release import Release
from publisher.render import RenderContext
from publisher.services.backend import Backend
from publisher.services.releases import Submission, prepare, submit_rendered

log = logging.getLogger(__name__)

LOOK_BACK_DAYS = 7  # releases published up to a week after their date still count
STALE_CLAIM_S = 600.0  # a claim with nothing made after this long: its maker died


@dataclass(frozen=True)
class Briefing:
    """A day's briefing in one language, ready to send or print."""

    release: Release
    rendered: dict[str, object]
    items: list[Item]
    categories: list[str]


def items_of_day(backend: Backend, day: date) -> dict[str, list[Item]]:
    """The day's published releases per language, in the order they were published."""
    zone = backend.settings.timezone
    since = datetime.combine(day - timedelta(days=1), datetime.min.time(), zone).timestamp()
    ids = backend.store.published_since(since - LOOK_BACK_DAYS * 86400)
    found: dict[str, list[Item]] = {}
    for release_id in ids:
        release = backend.store.load_release_json(release_id)
        if release.get("kind") == KIND or local_day(release.get("date", ""), zone) != day:
            continue
        language = (release.get("language") or "en").split("-")[0].lower()
        original = release.get("translation_of")
        original_category = (
            backend.store.load_release_json(original).get("category", "") if original else ""
        )
        found.setdefault(language, []).append(
            Item(
                release_id=release_id,
                title=release.get("title", release_id),
                lede=release.get("summary", ""),
                url=release_url(release_id, backend.settings),
                category=release.get("category", ""),
                original_category=original_category,
            )
        )
    return found


def build(
    backend: Backend, day: date, language: str, found: dict[str, list[Item]] | None = None
) -> Briefing | None:
    """The briefing of `day` in `language`; None when that day has no release in it.
    `found`: the day's items as `items_of_day` gave them, when the caller has read them."""
    items = (items_of_day(backend, day) if found is None else found).get(language, [])
    if not items:
        return None
    ctx = RenderContext.from_settings()
    release = briefing_release(
        day,
        language,
        sections(items),
        ctx.templates,
        backend.settings.organisation_name,
        backend.settings.timezone,
    )
    names = [name for item in items for name in (item.category, item.original_category)]
    categories = list(dict.fromkeys(name for name in names if name))
    return Briefing(release, prepare(release), items, categories)


def send(
    backend: Backend,
    day: date,
    language: str,
    actor: str,
    found: dict[str, list[Item]] | None = None,
) -> Submission | None:
    """Send the day's briefing in `language` once: a Submission saying what happened
    ("queued", or "already-published" with when), or None when there is nothing to send."""
    release_id = briefing_id(day, language)
    store = backend.store
    claimed = store.claim_release(release_id, actor)
    if claimed is not None:
        made = store.release_field(release_id, "release") is not None
        at = float(claimed.split(" ", 1)[0] or 0)
        if made or time.time() - at < STALE_CLAIM_S:
            when = store.release_field(release_id, "published_at") or claimed.split(" ", 1)[0]
            return Submission(release_id, "already-published", _moment(when, backend))
        store.set_release_fields(release_id, claimed=f"{time.time():.3f} {actor}")
    briefing = build(backend, day, language, found)
    if briefing is None:
        return None
    extra = {"kind": KIND, "categories": briefing.categories}
    result = submit_rendered(backend, briefing.release, dict(briefing.rendered), actor, extra=extra)
    log_event(log, INFO, "briefing queued", release_id=release_id, items=len(briefing.items))
    return result


def send_due(backend: Backend, now: datetime | None = None, actor: str = "scheduler") -> list[str]:
    """Send today's briefings once the local time has passed PUBLISHER_BRIEFING_AT, each
    language once. Cheap to call every tick: before the time it reads nothing, and once a
    day's briefings are made a mark in Redis says so. A scheduler that was down at the time
    still sends them within CATCH_UP_H hours; releases published after they went out wait
    for no briefing (they went out on their own to instant readers)."""
    day = due_day(backend.settings, now)
    if day is None:
        return []
    day_mark = f"{KIND}-{day:%Y-%m-%d}"
    if backend.store.release_field(day_mark, "claimed"):
        return []
    sent = []
    found = items_of_day(backend, day)  # read once for every language
    for language in found:
        result = send(backend, day, language, actor, found)
        if result is not None and result.action == "queued":
            sent.append(result.release_id)
    backend.store.claim_release(day_mark, actor)
    return sent


def _moment(epoch: str, backend: Backend) -> datetime | None:
    try:
        return datetime.fromtimestamp(float(epoch), backend.settings.timezone)
    except ValueError:
        return None
