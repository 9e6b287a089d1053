"""Read models of deliveries: a release's status (the `status --json` shape), its per-recipient
records, and a watch that follows a release until nothing is pending."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

from publisher.delivery import DRY_RUN
from publisher.errors import WorkersUnavailable
from publisher.release import DEFAULT_CHANNELS
from publisher.services.backend import Backend
from publisher.services.releases import require_release

COUNTS = ("sent", "failed", "pending", "skipped", "paused", "uncertain")
MAX_ERRORS = 200
#: A worker that is still starting gets this long to answer before a watch says none runs.
WORKER_GRACE_S = 10.0


def release_status(backend: Backend, release_id: str) -> dict[str, Any]:
    """Per channel: sent / failed / pending / skipped / paused / uncertain, and the errors.

    Raises ReleaseError for an unknown id.
    """
    store = backend.store
    require_release(backend, release_id)
    release = store.load_release_json(release_id)
    result: dict[str, Any] = {
        "id": release_id,
        "title": release.get("title", ""),
        "state": store.release_field(release_id, "status") or "unknown",
        "scheduled_at": store.scheduled_at(release_id),
        "channels": {},
        "errors": [],
    }
    for channel in release.get("channels") or list(DEFAULT_CHANNELS):
        counts = store.counts(release_id, channel)
        state = store.channel_state(release_id, channel)
        entry: dict[str, Any] = {name: counts[name] for name in COUNTS}
        entry["gone"] = counts["gone"]
        if state.get("paused"):
            entry["paused_reason"] = state["paused"]
            result["errors"].append(
                {"channel": channel, "recipient": "*", "error": state["paused"]}
            )
        result["channels"][channel] = entry
        for record in store.records(release_id, channel):
            if len(result["errors"]) >= MAX_ERRORS:
                break
            if record.state == "failed" or (
                record.state == "skipped" and record.error not in (DRY_RUN, "cancelled")
            ):
                result["errors"].append(
                    {"channel": channel, "recipient": record.recipient, "error": record.error}
                )
    # Who the release was fanned out to, per language and category (subscribers who chose no
    # category count under "all"), for channels with subscribers.
    audiences = json.loads(store.release_field(release_id, "audience") or "{}")
    for channel, audience in audiences.items():
        if channel in result["channels"]:
            result["channels"][channel]["audience"] = audience
    result["events"] = store.events(release_id)
    if result["state"] == "publishing" and not any(
        c["pending"] or c["paused"] for c in result["channels"].values()
    ):
        result["state"] = "published"
    return result


def exit_code_for(status: dict[str, Any]) -> int:
    """1 if a delivery failed, a recipient was gone or a channel is paused; else 0."""
    for counts in status["channels"].values():
        if (
            counts["failed"]
            or counts["paused"]
            or counts.get("gone")
            or counts.get("paused_reason")
        ):
            return 1
    return 0


def finished(status: dict[str, Any]) -> bool:
    """Nothing pending once fanned out, or a channel paused (what `--wait` waits for)."""
    channels = status["channels"].values()
    if any(c.get("paused_reason") for c in channels):
        return True
    fanned_out = status["state"] in ("publishing", "published", "cancelled")
    return fanned_out and all(c["pending"] == 0 for c in channels)


def watch(backend: Backend, release_id: str, every_s: float = 0.25) -> Iterator[dict[str, Any]]:
    """The release's status now and after each change, until it is finished.

    Raises WorkersUnavailable when work is pending and no worker answers within
    WORKER_GRACE_S (what was queued stays queued and goes out when a worker starts).
    """
    status = release_status(backend, release_id)
    if not finished(status) and not backend.queue.workers_alive(WORKER_GRACE_S):
        raise WorkersUnavailable(
            "no worker is running; start one with `publisher worker` "
            "(the release stays queued and goes out when a worker starts)"
        )
    yield status
    while not finished(status):
        time.sleep(every_s)
        status = release_status(backend, release_id)
        yield status


def deliveries(
    backend: Backend, release_id: str, channels: list[str] | None = None, state: str | None = None
) -> list[dict[str, Any]]:
    """One row per recipient: {channel, recipient, state, attempts, platform_ids, error,
    possible_duplicate}."""
    store = backend.store
    require_release(backend, release_id)
    return [
        record.to_json()
        for channel in channels or store.release_channels(release_id)
        for record in store.records(release_id, channel)
        if state is None or record.state == state
    ]
