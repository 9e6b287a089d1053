"""What the services work on: the store, the queue of worker tasks, and the settings.

Faces never build these parts themselves: they call `connect` with a queue (the command line's
entry point passes the Celery one from `workers/`) and hand the result to service functions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from publisher.settings import Settings, get_settings
from publisher.store import Store


class Queue(Protocol):
    """The work the services hand to the workers; `workers/` implements it with Celery."""

    def publish(self, release_id: str) -> None:
        """Queue the fan-out of a release (records per recipient, then batches)."""

    def deliver(self, release_id: str, channel: str, batch_id: str) -> None:
        """Queue one batch of a channel (its recipients are kept in the store under its id)."""

    def workers_alive(self, timeout_s: float) -> bool:
        """True once a worker answers (waiting up to timeout_s: it may still be starting)."""


@dataclass
class Backend:
    """The store, the queue (made on first use: most commands never queue) and the settings."""

    store: Store
    settings: Settings
    make_queue: Callable[[], Queue] | None = None
    _queue: Queue | None = field(default=None, repr=False)

    @property
    def queue(self) -> Queue:
        if self._queue is None:
            if self.make_queue is None:
                raise RuntimeError("this backend was made without a queue")
            self._queue = self.make_queue()
        return self._queue


def connect(
    make_queue: Callable[[], Queue] | None = None, settings: Settings | None = None
) -> Backend:
    """Open the store (starting the embedded Redis when REDIS_URL is unset) and check it answers.

    Raises StoreUnavailable when Redis cannot be reached.
    """
    from publisher.redis_server import connect as connect_redis

    settings = settings or get_settings()
    store = Store(connect_redis(settings))
    store.ping()
    return Backend(store=store, settings=settings, make_queue=make_queue)


def stop_embedded() -> str:
    """Stop the embedded Redis of this data dir; says what happened."""
    from publisher.redis_server import stop_embedded as stop
    from publisher.redis_server import uses_embedded

    if not uses_embedded():
        return "REDIS_URL is set: no embedded Redis to stop"
    return "embedded Redis stopped" if stop() else "embedded Redis was not running"
