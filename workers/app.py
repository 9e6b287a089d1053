"""The Celery app: broker and result backend on publisher's Redis.

Delivery safety lives in publisher.store (claims, leases); here the broker is configured so
that nothing is lost: late acks, reject when a worker process dies, one message prefetched
per process. Scheduled releases are kept in Redis and released by the `tick` task that beat
runs every two seconds, never as long ETA tasks (which Redis' visibility timeout can run twice).
"""

from __future__ import annotations

import gc
import importlib
import os
from typing import Any

from celery import Celery, bootsteps
from celery.signals import worker_init

from publisher.redis_server import celery_broker_url
from publisher.settings import get_settings

QUEUE = "publisher"
TICK_S = 2.0
BRIEFINGS_S = 10.0  # how often the scheduler asks whether the daily briefing is due
# Redis-transport priorities, 0 first: the scheduler's tick must not wait behind a broadcast's
# batches, and a new release's fan-out goes ahead of other releases' batches.
PRIORITY_STEPS = [0, 3, 6, 9]
TICK_PRIORITY, PUBLISH_PRIORITY, DELIVER_PRIORITY = 0, 3, 6
SEP = "\x06\x16"


def queue_keys() -> list[str]:
    """The Redis lists kombu keeps the queue in, one per priority step."""
    return [QUEUE if step == 0 else f"{QUEUE}{SEP}{step}" for step in PRIORITY_STEPS]


def make_app() -> Celery:
    settings = get_settings()
    url = celery_broker_url(settings)
    app = Celery("publisher", broker=url, backend=url, include=["workers.tasks"])
    visibility_timeout_s = float(os.environ.get("PUBLISHER_VISIBILITY_TIMEOUT_S", "3600"))
    app.conf.update(
        task_default_queue=QUEUE,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_ignore_result=True,
        worker_prefetch_multiplier=1,
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
        broker_transport_options={
            "visibility_timeout": visibility_timeout_s,
            "queue_order_strategy": "priority",
            "priority_steps": PRIORITY_STEPS,
            "sep": SEP,
        },
        result_backend_transport_options={"visibility_timeout": visibility_timeout_s},
        task_serializer="json",
        accept_content=["json"],
        beat_schedule={
            "tick": {
                "task": "publisher.tick",
                "schedule": TICK_S,
                "options": {"priority": TICK_PRIORITY, "expires": 30},
            },
            "briefings": {
                "task": "publisher.briefings",
                "schedule": BRIEFINGS_S,
                "options": {"priority": TICK_PRIORITY, "expires": 60},
            },
        },
        beat_schedule_filename=str(settings.data_dir / "celerybeat-schedule"),
        worker_send_task_events=False,
    )
    return app


class BeatThread(bootsteps.StartStopStep):  # type: ignore[misc]  # Celery is untyped
    """Celery beat as a thread of the worker's main process (`publisher worker` without
    --no-beat): what `-B` does, without a process of its own and its ~50 MiB."""

    label = "BeatThread"
    conditional = True

    def __init__(self, w: Any, **kwargs: Any) -> None:
        self.enabled = bool(w.app.conf.get("publisher_beat_thread"))
        super().__init__(w, **kwargs)

    def create(self, w: Any) -> Any:
        from celery.beat import EmbeddedService

        return EmbeddedService(w.app, thread=True)


# Imported by the worker's main process before it forks its pool, so every child shares these
# pages instead of importing its own copy after the fork: what every broadcast batch needs.
# The X and website senders (tweepy; the render stack and the site builder) run once per
# release, so they are imported by the child that first needs them, and only by that one.
PRELOAD = (
    "publisher.runtime",
    "publisher.channels.telegram",  # declarations only: their renderers load on first render
    "publisher.channels.email",
    "publisher.senders.telegram",
    "publisher.senders.smtp",
    "publisher.senders.outbox",
)


# Young objects a pool process may make (net) before a collection: a broadcast makes short-lived
# containers by the thousand (requests, futures, outcomes), nearly all freed by their reference
# counts, and Python's default of 700 collected so often that the collector took a tenth of a
# send's CPU; ten times that leaves at most a few thousand cyclic leftovers between collections.
GC_YOUNG_THRESHOLD = 7000


@worker_init.connect
def preload(**_: Any) -> None:
    for name in PRELOAD:
        importlib.import_module(name)
    # Objects made so far move out of the collector's sight: a collection in a child would
    # otherwise write to (and so copy) every shared page that holds one.
    gc.freeze()
    # Inherited by the pool processes forked after this.
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])


app = make_app()
app.steps["worker"].add(BeatThread)
