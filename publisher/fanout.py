"""Fan-out: who receives a release on each channel, as records in batches, each dispatched.

Runs in the worker's `publish` task. The caller passes `dispatch`, which queues one batch's
`deliver` task, so this module never sees Celery. Safe to run twice (a redelivered task).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from publisher import channels as channels_registry
from publisher.channels.base import Channel
from publisher.logs import log_event
from publisher.settings import Settings
from publisher.store import Store

log = logging.getLogger(__name__)

# Queue one batch's task: (release id, channel, batch id).
Dispatch = Callable[[str, str, str], None]


def wants(recipient: dict[str, Any], release: dict[str, Any], versions: dict[str, str]) -> bool:
    """Language and category choices: does this subscriber or journalist get this release?"""
    categories = [c.lower() for c in recipient.get("categories") or recipient.get("beats") or []]
    category = (release.get("category") or "").lower()
    if categories and category and category not in categories:
        return False
    language = (recipient.get("language") or "").lower()
    own = (release.get("language") or "en").lower()
    if language in ("", "both", own):
        return True
    # Another language: only the original goes to them, and only if no version is in theirs.
    is_original = not release.get("translation_of")
    return is_original and language not in {lang.lower() for lang in versions}


def audience(
    store: Store,
    settings: Settings,
    channel: type[Channel],
    release: dict[str, Any],
    versions: dict[str, str],
) -> Iterator[str]:
    """Who receives a release on one channel: its fixed recipients (the account, the public
    channel, the site), then the subscribers who want it, read from Redis a page at a time
    (so a fan-out to 100,000 subscribers never holds them all in memory). `versions`:
    language -> release id of every version of the release."""
    yield from channel.fixed_recipients(settings)
    if channel.has_subscribers:
        for address, info in store.iter_recipients(channel.name):
            if wants(info, release, versions):
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
    release = store.load_release_json(release_id)
    versions = store.translations(store.release_field(release_id, "group") or release_id)
    for declaration in declared:
        channel = declaration.name
        size = declaration.batch_size_for(settings)
        dispatched: set[str] = set()
        queued[channel] = 0
        # The last recipients go in smaller batches, so that the workers finish together
        # instead of one sending a whole batch while the others wait.
        tail_from = store.recipient_count(channel) - 2 * size
        recipients = audience(store, settings, declaration, release, versions)
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
