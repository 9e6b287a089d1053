"""Telegram fan-out through the real pipeline, against bare clients on the same loopback peer.

Measured in one run: a release of one 630-character message to 1,000, 10,000 and 100,000
subscribers with the rate limit out of the way (TELEGRAM_RATE_LIMIT=100000), from the submit call
to the last outcome recorded; at 10,000 the same messages sent by a bare aiohttp loop, a bare
python-telegram-bot loop and Apprise's Telegram plugin; the default 30/s limit against a peer that
answers 429 past 30 requests in any sliding second; worker peak memory; Redis bytes per record.

Targets: >= 0.7x the bare aiohttp loop and >= 3x Apprise, flat from 10,000 to 100,000; >= 97% of
the 30/s limit with no 429; worker peak memory < 150 MB; < 150 bytes of Redis per record.
"""

from __future__ import annotations

import asyncio
import resource
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.common import Section, cpu_count, fmt_int, fmt_mb, fmt_s, load_average
from bench.peers import (
    BenchRedis,
    Delivered,
    PeerProcess,
    Pipeline,
    publisher_env,
    this_process_as,
)

SIZES = (1_000, 10_000, 100_000)
QUICK_SIZES = (300, 1_000)
BASELINE_SIZE = 10_000
QUICK_BASELINE_SIZE = 500
REPEATS = 3
TEXT_CHARS = 630
CONCURRENCY = 64  # what the pipeline has in flight: 2 worker processes x 32
SECTION_BUDGET_S = 600.0  # over this, 100,000 runs once
RATE_LIMIT = 30
RATE_SUBSCRIBERS = 300
QUICK_RATE_SUBSCRIBERS = 60
RECORDS = 100_000
QUICK_RECORDS = 10_000
FAST_LIMIT = "100000"
CHAT_BASE = 100_000_000
WARM_BASE = 900_000_000
WARM_UP = 600  # more than one batch (500): both pool processes get a task

HEADER = ["Measurement", "Size", "Median", "Spread (min – max)", "Runs", "Details", "Target met"]
FILLER = (
    "The delegation stressed the need for urgent humanitarian access to the region, for the "
    "protection of civilians and for an end to the bombardment of towns and villages. "
)


# -- the release --------------------------------------------------------------------------------


