"""One rate limit shared by every worker process and host, kept in Redis.

It means what the platform means: never more than ``limit`` requests started in any sliding
window of ``window_s`` seconds (a token bucket lets twice its burst through around a refill).
A Lua script, run atomically on the server's clock, hands out start times ("slots"): paced
``(window + margin) / limit`` apart and checked against the log of the last ``limit`` starts.
Callers that wait at the same time in one process share a round trip (up to ``limit / 10``
slots, at most 50, per call), then each sleeps until its own slot (rounded up to the next
millisecond, so that the starts of one chunk wake together).

Narrower limits ride along as scopes (a channel declares them, e.g. Telegram's 1 message a
second per chat and 20 a minute per group): the same script checks them while granting, so a
broadcast of one message per chat costs no extra round trip. A waiter whose scope is busy gets
no slot, only the time to ask again.

A slot is only good at its time: a caller that wakes more than ``late_s`` after it (a stalled
event loop) drops it and asks again, because a late start would crowd the next window.
"""

from __future__ import annotations

import asyncio
import math
import statistics
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import redis
import redis.asyncio

# Why these margins: the peer measures arrival times, so a start may look later or earlier
# than its slot by the caller's lateness (at most late_s: a later one is dropped), the clock
# estimate (half a round trip) and network jitter. 20 ms on a one-second window keeps 98% of
# the rate; 10 ms of it goes to lateness, since a busy event loop often wakes 5 ms late.
DEFAULT_MARGIN_S = 0.02
DEFAULT_LATE_S = 0.01
MAX_CHUNK = 50
# Log entries further ahead than this can only come from the server's clock stepping back.
MIN_HORIZON_S = 600.0

# KEYS[1] is the shared log; KEYS[2..] the scopes' logs. ARGV: limit, window_us, interval_us,
# lead_us, horizon_us, then per waiter: its scope count and (key index, limit, window_us) each.
# Replies {now, r1, r2, ...}: r > 0 is a granted start, r < 0 minus the time to ask again.
_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local limit, window = tonumber(ARGV[1]), tonumber(ARGV[2])
local interval, lead, horizon = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])

local function earliest(key, lim, win, gap)
  local n = redis.call('LLEN', key)
  if n == 0 then return 0 end
  local last = tonumber(redis.call('LINDEX', key, -1))
  if last > now + horizon then
    redis.call('DEL', key)
    return 0
  end
  local at = last + gap
  if n >= lim then
    at = math.max(at, tonumber(redis.call('LINDEX', key, n - lim)) + win)
  end
  return at
end

local function record(key, at, lim, win)
  local n = redis.call('RPUSH', key, string.format('%d', at))
  if n > lim then redis.call('LTRIM', key, -lim, -1) end
  redis.call('PEXPIRE', key, math.floor((at - now + win) / 1000) + 1000)
end

