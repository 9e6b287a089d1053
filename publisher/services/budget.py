"""The Telegram token's budget, for faces that spend it too (the bot's answers).

One bot token has one budget (TELEGRAM_RATE_LIMIT), whoever spends it: the delivery workers'
broadcasts and the bot's answers wait for slots in the same sliding window in Redis, under the
same key. A message to a group also waits for the group's own 20 a minute, as deliveries do.
The bot asks this module for a slot instead of knowing the limiter, its key or Redis.
"""

from __future__ import annotations

import redis.asyncio

from publisher.channels.telegram import TelegramChannel
from publisher.ratelimit import SlidingWindowLimiter
from publisher.redis_server import connect_async
from publisher.settings import Settings
from publisher.store import k_rate
from publisher.store.base import REDIS_ERRORS, unavailable


class TelegramBudget:
    """Slots in the token's shared window; `open` inside the event loop that waits for them."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._redis: redis.asyncio.Redis | None = None
        self._limiter: SlidingWindowLimiter | None = None

    @property
    def key(self) -> str:
        """The window's Redis key: the workers' for this token."""
        return k_rate(TelegramChannel.rate_limit_key(self.settings))

    async def open(self) -> None:
        if self._limiter is None:
            self._redis = connect_async(self.settings)
            self._limiter = SlidingWindowLimiter.for_rate(
                self._redis, self.key, self.settings.telegram_rate_limit
            )

    async def close(self) -> None:
        client, self._redis, self._limiter = self._redis, None, None
        if client is not None:
            await client.aclose()

    async def wait(self, chat_id: str | None = None) -> None:
        """Return when one request may start: a message to `chat_id` (None for a request that
        puts nothing in a chat) also within that chat's own limit.

        Raises StoreUnavailable when Redis cannot be asked."""
        if self._limiter is None:
            raise RuntimeError("TelegramBudget is not open")
        scopes = TelegramChannel.recipient_scopes(chat_id, False) if chat_id is not None else ()
        try:
            await self._limiter.acquire(*scopes)
        except REDIS_ERRORS as exc:  # the store's seam: one line, never a password
            raise unavailable(self._redis, exc) from exc
