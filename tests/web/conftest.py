"""The web app for real: `create_app` under uvicorn on a free loopback port (a thread of the
test process, one for the session), over the session's real Redis, sending its email to a real
SMTP server on loopback (aiosmtpd). Each test starts from an empty Redis and an empty mailbox.
"""

from __future__ import annotations

import email
import email.policy
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import redis
import uvicorn

from publisher import services
from publisher.settings import Settings
from publisher.store import Store
from publisher.store import keys as k
from publisher.web import create_app
from tests.peers.smtp import SMTPPeer

SECRET = "web-tests-secret-key"
ORGANISATION = "Syrian Press Office"
ORGANISATION_ADDRESS = "12 Example Street, Gaziantep, Türkiye"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class LiveServer:
    """uvicorn serving an ASGI app on 127.0.0.1:port in a thread."""

    def __init__(self, app: Any, port: int) -> None:
        config = uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", access_log=False
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="uvicorn", daemon=True)

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="session")
def smtp_peer() -> Iterator[SMTPPeer]:
    with SMTPPeer() as peer:
        yield peer


@pytest.fixture(scope="session")
def web_settings(
    redis_server: str, smtp_peer: SMTPPeer, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    port = free_port()
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        redis_url=redis_server,
        publisher_data_dir=tmp_path_factory.mktemp("web-var"),
        smtp_url=smtp_peer.url,
        mail_from=f"{ORGANISATION} <press@example.org>",
        public_url=f"http://127.0.0.1:{port}",
        publisher_secret_key=SECRET,
        organisation_name=ORGANISATION,
        organisation_address=ORGANISATION_ADDRESS,
        publisher_templates=None,
    )


@pytest.fixture(scope="session")
def live(web_settings: Settings) -> Iterator[tuple[str, services.Backend]]:
    """The running app (base URL, its backend), for the whole session."""
    client = redis.Redis.from_url(str(web_settings.redis_url))
    backend = services.Backend(store=Store(client), settings=web_settings)
    port = int(urlsplit(web_settings.public_url).port or 0)
    server = LiveServer(create_app(backend), port)
    server.start()
    try:
        yield web_settings.base_url, backend
    finally:
        server.stop()
        client.close()


@dataclass
class Form:
    """One <form> of a page: where it goes and what it would send."""

    action: str
    method: str
    fields: list[tuple[str, str]]  # hidden and text inputs, checked boxes and radios
    buttons: list[tuple[str, str]]  # (name, value) of each submit button


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {name: value or "" for name, value in attrs}
        if tag == "form":
            self.forms.append(Form(a.get("action", ""), a.get("method", "get"), [], []))
        elif tag == "input" and self.forms and a.get("name"):
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            self.forms[-1].fields.append((a["name"], a.get("value", "")))
        elif tag == "button" and self.forms:
            self.forms[-1].buttons.append((a.get("name", ""), a.get("value", "")))


def forms(html: str) -> list[Form]:
    parser = _Forms()
    parser.feed(html)
    return parser.forms


@dataclass
class Site:
    """The live app with its parts, and what tests do with it."""

    base: str
    backend: services.Backend
    peer: SMTPPeer
    redis: redis.Redis

    def client(self, ip: str = "198.51.100.7", **headers: str) -> httpx.Client:
        """A browser-like client from `ip` (uvicorn trusts X-Forwarded-For from loopback)."""
        return httpx.Client(
            base_url=self.base,
            headers={"X-Forwarded-For": ip, **headers},
            follow_redirects=False,
            timeout=10,
        )

    def csrf(self, client: httpx.Client, path: str = "/subscribe") -> str:
        page = client.get(path)
        assert page.status_code == 200, page.text
        found = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert found, "the form carries no CSRF token"
        return found.group(1)

    def sign_up(self, client: httpx.Client, address: str, **fields: Any) -> httpx.Response:
        data: dict[str, Any] = {"email": address, "language": "en", "cadence": "instant"}
        data.update(fields)
        data.setdefault("csrf", self.csrf(client))
        return client.post("/subscribe", data=data)

    def mails(self) -> list[EmailMessage]:
        parsed = []
        for received in self.peer.messages:
            message = email.message_from_bytes(received.data, policy=email.policy.default)
            assert isinstance(message, EmailMessage)
            parsed.append(message)
        return parsed

    def link_in(self, message: EmailMessage, purpose: str = "confirm") -> str:
        """The path of the link of `purpose` in a message's plain-text part."""
        part = message.get_body(("plain",))
        assert part is not None
        text = part.get_content()
        found = re.search(rf"{re.escape(self.base)}(/{purpose}/[A-Za-z0-9_.-]+)", text)
        assert found, f"no {purpose} link in:\n{text}"
        return found.group(1)

    def snapshot(self) -> dict[str, Any]:
        """Everything a journalist's link may change: recipients, suppressions, pending
        sign-ups and the event stream."""
        hashes = [
            k.k_recipients("email"),
            k.k_recipients_off("email"),
            k.k_suppressed("email"),
            k.k_pending("email"),
        ]
        state: dict[str, Any] = {key: self.redis.hgetall(key) for key in hashes}
        state["events"] = self.redis.xlen(k.k_recipient_events("email"))
        return state

    def rows(self) -> dict[str, dict[str, Any]]:
        return {r["address"]: r for r in services.list_recipients(self.backend, "email")}


@pytest.fixture
def site(
    live: tuple[str, services.Backend], smtp_peer: SMTPPeer, redis_client: redis.Redis
) -> Site:
    """The live app over an emptied Redis and mailbox, with two known categories."""
    smtp_peer.reset()
    base, backend = live
    backend.store.note_category("local-news", "en", "Local News")
    backend.store.note_category("local-news", "ar", "أخبار محلية")
    backend.store.note_category("press-releases", "en", "Press Releases")
    backend.store.note_category("press-releases", "ar", "بيانات صحفية")
    backend.store.note_category("coalition-news", "en", "Coalition News")
    backend.store.note_category("coalition-news", "ar", "أخبار الائتلاف")
    return Site(base, backend, smtp_peer, redis_client)


SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
