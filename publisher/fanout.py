"""Fan-out: who receives a release on each channel, as records in batches, each dispatched.

Runs in the worker's `publish` task. The caller passes `dispatch`, which queues one batch's
`deliver` task, so this module never sees Celery. Safe to run twice (a redelivered task).
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from publisher import channels as channels_registry
from publisher.channels.base import Channel
from publisher.logs import log_event
from publisher.settings import Settings
from publisher.slugs import category_slug
from publisher.store import Store

log = logging.getLogger(__name__)

# Queue one batch's task: (release id, channel, batch id).
Dispatch = Callable[[str, str, str], None]


@dataclass(frozen=True)
class Offer:
    """What a release offers a recipient to choose by: its language and category slugs (a
    translation also counts under its original's category, which is its `category`)."""

    language: str
    categories: frozenset[str]
    category: str = ""
    #: A daily briefing (for journalists whose cadence is daily or both), not one release.
    briefing: bool = False

    @classmethod
    def of(cls, store: Store, release: dict[str, Any]) -> Offer:
        names = [release.get("category") or ""]
        if release.get("translation_of"):
            names.insert(
                0, store.load_release_json(release["translation_of"]).get("category") or ""
            )
        briefing = release.get("kind") == "briefing"
        if briefing:  # it offers every category of its items
            names = list(release.get("categories") or [])
        slugs = [category_slug(name) for name in names if name.strip()]
        language = primary_language(release.get("language") or "en")
        return cls(language, frozenset(slugs), slugs[0] if slugs else "", briefing)


def primary_language(tag: str) -> str:
    """ "ar-SA" -> "ar": choices name languages, not regions."""
    return tag.split("-")[0].strip().lower()


def wants(recipient: dict[str, Any], offer: Offer) -> bool:
    """Language and category choices: does this subscriber or journalist get this version?

    Someone who chose a language gets the versions in it and no other (an Arabic reader gets
    the Arabic translation where there is one, and nothing of a release without one); "both"
    (or no choice) gets every version. No categories chosen means all of them. A journalist's
    cadence picks releases as they go out (instant, the default), the daily briefing, or both.
    """
    cadence = recipient.get("cadence") or "instant"
    if cadence != "both" and (cadence == "daily") != offer.briefing:
        return False
    chosen = recipient.get("categories") or recipient.get("beats") or []
    if chosen and offer.categories and not offer.categories & {category_slug(c) for c in chosen}:
        return False
    language = primary_language(recipient.get("language") or "")
    return language in ("", "both") or language == offer.language


def audience(
    store: Store,
    settings: Settings,
    channel: type[Channel],
    offer: Offer,
    tally: dict[str, Counter[str]] | None = None,
) -> Iterator[str]:
    """Who receives a release on one channel: its fixed recipients (the account, the public
    channel, the site), then the subscribers who want it, read from Redis a page at a time
    (so a fan-out to 100,000 subscribers never holds them all in memory). `tally` counts
    them by language and by category ("all" for those who chose no category)."""
    yield from channel.fixed_recipients(settings)
    if channel.has_subscribers:
        for address, info in store.iter_recipients(channel.name):
            if wants(info, offer):
                if tally is not None:
                    tally["language"][info.get("language") or "both"] += 1
                    chose = info.get("categories") or info.get("beats")
                    tally["category"][offer.category if chose else "all"] += 1
                yield address


def fan_out(
    store: Store, settings: Settings, release_id: str, channels: list[str], dispatch: Dispatch
) -> dict[str, int]:
    """Queue a record per recipient, in batches, and dispatch each batch as it is made.

    Safe to run twice (a redelivered task): records are created only once, a batch left
    undispatched by a first try is dispatched by the second, and a batch dispatched twice is
    claimed by one task only.
    """
    if store.release_field(release_id, "fanned_out"):
        return {}
    # Every channel must be known here before any is fanned out: no half-sent releases.
    declared = [channels_registry.get(name) for name in channels]
    queued: dict[str, int] = {}
    offer = Offer.of(store, store.load_release_json(release_id))
    audiences: dict[str, dict[str, Counter[str]]] = {}
    for declaration in declared:
        channel = declaration.name
        size = declaration.batch_size_for(settings)
        dispatched: set[str] = set()
        queued[channel] = 0
        # The last recipients go in smaller batches, so that the workers finish together
        # instead of one sending a whole batch while the others wait.
        tail_from = store.recipient_count(channel) - 2 * size
        tally = audiences.setdefault(channel, {"language": Counter(), "category": Counter()})
        recipients = audience(store, settings, declaration, offer, tally)
        for chunk in _chunks(recipients, size, tail_from, max(1, size // 5)):
            batch_id, fresh = store.create_batch(release_id, channel, chunk)
            queued[channel] += fresh
            if batch_id:
                dispatch(release_id, channel, batch_id)
                dispatched.add(batch_id)
        store.mark_channel_queued(release_id, channel)
        for batch_id in store.queued_batches(release_id, channel):
            if batch_id not in dispatched:  # made by an earlier try that died
                dispatch(release_id, channel, batch_id)
    if not store.mark_fanned_out(release_id):
        return {}
    store.set_release_fields(
        release_id, audience=json.dumps({c: t for c, t in audiences.items() if any(t.values())})
    )
    store.set_release_fields(release_id, status="publishing", published_at=time.time())
    store.add_event(release_id, "published", "system", channels=",".join(channels))
    log_event(
        log,
        logging.INFO,
        "fanned out",
        release_id=release_id,
        **{f"queued_{name}": count for name, count in queued.items()},
    )
    return queued


def _chunks(
    items: Iterable[str], size: int, tail_from: int = 0, tail_size: int = 0
) -> Iterator[list[str]]:
    """Lists of `size` items; once `tail_from` items have been handed out, of `tail_size`."""
    chunk: list[str] = []
    handed_out = 0
    for item in items:
        chunk.append(item)
        if len(chunk) >= (tail_size if tail_size and handed_out >= tail_from else size):
            handed_out += len(chunk)
            yield chunk
            chunk = []
    if chunk:
        yield chunk