def release(release_id: str, text_chars: int = TEXT_CHARS, body: str | None = None) -> Any:
    """A Telegram-only release whose one message is `text_chars` characters (HTML included)."""
    from publisher.release import release_from_mapping
    from publisher.render import render_all

    def make(text: str) -> Any:
        return release_from_mapping(
            {
                "id": release_id,
                "title": "Delegation meets the German envoy in Berlin",
                "date": "2024-05-01T09:00:00+03:00",
                "summary": "The delegation called for action to protect civilians in Idlib.",
                "source": "Media Department",
                "category": "Coalition News",
                "channels": ["telegram"],
                "body": text,
            }
        )

    if body is not None:
        return make(body)
    length = 300
    for _ in range(4):  # the message grows one character per body character
        text = (FILLER * (length // len(FILLER) + 1))[:length].rstrip() + "."
        rel = make(text)
        got = len(render_all(rel)["channels"]["telegram"]["messages"][0]["text"])
        if got == text_chars:
            return rel
        length += text_chars - got
    raise RuntimeError(f"cannot make a {text_chars}-character message (got {got})")


def message_text(rendered: dict[str, Any]) -> str:
    messages = rendered["channels"]["telegram"]["messages"]
    if len(messages) != 1:
        raise RuntimeError(f"expected one message, got {len(messages)}")
    return str(messages[0]["text"])


def subscribers(count: int, base: int = CHAT_BASE) -> dict[str, dict[str, Any]]:
    """`count` private chats, as `publisher subscribers import` stores them."""
    return {str(base + i): {"language": "", "categories": []} for i in range(count)}


# -- the pipeline -------------------------------------------------------------------------------


class Telegram:
    """The Redis, the peer and this process's settings shared by the pipeline runs."""

    def __init__(self, redis: BenchRedis, peer: PeerProcess, limit: str | None) -> None:
        extra = {"TELEGRAM_BOT_TOKEN": peer.info["token"], "TELEGRAM_API_URL": peer.info["base_url"]}
        if limit is not None:
            extra["TELEGRAM_RATE_LIMIT"] = limit
        self.peer = peer
        self.pipeline = Pipeline(redis, publisher_env(redis, **extra))
        self.serial = 0

    def fan_out(self, count: int, timeout_s: float = 1800) -> Delivered:
        """A fresh Redis and worker; warm the worker up; then time one release to `count`."""
        from publisher.render import render_all

        self.serial += 1
        self.pipeline.reset()
        store = self.pipeline.store()
        with self.pipeline.worker() as worker:
            warm = release(f"warm-up-{self.serial}", body="Warm-up.")
            self.pipeline.warm_up(
                store, "telegram", warm, render_all(warm), subscribers(WARM_UP, WARM_BASE)
            )
            store.add_recipients("telegram", subscribers(count))
            measured = release(f"fan-out-{self.serial}")
            done = self.pipeline.deliver(
                store, worker, self.peer, measured, render_all(measured), "telegram", count,
                timeout_s,
            )  # fmt: skip
        check_pipeline(done, count)
        return done


def check_pipeline(done: Delivered, count: int) -> None:
    """Every subscriber got the message exactly once, and every record says so."""
    peer = done.peer
    if done.counts["sent"] != count or peer["sent"] != count or peer["chats"] != count:
        raise RuntimeError(f"pipeline: {count} subscribers, records {done.counts}, peer {peer}")


# -- the baselines ------------------------------------------------------------------------------


@dataclass
class Baseline:
    """One bare-client run: wall time, this process's CPU time, the peer's CPU time."""

    elapsed_s: float
    client_cpu_s: float
    peer_cpu_s: float
    sent: int

    @property
    def rate(self) -> float:
        return self.sent / self.elapsed_s


def _self_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure(peer: PeerProcess, count: int, send: Callable[[], None]) -> Baseline:
    peer.call("reset")
    cpu0, peer0 = _self_cpu_s(), peer.cpu_s()
    started = time.perf_counter()
    send()
    elapsed = time.perf_counter() - started
    cpu1, peer1 = _self_cpu_s(), peer.cpu_s()
    summary = peer.call("summary")
    if summary["sent"] != count or summary["chats"] != count:
        raise RuntimeError(f"baseline sent {summary['sent']} of {count}: {summary['statuses']}")
    return Baseline(elapsed, cpu1 - cpu0, peer1 - peer0, summary["sent"])


def bare_aiohttp(peer: PeerProcess, chats: list[str], text: str) -> None:
    """sendMessage POSTs (form-encoded, as PTB sends them) from one session, 64 at a time."""
    import aiohttp

    url = f"{peer.info['base_url']}/bot{peer.info['token']}/sendMessage"

    async def main() -> None:
        limit = asyncio.Semaphore(CONCURRENCY)
        connector = aiohttp.TCPConnector(limit=CONCURRENCY)
        async with aiohttp.ClientSession(connector=connector) as session:

            async def one(chat: str) -> None:
                async with limit:
                    form = {"chat_id": chat, "text": text, "parse_mode": "HTML"}
                    async with session.post(url, data=form) as response:
                        answer = await response.json()
                        if not answer.get("ok"):
                            raise RuntimeError(f"sendMessage: {answer}")

            await asyncio.gather(*(one(chat) for chat in chats))

    asyncio.run(main())


def bare_ptb(peer: PeerProcess, chats: list[str], text: str) -> None:
    """python-telegram-bot's `Bot` with its default request layer (httpx), 64 at a time."""
    import telegram

    async def main() -> None:
        limit = asyncio.Semaphore(CONCURRENCY)
        bot = telegram.Bot(peer.info["token"], base_url=f"{peer.info['base_url']}/bot")
        async with bot:

            async def one(chat: str) -> None:
                async with limit:
                    await bot.send_message(int(chat), text, parse_mode="HTML")

            await asyncio.gather(*(one(chat) for chat in chats))

    asyncio.run(main())


def apprise_plugin(peer: PeerProcess, chats: list[str]) -> Any:
    """Apprise's Telegram plugin pointed at the peer: a subclass with the peer's `notify_url`.

    Apprise builds its requests from the class attribute `notify_url`
    (`https://api.telegram.org/bot`), so the subclass changes only that.
    """
    from apprise.plugins.telegram import NotifyTelegram

    loopback = type("LoopbackTelegram", (NotifyTelegram,), {
        "notify_url": f"{peer.info['base_url']}/bot",
    })  # fmt: skip
    return loopback(bot_token=peer.info["token"], targets=chats, detect_owner=False)


def bare_apprise(peer: PeerProcess, chats: list[str], text: str) -> None:
    """One Apprise notification to every chat (its plugin loops over the targets)."""
    import apprise

    notifier = apprise.Apprise()
    notifier.add(apprise_plugin(peer, chats))
    if not notifier.notify(body=text, body_format=apprise.NotifyFormat.HTML):
        raise RuntimeError("Apprise reported a failed notification")


BASELINES: dict[str, tuple[str, Callable[[PeerProcess, list[str], str], None]]] = {
    "aiohttp": ("bare aiohttp loop (64 in flight, one process)", bare_aiohttp),
    "ptb": ("bare python-telegram-bot loop (httpx, 64 in flight)", bare_ptb),
    "apprise": ("Apprise Telegram plugin (one notify, all chats as targets)", bare_apprise),
}
