"""The REST API for real: the app under uvicorn on loopback (the web tests' `LiveServer` and
settings), over the session's real Redis emptied before each test, with a recording queue in
place of Celery (the web tests' `live` app has none, and publishing needs one), and API tokens
of each role made by `publisher.services.accounts`, as `publisher tokens create` makes them."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import redis

from publisher import services
from publisher.services import accounts
from publisher.settings import Settings
from publisher.store import Store
from publisher.web import create_app
from tests.accounts.conftest import smtp_peer, web_settings
from tests.web.conftest import LiveServer, free_port

__all__ = ["smtp_peer", "web_settings"]

_NAMES = itertools.count(1)
RELEASE: dict[str, Any] = {
    "title": "Envoy meets delegation",
    "date": "2024-05-01T09:00:00+03:00",
    "summary": "A short lede.",
    "body": "First paragraph.\n\nSecond paragraph.",
    "category": "Press Releases",
    "channels": ["telegram", "x", "email", "website"],
}


class RecordingQueue:
    """Keeps what the services queue instead of sending it to Celery; `fail` makes the next
    publish raise (a broker that is down), to see a server error free an idempotency key."""

    def __init__(self) -> None:
        self.published: list[str] = []
        self.delivered: list[tuple[str, str, str]] = []
        self.fail = 0

    def publish(self, release_id: str) -> None:
        if self.fail:
            self.fail -= 1
            raise RuntimeError("the broker is down")
        self.published.append(release_id)

    def deliver(self, release_id: str, channel: str, batch_id: str) -> None:
        self.delivered.append((release_id, channel, batch_id))

    def workers_alive(self, timeout_s: float) -> bool:
        return True


@dataclass
class ApiServer:
    base: str
    backend: services.Backend
    queue: RecordingQueue


@pytest.fixture(scope="session")
def api_server(web_settings: Settings) -> Iterator[ApiServer]:
    """The app with a recording queue, for the whole session."""
    client = redis.Redis.from_url(str(web_settings.redis_url))
    queue = RecordingQueue()
    backend = services.Backend(Store(client), web_settings, make_queue=lambda: queue)
    port = free_port()
    server = LiveServer(create_app(backend), port)
    server.start()
    try:
        yield ApiServer(f"http://127.0.0.1:{port}", backend, queue)
    finally:
        server.stop()
        client.close()


@dataclass
class Api:
    """The live API, its backend and queue, and what tests do with them."""

    base: str
    backend: services.Backend
    queue: RecordingQueue
    redis: redis.Redis

    def token(self, role: str = "editor", name: str | None = None) -> str:
        """A new API token of `role` (its secret)."""
        name = name or f"{role}-{next(_NAMES)}"
        return accounts.create_token(self.backend, name, role, "tests")

    def client(self, secret: str | None = None, **headers: str) -> httpx.Client:
        """A program with this bearer token (none: no Authorization header)."""
        if secret is not None:
            headers["Authorization"] = f"Bearer {secret}"
        return httpx.Client(base_url=self.base, headers=headers, timeout=20)

    def as_role(self, role: str) -> httpx.Client:
        return self.client(self.token(role))

    def release_ids(self) -> list[str]:
        return [item["id"] for item in services_list(self.backend)]


def services_list(backend: services.Backend) -> list[dict[str, Any]]:
    from publisher.services import approval

    return approval.list_releases(backend, limit=10_000).items


@pytest.fixture
def api(api_server: ApiServer, redis_client: redis.Redis) -> Api:
    """The live API over an emptied Redis and an empty queue."""
    api_server.queue.published.clear()
    api_server.queue.delivered.clear()
    api_server.queue.fail = 0
    return Api(api_server.base, api_server.backend, api_server.queue, redis_client)


def problem_of(answer: httpx.Response, status: int) -> dict[str, Any]:
    """The problem details of an answer, checked: status, media type, title and status."""
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json"), answer.headers
    body: dict[str, Any] = answer.json()
    assert body["status"] == status and body["title"]
    return body
