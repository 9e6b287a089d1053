"""Thin tasks: each loads ids, calls one publisher function, returns a small receipt."""

from __future__ import annotations

from typing import Any

from workers.app import DELIVER_PRIORITY, PUBLISH_PRIORITY, QUEUE, app, queue_keys


def dispatch(release_id: str, channel: str, batch_id: str) -> None:
    """Queue one batch for delivery (its recipients are kept in Redis under its id)."""
    deliver.apply_async((release_id, channel, batch_id), queue=QUEUE, priority=DELIVER_PRIORITY)


def queue_publish(release_id: str) -> None:
    publish.apply_async((release_id,), queue=QUEUE, priority=PUBLISH_PRIORITY)


@app.task(name="publisher.publish", acks_late=True, reject_on_worker_lost=True)
def publish(release_id: str) -> dict[str, int]:
    from publisher.runtime import runtime

    return runtime().publish(release_id, dispatch)


@app.task(name="publisher.deliver", acks_late=True, reject_on_worker_lost=True)
def deliver(release_id: str, channel: str, batch_id: str) -> dict[str, int]:
    from publisher.runtime import runtime

    return runtime().deliver(release_id, channel, batch_id)


@app.task(name="publisher.tick", acks_late=False)
def tick() -> dict[str, Any]:
    from publisher.runtime import runtime

    rt = runtime()
    broker_idle = sum(rt.store.redis.llen(key) for key in queue_keys()) == 0
    return rt.tick(dispatch, queue_publish, broker_idle)


@app.task(name="publisher.briefings", acks_late=False)
def briefings() -> list[str]:
    """Send the journalists' daily briefings once PUBLISHER_BRIEFING_AT has come: each day and
    language once, however many schedulers ask (the services claim each briefing)."""
    from publisher.briefing_time import due_day
    from publisher.runtime import runtime

    rt = runtime()
    if due_day(rt.settings) is None:
        return []  # the render stack stays out of the worker until the briefing is due
    from publisher.services import Backend
    from publisher.services.briefing import send_due
    from workers.queue import CeleryQueue

    return send_due(Backend(rt.store, rt.settings, CeleryQueue))