local out = {now}
local i = 7
for w = 1, tonumber(ARGV[6]) do
  local at = math.max(now + lead, earliest(KEYS[1], limit, window, interval))
  local need, scopes = 0, {}
  for s = 1, tonumber(ARGV[i]) do
    local sc = {KEYS[tonumber(ARGV[i + 1])], tonumber(ARGV[i + 2]), tonumber(ARGV[i + 3])}
    need = math.max(need, earliest(sc[1], sc[2], sc[3], 0))
    scopes[s] = sc
    i = i + 3
  end
  i = i + 1
  if need > at then
    out[#out + 1] = -need
  else
    record(KEYS[1], at, limit, window)
    for _, sc in ipairs(scopes) do record(sc[1], at, sc[2], sc[3]) end
    out[#out + 1] = at
  end
end
return out
"""


@dataclass(frozen=True, slots=True)
class Scope:
    """A narrower limit checked along with the shared one, e.g. one chat's 1 message a second.

    Its log lives at ``{limiter key}:{key}`` (so per bot) and expires a window after its last use.
    """

    key: str
    limit: int
    window_s: float


def window_for_rate(rate_per_s: float) -> tuple[int, float]:
    """(limit, window_s) meaning "at most rate_per_s a second": 30 -> (30, 1 s), 0.5 -> (1, 2 s)."""
    if rate_per_s <= 0:
        raise ValueError(f"rate must be positive, not {rate_per_s}")
    if rate_per_s >= 1:
        return math.floor(rate_per_s), 1.0
    return 1, 1.0 / rate_per_s


@dataclass(slots=True)
class _Sample:
    rtt_s: float
    local_mid_s: float
    server_us: int


@dataclass(slots=True)
class _Core:
    """What both front ends share: the script's arguments, its reply, and the server's clock."""

    key: str
    limit: int
    window_s: float
    margin_s: float
    samples: deque[_Sample] = field(default_factory=lambda: deque(maxlen=8))
    horizon_s: float = 0.0  # the latest start granted to this process (local clock)

    def __post_init__(self) -> None:
        if self.limit < 1 or self.window_s <= 0:
            raise ValueError(f"need limit >= 1 and window_s > 0, not {self.limit}/{self.window_s}")

    @property
    def chunk(self) -> int:
        return max(1, min(MAX_CHUNK, math.ceil(self.limit / 10)))

    @property
    def lead_s(self) -> float:
        """How far ahead a free slot is set, so that its reply arrives before its time."""
        if not self.samples:
            return 0.005
        # The typical round trip, not the worst: a reply that comes later than its slot is
        # still good up to late_s, and a lead sized for the slowest reply (a stalled event
        # loop) would hold every start back by that much.
        return min(0.05, 0.001 + 1.5 * statistics.median(s.rtt_s for s in self.samples))

    def request(self, batch: Sequence[Sequence[Scope]]) -> tuple[list[str], list[int | str]]:
        window_us = round((self.window_s + self.margin_s) * 1e6)
        interval_us = math.ceil(window_us / self.limit)
        horizon_us = round(max(MIN_HORIZON_S, 1000 * interval_us / 1e6) * 1e6)
        keys = [self.key]
        index: dict[str, int] = {}
        args: list[int | str] = [
            self.limit,
            window_us,
            interval_us,
            round(self.lead_s * 1e6),
            horizon_us,
            len(batch),
        ]
        for scopes in batch:
            args.append(len(scopes))
            for scope in scopes:
                name = f"{self.key}:{scope.key}"
                if name not in index:
                    keys.append(name)
                    index[name] = len(keys)
                win_us = round((scope.window_s + self.margin_s) * 1e6)
                args.extend((index[name], scope.limit, win_us))
        return keys, args

    def results(self, reply: Any, t0: float, t1: float) -> list[tuple[bool, float]]:
        """(granted, local monotonic time) per waiter: its start, or when to ask again."""
        server_now = int(reply[0])
        self.samples.append(_Sample(t1 - t0, (t0 + t1) / 2, server_now))
        # The round trip with the least delay pins the server's clock best (as NTP's filter).
        best = min(self.samples, key=lambda s: s.rtt_s)
        out = []
        for raw in reply[1:]:
            at = int(raw)
            local = best.local_mid_s + (abs(at) - best.server_us) / 1e6
            out.append((at > 0, local))
            if at > 0:
                self.horizon_s = max(self.horizon_s, local)
        return out

    def linger_until(self) -> float:
        """Until when a fetch may wait for more waiters: while this process's granted starts
        keep its share of the rate busy, one round trip for a full chunk beats one per caller."""
        return self.horizon_s - 2 * self.lead_s


class _Waiter:
    __slots__ = ("scopes", "future")

    def __init__(self, scopes: Sequence[Scope], future: asyncio.Future[tuple[bool, float]]):
        self.scopes = scopes
        self.future = future


class SlidingWindowLimiter:
    """The limiter for asyncio code: ``await limiter.acquire()`` right before each request.

    Waiters queue up; one task per burst (the fetcher) asks Redis for their slots a chunk at a
    time and hands each waiter its answer, so a waiter costs a future and a timer, not a turn
    at a lock.
    """

    def __init__(
        self,
        client: redis.asyncio.Redis,
        key: str,
        limit: int,
        window_s: float = 1.0,
        *,
        margin_s: float = DEFAULT_MARGIN_S,
        late_s: float = DEFAULT_LATE_S,
    ) -> None:
        self._core = _Core(key, limit, window_s, margin_s)
        self._script = client.register_script(_SCRIPT)
        self._late_s = late_s
        self._pending: deque[_Waiter] = deque()
        self._fetcher: asyncio.Task[None] | None = None
        self._grown = asyncio.Event()
        self.round_trips = 0
        self.late_slots = 0

    @classmethod
    def for_rate(
        cls, client: redis.asyncio.Redis, key: str, rate_per_s: float
    ) -> SlidingWindowLimiter:
        """A limiter for "at most rate_per_s a second", such as TELEGRAM_RATE_LIMIT."""
        return cls(client, key, *window_for_rate(rate_per_s))

    async def acquire(self, *scopes: Scope) -> None:
        """Return when this caller may start one request (within every given scope too)."""
        loop = asyncio.get_running_loop()
        while True:
            waiter = _Waiter(scopes, loop.create_future())
            self._pending.append(waiter)
            if len(self._pending) >= self._core.chunk:
                self._grown.set()
            if self._fetcher is None or self._fetcher.done():
                self._fetcher = loop.create_task(self._fetch_all(loop))
            try:
                granted, at = await waiter.future
            finally:
                waiter.future.cancel()  # a no-op once done; else the fetcher skips it
            if not granted:
                await _sleep_until(loop, at - self._core.lead_s)
                continue
            # Waking on a millisecond grid lets the starts of one chunk wake together (one
            # turn of the event loop) for at most 1 ms of lateness, well inside late_s.
            await _sleep_until(loop, math.ceil(at * 1000) / 1000)
            if loop.time() - at <= self._late_s:
                return
            self.late_slots += 1

    async def _fetch_all(self, loop: asyncio.AbstractEventLoop) -> None:
        """Serve waiters until none is left (the fetcher of one burst)."""
        try:
            while self._pending:
                await self._linger(loop)
                await self._fetch(loop)
        except Exception as exc:  # a bug here must not leave waiters waiting forever
            while self._pending:
                waiter = self._pending.popleft()
                if not waiter.future.done():
                    waiter.future.set_exception(exc)
            raise

    async def _linger(self, loop: asyncio.AbstractEventLoop) -> None:
        deadline = self._core.linger_until()
        while True:
            self._grown.clear()
            if len(self._pending) >= self._core.chunk or (wait := deadline - loop.time()) <= 0:
                return
            try:
                await asyncio.wait_for(self._grown.wait(), wait)
            except TimeoutError:
                return

    async def _fetch(self, loop: asyncio.AbstractEventLoop) -> None:
        batch: list[_Waiter] = []
        while self._pending and len(batch) < self._core.chunk:
            waiter = self._pending.popleft()
            if not waiter.future.done():
                batch.append(waiter)
        if not batch:
            return
        keys, args = self._core.request([w.scopes for w in batch])
        t0 = loop.time()
        try:
            self.round_trips += 1
            reply = await self._script(keys=keys, args=args)
        except Exception as exc:
            # Every waiter of the batch raises it from its own acquire().
            for waiter in batch:
                if not waiter.future.done():
                    waiter.future.set_exception(exc)
            return
        except BaseException:
            # The fetcher was cancelled (its loop is closing): the waiters get that too.
            for waiter in batch:
                waiter.future.cancel()
            raise
        for waiter, result in zip(batch, self._core.results(reply, t0, loop.time()), strict=True):
            if not waiter.future.done():
                waiter.future.set_result(result)


async def _sleep_until(loop: asyncio.AbstractEventLoop, at: float) -> None:
    while (delay := at - loop.time()) > 0:
        await asyncio.sleep(delay)
