"""The officer's actions on a release: submit (now or at an embargo), cancel, resume, retry.

Each takes the callables that queue work (`publish_now`, `dispatch`) so the domain stays free
of Celery; the command line and the web pass the Celery ones.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from publisher.delivery import Dispatch, batch_size
from publisher.release import Release
from publisher.settings import get_settings
from publisher.store import Store


@dataclass(frozen=True)
class Submission:
    """What `publish` did: queued now, scheduled for later, or nothing new."""

    release_id: str
    action: str  # queued | scheduled | already-published | retrying
    at: datetime | None = None
    count: int = 0


def submit(
    store: Store,
    release: Release,
    rendered: dict[str, Any],
    publish_now: Callable[[str], None],
    who: str,
    at: datetime | None = None,
    channels: list[str] | None = None,
    retry_failed: bool = False,
    dispatch: Dispatch | None = None,
) -> Submission:
    """Store the release and its rendered payloads, then publish now or schedule it."""
    release_id = release.id
    chosen = channels or list(release.channels)
    if store.release_field(release_id, "fanned_out"):
        if retry_failed and dispatch is not None:
            count = sum(len(requeue(store, release_id, c, "failed", dispatch)) for c in chosen)
            store.add_event(release_id, "retried", who, count=str(count))
            return Submission(release_id, "retrying", count=count)
        return Submission(release_id, "already-published")
    store.save_release(release_id, release.to_json(), rendered)
    store.set_release_fields(release_id, channels=json.dumps(chosen))
    store.add_event(release_id, "submitted", who, channels=",".join(chosen))
    when = at or release.publish_at
    if when is not None and when.timestamp() > time.time():
        store.schedule(release_id, when.timestamp())
        store.set_release_fields(release_id, status="scheduled", publish_at=when.isoformat())
        store.add_event(release_id, "scheduled", who, at=when.isoformat())
        return Submission(release_id, "scheduled", when)
    store.unschedule(release_id)
    store.set_release_fields(release_id, status="queued")
    publish_now(release_id)
    return Submission(release_id, "queued")


def requeue(
    store: Store, release_id: str, channel: str, from_state: str, dispatch: Dispatch
) -> list[str]:
    # Batches as fan_out makes them: a rate-limited channel's must take seconds, not minutes.
    size = batch_size(channel, get_settings())
    batches, addresses = store.requeue(release_id, channel, from_state, size)
    for batch_id in batches:
        dispatch(release_id, channel, batch_id)
    return addresses


def cancel(store: Store, release_id: str, who: str) -> str:
    """Withdraw a scheduled release, or stop a broadcast under way (what was sent stays sent)."""
    if store.unschedule(release_id):
        store.set_release_fields(release_id, status="cancelled")
        store.add_event(release_id, "cancelled", who, was="scheduled")
        return "withdrawn before it was published"
    for channel in store.release_channels(release_id):
        store.set_channel_state(release_id, channel, cancelled=who)
    store.set_release_fields(release_id, status="cancelled")
    store.add_event(release_id, "cancelled", who, was="publishing")
    return "stopped; what was sent stays sent"


def resume(store: Store, release_id: str, who: str, dispatch: Dispatch) -> dict[str, int]:
    """Continue channels paused by a channel-wide fault, sending only what was not sent."""
    resumed: dict[str, int] = {}
    for channel in store.release_channels(release_id):
        if not store.channel_state(release_id, channel).get("paused"):
            continue
        store.clear_channel_state(release_id, channel, "paused")
        resumed[channel] = len(requeue(store, release_id, channel, "paused", dispatch))
        store.add_event(release_id, "resumed", who, channel=channel, count=str(resumed[channel]))
    return resumed
