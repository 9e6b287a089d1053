"""The services' `Queue`, backed by Celery: what the command line's entry point hands them."""

from __future__ import annotations

import time

from kombu.exceptions import OperationalError
from redis.exceptions import RedisError

from publisher.errors import StoreUnavailable
from workers import tasks
from workers.app import app

PING_TIMEOUT_S = 0.5
# What the broker (the same Redis as the store) raises when it cannot be reached.
BROKER_ERRORS = (OperationalError, RedisError, OSError)


class CeleryQueue:
    """Queues publish and deliver tasks on the broker (the same Redis as the store)."""

    def publish(self, release_id: str) -> None:
        try:
            tasks.queue_publish(release_id)
        except BROKER_ERRORS as exc:
            raise StoreUnavailable(f"cannot queue release {release_id}: {exc}") from exc

    def deliver(self, release_id: str, channel: str, batch_id: str) -> None:
        try:
            tasks.dispatch(release_id, channel, batch_id)
        except BROKER_ERRORS as exc:
            raise StoreUnavailable(
                f"cannot queue a {channel} batch of {release_id}: {exc}"
            ) from exc

    def workers_alive(self, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                if app.control.ping(timeout=PING_TIMEOUT_S):
                    return True
            except BROKER_ERRORS:
                pass  # a broker hiccup is the same as no answer
            if time.monotonic() >= deadline:
                return False
            time.sleep(PING_TIMEOUT_S)
