"""The bot under test: the real Application on its own event loop thread, long-polling the
loopback Bot API (or serving the webhook on a real port), over the test Redis."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from publisher import services
from publisher.bot.app import BotApplication, build_application, polling
from publisher.bot.webhook import WEBHOOK_PATH, serve
from publisher.runtime import new_event_loop
from publisher.services import subscribers
from publisher.settings import Settings
from tests.peers.telegram_api import FakeBotAPI

SECRET = "s3cret-webhook-token_for-tests"
ORGANISATION = "City Press Office"


@pytest.fixture(scope="module")
def server() -> Iterator[FakeBotAPI]:
    with FakeBotAPI() as peer:
        yield peer


@pytest.fixture
def peer(server: FakeBotAPI) -> FakeBotAPI:
    server.reset()
    for knob in (server.blocked, server.admins, server.creators):
        knob.clear()
    return server


def bot_settings(peer: FakeBotAPI, redis_url: str, data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "redis_url": redis_url,
        "publisher_data_dir": data_dir,
        "telegram_bot_token": peer.token,
        "telegram_api_url": peer.base_url,
        "telegram_webhook_secret": SECRET,
        "telegram_rate_limit": 1000.0,  # out of the way; every request still asks Redis
        "public_url": "https://press.example.org",
        "organisation_name": ORGANISATION,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def settings(peer: FakeBotAPI, data_dir: Path, redis_server: str) -> Settings:
    return bot_settings(peer, redis_server, data_dir)


@pytest.fixture
def backend(settings: Settings) -> services.Backend:
    return services.connect(settings=settings)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RunningBot:
    """One bot process's Application, run on a thread of its own: polling by default, or
    serving the webhook on `port`."""

    def __init__(
        self, backend: services.Backend, settings: Settings, peer: FakeBotAPI, webhook: bool
    ) -> None:
        self.backend = backend
        self.settings = settings
        self.peer = peer
        self.webhook = webhook
        self.port = free_port() if webhook else 0
        self.application: BotApplication | None = None
        self.failure: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bot", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{WEBHOOK_PATH}"

    def start(self) -> RunningBot:
        self._thread.start()
        if not self._ready.wait(15):
            raise TimeoutError("the bot did not start within 15 s")
        if self.failure is not None:
            raise self.failure
        return self

    def _run(self) -> None:
        loop = self._loop = new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._main())
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            self.failure = exc
        finally:
            self._ready.set()
            loop.close()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        application = self.application = build_application(self.backend, self.settings)
        if self.webhook:
            started = asyncio.Event()
            waiter = asyncio.ensure_future(started.wait())
            waiter.add_done_callback(lambda _: self._ready.set())
            await serve(
                application,
                host="127.0.0.1",
                port=self.port,
                url="https://press.example.org/telegram/webhook",
                secret=SECRET,
                stop=self._stop,
                started=started,
            )
            return
        async with polling(application):
            self._ready.set()
            await self._stop.wait()

    def settle(self, timeout_s: float = 10.0) -> None:
        """Return once every update the peer queued (or the webhook took) is handled."""
        deadline = time.monotonic() + timeout_s
        if not self.webhook:
            while self.peer.pending():
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{self.peer.pending()} updates were never fetched")
                time.sleep(0.002)
        assert self._loop is not None and self.application is not None
        queue = self.application.update_queue
        asyncio.run_coroutine_threadsafe(queue.join(), self._loop).result(timeout_s)
        if self.failure is not None:
            raise self.failure

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(15)


@pytest.fixture
def bots(
    backend: services.Backend, settings: Settings, peer: FakeBotAPI
) -> Iterator[Callable[..., RunningBot]]:
    """Start bots (`bots()`, `bots(webhook=True)`); every one is stopped at the end."""
    started: list[RunningBot] = []

    def make(webhook: bool = False, settings_: Settings | None = None) -> RunningBot:
        bot = RunningBot(backend, settings_ or settings, peer, webhook)
        started.append(bot)
        return bot.start()

    yield make
    for bot in started:
        bot.stop()
    for bot in started:
        if bot.failure is not None:
            raise bot.failure


@pytest.fixture
def bot(bots: Callable[..., RunningBot]) -> RunningBot:
    return bots()


def texts(peer: FakeBotAPI, chat: int) -> list[str]:
    """What the bot's messages in a chat say now."""
    return [m.get("text", "") for m in peer.sent_to(chat)]


def say(peer: FakeBotAPI, bot: RunningBot, chat: int, text: str, **user: Any) -> str:
    """A private message from `chat`; returns the bot's answer (its only new message)."""
    before = len(peer.sent_to(chat))
    peer.user_message(chat, text, **user)
    bot.settle()
    after = texts(peer, chat)
    assert len(after) == before + 1, after
    return after[-1]


def state(backend: services.Backend, chat: int | str) -> subscribers.Subscriber | None:
    return subscribers.find(backend, str(chat))


def publish(backend: services.Backend, release_id: str, title: str, language: str) -> None:
    """A published release, as /latest finds it."""
    release = {"id": release_id, "title": title, "language": language, "date": "2026-12-01"}
    backend.store.save_release(release_id, release, {"channels": {}})
    assert backend.store.mark_fanned_out(release_id)
