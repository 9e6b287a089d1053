"""The newsroom's accounts against the real app: the web tests' live uvicorn server (reused from
tests/web/conftest.py, not copied), the session's real Redis emptied before each test, and
helpers that sign in through the form as a browser would."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import redis

from publisher import services
from publisher.services import accounts
from publisher.settings import Settings
from publisher.store import Store
from publisher.web import create_app
from publisher.web.deps import SESSION_COOKIE
from tests.web.conftest import LiveServer, free_port, live, smtp_peer, web_settings

__all__ = ["live", "smtp_peer", "web_settings"]

PASSWORD = "correct horse battery staple"
_ADDRESSES = itertools.count(1)


@dataclass
class Newsroom:
    """The live app, its backend and Redis, and what the tests do with them."""

    base: str
    backend: services.Backend
    redis: redis.Redis

    def client(self, ip: str | None = None) -> httpx.Client:
        """A browser of its own, from its own address unless told (uvicorn trusts
        X-Forwarded-For from loopback), so the per-client limit counts only what a test means."""
        n = next(_ADDRESSES)
        ip = ip or f"203.0.{113 + n // 250 % 2}.{n % 250 + 1}"
        return httpx.Client(
            base_url=self.base, headers={"X-Forwarded-For": ip}, follow_redirects=False, timeout=20
        )

    def add_user(self, name: str, role: str = "editor", password: str = PASSWORD) -> None:
        accounts.add_user(self.backend, name, role, password, "tests")

    def csrf(self, client: httpx.Client, path: str = "/newsroom/login") -> str:
        page = client.get(path)
        assert page.status_code == 200, page.text
        found = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert found, "the form carries no CSRF token"
        return found.group(1)

    def sign_in(
        self, client: httpx.Client, name: str, password: str = PASSWORD, **extra: str
    ) -> httpx.Response:
        data = {"username": name, "password": password, **extra}
        data.setdefault("csrf", self.csrf(client))
        return client.post("/newsroom/login", data=data)

    def signed_in(self, name: str, role: str = "editor") -> httpx.Client:
        """A browser signed in as a new user `name`."""
        self.add_user(name, role)
        client = self.client()
        answer = self.sign_in(client, name)
        assert answer.status_code == 303, answer.text
        assert client.cookies.get(SESSION_COOKIE, path="/newsroom")
        return client

    def everything(self) -> dict[bytes, Any]:
        """Every key in Redis with its value (to find a secret or to see nothing changed)."""
        dump: dict[bytes, Any] = {}
        for key in self.redis.scan_iter(count=1000):
            kind = self.redis.type(key)
            if kind == b"hash":
                dump[key] = self.redis.hgetall(key)
            elif kind == b"set":
                dump[key] = self.redis.smembers(key)
            elif kind == b"zset":
                dump[key] = self.redis.zrange(key, 0, -1, withscores=True)
            elif kind == b"stream":
                dump[key] = self.redis.xrange(key)
            elif kind == b"list":
                dump[key] = self.redis.lrange(key, 0, -1)
            else:
                dump[key] = self.redis.get(key)
        return dump


@pytest.fixture
def newsroom(live: tuple[str, services.Backend], redis_client: redis.Redis) -> Newsroom:
    """The live app over an emptied Redis."""
    base, backend = live
    return Newsroom(base, backend, redis_client)


@pytest.fixture
def https_newsroom(web_settings: Settings, redis_client: redis.Redis) -> Iterator[Newsroom]:
    """The same app with an https PUBLIC_URL (served over plain HTTP on loopback, as behind a
    proxy that ends TLS)."""
    settings = web_settings.model_copy(update={"public_url": "https://press.example.org"})
    backend = services.Backend(Store(redis_client), settings)
    port = free_port()
    server = LiveServer(create_app(backend), port)
    server.start()
    try:
        yield Newsroom(f"http://127.0.0.1:{port}", backend, redis_client)
    finally:
        server.stop()


def location(answer: httpx.Response) -> str:
    """Where a redirect goes, as a path with its query."""
    parts = urlsplit(answer.headers["location"])
    return parts.path + (f"?{parts.query}" if parts.query else "")
