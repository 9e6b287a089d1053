"""The shared rate limiter, against a real Redis: what a peer counting starts would see."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TypeVar

import pytest
import redis
import redis.asyncio
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from publisher.channels.telegram import telegram_scopes
from publisher.ratelimit import (
    Scope,
    SlidingWindowLimiter,
    window_for_rate,
)
from tests.redis_fixtures import redis_server  # noqa: F401

T = TypeVar("T")
REPO = Path(__file__).resolve().parents[1]


def most_in_any_window(starts: Sequence[float], window_s: float) -> int:
    """The most starts that any closed window of window_s seconds holds."""
    ordered = sorted(starts)
    best, first = 0, 0
    for last, at in enumerate(ordered):
        while at - ordered[first] > window_s:
            first += 1
        best = max(best, last - first + 1)
    return best


def run(url: str, body: Callable[[redis.asyncio.Redis], Awaitable[T]]) -> T:
    async def main() -> T:
        client = redis.asyncio.Redis.from_url(url)
        try:
            return await body(client)
        finally:
            await client.aclose()

    return asyncio.run(main())


def key() -> str:
    return f"test:ratelimit:{uuid.uuid4().hex}"


async def hammer(limiter: SlidingWindowLimiter, total: int, workers: int) -> list[float]:
    """``total`` acquires from ``workers`` concurrent senders; the monotonic time of each start."""
    starts: list[float] = []

    async def sender(count: int) -> None:
        for _ in range(count):
            await limiter.acquire()
            starts.append(time.monotonic())

    shares = [total // workers + (i < total % workers) for i in range(workers)]
    await asyncio.gather(*(sender(n) for n in shares))
    return starts


def test_30_per_second_never_exceeded_and_kept_close(redis_server: str) -> None:  # noqa: F811
    async def body(client: redis.asyncio.Redis) -> tuple[float, list[float], int]:
        limiter = SlidingWindowLimiter(client, key(), 30)
        began = time.monotonic()
        starts = await hammer(limiter, 90, workers=32)
        return time.monotonic() - began, starts, limiter.round_trips

    elapsed, starts, round_trips = run(redis_server, body)
    assert len(starts) == 90
    assert most_in_any_window(starts, 1.0) <= 30
    assert elapsed <= 3.1  # 90 at 30/s is 3 s: at least 97% of the rate
    assert round_trips <= 45  # slots come in chunks, not one round trip each


def test_two_processes_share_one_limit(redis_server: str) -> None:  # noqa: F811
    shared_key, start_at = key(), time.time() + 1.5
    child = textwrap.dedent(
        f"""
        import asyncio, json, time
        import redis.asyncio
        from publisher.ratelimit import SlidingWindowLimiter

        async def main():
            client = redis.asyncio.Redis.from_url({redis_server!r})
            limiter = SlidingWindowLimiter(client, {shared_key!r}, 50)
            starts = []
            async def sender():
                while time.time() < {start_at} + 2.0:
                    await limiter.acquire()
                    starts.append(time.time())
            await asyncio.sleep(max(0.0, {start_at} - time.time()))
            await asyncio.gather(*(sender() for _ in range(16)))
            await client.aclose()
            print(json.dumps(starts))

        asyncio.run(main())
        """
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", child], cwd=REPO, stdout=subprocess.PIPE)
        for _ in range(2)
    ]
    outputs = [proc.communicate(timeout=20)[0] for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0]
    per_process = [json.loads(out) for out in outputs]
    assert all(len(starts) > 20 for starts in per_process)  # both got a share
    merged = sorted(per_process[0] + per_process[1])
    assert most_in_any_window(merged, 1.0) <= 50
    rate = (len(merged) - 1) / (merged[-1] - merged[0])
    assert rate >= 0.9 * 50


def test_1000_per_second_in_few_round_trips(redis_server: str) -> None:  # noqa: F811
    async def body(client: redis.asyncio.Redis) -> tuple[float, list[float], int]:
        limiter = SlidingWindowLimiter(client, key(), 1000)
        began = time.monotonic()
        starts = await hammer(limiter, 3000, workers=100)
        return time.monotonic() - began, starts, limiter.round_trips

    elapsed, starts, round_trips = run(redis_server, body)
    assert len(starts) == 3000
    assert most_in_any_window(starts, 1.0) <= 1000
    assert 2.0 < elapsed <= 3.4
    assert round_trips <= 300


def test_one_message_a_second_per_chat(redis_server: str) -> None:  # noqa: F811
    async def body(
        client: redis.asyncio.Redis,
    ) -> tuple[dict[str, list[float]], float, int, list[int]]:
        base = key()
        # Generous lateness, so that a loaded machine drops no slot (which would cost that
        # chat a second): this test is about the chats, the others about lateness.
        limiter = SlidingWindowLimiter(client, base, 30, margin_s=0.25, late_s=0.2)
        starts: dict[str, list[float]] = {}

        async def send(chat: str) -> None:
            await limiter.acquire(*telegram_scopes(chat))
            starts.setdefault(chat, []).append(time.monotonic())

        began = time.monotonic()
        # The channel gets a message in three parts; ten subscribers get one each.
        await asyncio.gather(
            *(send("@channel") for _ in range(3)), *(send(str(n)) for n in range(10))
        )
        ttls = [await client.pttl(f"{base}:chat:{n}") for n in range(10)]
        return starts, began, limiter.round_trips, ttls

    starts, began, round_trips, ttls = run(redis_server, body)
    channel = starts["@channel"]
    assert len(channel) == 3
    assert all(later - earlier > 1.0 for earlier, later in zip(channel, channel[1:], strict=False))
    subscribers = [at for chat, times in starts.items() if chat != "@channel" for at in times]
    assert len(subscribers) == 10
    assert max(subscribers) - began < 0.8  # a busy chat holds up no one else
    assert round_trips < 13  # the chat checks ride along with the shared slots
    assert all(ttl == -2 or 0 < ttl <= 2300 for ttl in ttls)  # per-chat keys expire


def test_a_scope_allows_its_limit_per_window(redis_server: str) -> None:  # noqa: F811
    async def body(client: redis.asyncio.Redis) -> list[float]:
        limiter = SlidingWindowLimiter(client, key(), 100)
        group = Scope("group:-5", 3, 0.5)
        starts: list[float] = []

        async def send() -> None:
            await limiter.acquire(group)
            starts.append(time.monotonic())

        await asyncio.gather(*(send() for _ in range(6)))
        return starts

    starts = sorted(run(redis_server, body))
    assert most_in_any_window(starts, 0.5) <= 3
    assert starts[-1] - starts[0] < 0.8


def test_a_cancelled_waiter_holds_up_no_one(redis_server: str) -> None:  # noqa: F811
    async def body(client: redis.asyncio.Redis) -> int:
        limiter = SlidingWindowLimiter(client, key(), 10, 0.2)
        done = 0

        async def send() -> None:
            nonlocal done
            await limiter.acquire()
            done += 1

        tasks = [asyncio.create_task(send()) for _ in range(25)]
        await asyncio.sleep(0.05)
        tasks[-1].cancel()
        await asyncio.wait_for(asyncio.gather(*tasks[:-1]), 2.0)
        return done

    assert run(redis_server, body) == 24


def test_every_waiter_sees_redis_go_away(tmp_path: Path) -> None:
    async def body() -> list[BaseException | None]:
        client = redis.asyncio.Redis(
            unix_socket_path=str(tmp_path / "nothing.sock"), retry=Retry(NoBackoff(), 0)
        )
        limiter = SlidingWindowLimiter(client, key(), 30)
        results = await asyncio.gather(
            *(limiter.acquire() for _ in range(5)), return_exceptions=True
        )
        await client.aclose()
        return list(results)

    results = asyncio.run(body())
    assert all(isinstance(result, redis.ConnectionError) for result in results)


@pytest.mark.parametrize(
    ("rate", "expected"),
    [(30, (30, 1.0)), (30.7, (30, 1.0)), (1000, (1000, 1.0)), (0.5, (1, 2.0)), (1, (1, 1.0))],
)
def test_window_for_rate(rate: float, expected: tuple[int, float]) -> None:
    assert window_for_rate(rate) == expected


def test_telegram_scopes_add_the_group_limit_for_groups_and_channels() -> None:
    assert telegram_scopes(42) == (Scope("chat:42", 1, 1.0),)
    assert telegram_scopes(-1001) == (Scope("chat:-1001", 1, 1.0), Scope("group:-1001", 20, 60.0))
    assert telegram_scopes("@news")[1] == Scope("group:@news", 20, 60.0)
