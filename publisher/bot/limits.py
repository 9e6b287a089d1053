"""How the bot shares Telegram's limits and orders its work, the python-telegram-bot way.

`SharedRateLimiter` (a `BaseRateLimiter`, given to `ApplicationBuilder.rate_limiter`) makes
every request but getUpdates wait for a slot in the window the delivery workers use: one bot
token has one budget (TELEGRAM_RATE_LIMIT), whoever spends it. Messages to groups also wait for
the group's own 20 a minute.

`PerChatUpdateProcessor` (a `BaseUpdateProcessor`, given to `concurrent_updates`) handles many
updates at once but one chat's updates one after another, in the order Telegram numbered them:
a `/start` followed at once by `/stop` must leave the chat stopped, not subscribed.

`BoundedIntake` (the application's `update_queue`) hands the application no more updates
than it handles at once, and holds at most a getUpdates answer more: a burst of 10,000
updates waits at Telegram, not as 10,000 parsed updates and tasks in the bot's memory.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from telegram import Update
from telegram._utils.types import JSONDict
from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter, BaseUpdateProcessor

from publisher.errors import StoreUnavailable, TransientDeliveryError
from publisher.logs import log_event
from publisher.senders.telegram import translate
from publisher.services.budget import TelegramBudget
from publisher.settings import Settings

log = logging.getLogger(__name__)

#: Bot API methods that put a message in a chat: these count against the chat's own limits
#: (a group's 20 a minute); other requests (getChatMember, answerCallbackQuery) only against
#: the token's.
MESSAGE_METHODS = frozenset(
    {
        "sendMessage",
        "sendPhoto",
        "sendMediaGroup",
        "sendDocument",
        "copyMessage",
        "forwardMessage",
        "editMessageText",
        "editMessageCaption",
        "editMessageReplyMarkup",
    }
)

_Result = bool | JSONDict | list[JSONDict]


class SharedRateLimiter(BaseRateLimiter[None]):
    """Waits, before each request, for a slot in the token's shared window in Redis (the key
    and rate the workers use); retries a request Telegram answers with flood control."""

    __slots__ = ("budget", "max_retries")

    def __init__(self, settings: Settings, max_retries: int = 2) -> None:
        self.budget = TelegramBudget(settings)
        self.max_retries = max_retries

    async def initialize(self) -> None:
        """Connect inside the running event loop (PTB calls it before getMe)."""
        await self.budget.open()

    async def shutdown(self) -> None:
        await self.budget.close()

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, _Result]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: None,
    ) -> _Result:
        chat = data.get("chat_id")
        in_chat = str(chat) if chat is not None and endpoint in MESSAGE_METHODS else None
        attempt = 0
        while True:
            try:
                await self.budget.wait(in_chat)
            except StoreUnavailable:
                # Redis is away: this process keeps to the token's rate on its own (a
                # "try again" answer must still go out), and asks Redis again next time.
                log_event(log, logging.WARNING, "rate limit without Redis", method=endpoint)
                await asyncio.sleep(1 / self.budget.settings.telegram_rate_limit)
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                if attempt >= self.max_retries:
                    raise
                attempt += 1
                ours = translate(exc)
                wait_s = (
                    ours.retry_after_s if isinstance(ours, TransientDeliveryError) else None
                ) or 1.0
                log_event(
                    log, logging.WARNING, "flood control", method=endpoint, retry_after_s=wait_s
                )
                await asyncio.sleep(wait_s)


class PerChatUpdateProcessor(BaseUpdateProcessor):
    """Up to `max_concurrent_updates` updates at once; one chat's in the order they came.

    Tasks start in the order the application queued the updates, so waiting on a lock per chat
    (asyncio's locks serve waiters first come, first served) keeps each chat's order.
    """

    __slots__ = ("_chats", "waited")

    def __init__(self, max_concurrent_updates: int) -> None:
        super().__init__(max_concurrent_updates)
        #: chat id -> its lock and how many of its updates hold or wait for it
        self._chats: dict[int, tuple[asyncio.Lock, list[int]]] = {}
        #: updates that had to wait for an earlier one of their chat
        self.waited = 0

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        chat = update.effective_chat if isinstance(update, Update) else None
        if chat is None:
            await coroutine
            return
        entry = self._chats.get(chat.id)
        if entry is None:
            entry = self._chats[chat.id] = (asyncio.Lock(), [0])
        else:
            self.waited += 1
        lock, users = entry
        users[0] += 1
        try:
            async with lock:
                await coroutine
        finally:
            users[0] -= 1
            if not users[0]:  # nobody holds or waits: a chat costs nothing between updates
                del self._chats[chat.id]

    async def initialize(self) -> None:
        """Nothing to open."""

    async def shutdown(self) -> None:
        self._chats.clear()


class BoundedIntake(asyncio.Queue[object]):
    """The update queue the updater (or the webhook) fills and the application empties.

    `get` waits while `in_flight` updates taken from it are not yet done (PTB's application
    starts a task per update it takes, without waiting); `put` waits while `maxsize` updates
    are queued, so polling pauses instead of fetching more.
    """

    def __init__(self, in_flight: int, maxsize: int = 100) -> None:
        super().__init__(maxsize)
        self.in_flight = in_flight
        self._taken = 0
        self._room = asyncio.Event()
        self._room.set()

    async def get(self) -> object:
        while self._taken >= self.in_flight:
            self._room.clear()
            await self._room.wait()
        item = await super().get()
        self._taken += 1
        return item

    def task_done(self) -> None:
        super().task_done()
        # Updates dropped at shutdown are taken with get_nowait: never below zero.
        self._taken = max(0, self._taken - 1)
        if self._taken < self.in_flight:
            self._room.set()
