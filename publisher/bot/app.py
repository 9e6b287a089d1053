"""The bot's python-telegram-bot `Application`: built on the sender's HTTP layer and limits.

    application = build_application(services.connect(settings=settings), settings)
    run_polling(application)                      # `publisher bot`: blocks until SIGTERM
    async with polling(application): ...          # the same inside a running loop (tests)
    async with running(application): ...          # no updater: feed application.update_queue

Requests go to `{TELEGRAM_API_URL}/bot{token}/{method}` through `AiohttpRequest` (one for
the bot's requests, one with a longer read timeout for long polling), every request but
getUpdates waits for the token's shared rate limit, and updates are handled many at once,
each chat's in order (`publisher.bot.limits`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from telegram.ext import Application, ApplicationBuilder, ContextTypes, ExtBot

from publisher.bot.handlers import Handlers
from publisher.bot.i18n import BOT_LANGUAGES, texts
from publisher.bot.limits import BoundedIntake, PerChatUpdateProcessor, SharedRateLimiter
from publisher.bot.views import bot_commands
from publisher.logs import log_event
from publisher.runtime import new_event_loop
from publisher.senders.aiohttp_request import AiohttpRequest
from publisher.services import Backend
from publisher.settings import Settings

#: what the bot asks Telegram for, listed (Telegram's default omits nothing we need, but an
#: explicit list keeps chat_member and other floods out, and says what the bot handles)
ALLOWED_UPDATES = ["message", "edited_message", "callback_query", "my_chat_member"]
#: updates handled at once (each chat's still one after another)
CONCURRENT_UPDATES = 128
#: seconds a getUpdates long poll waits on Telegram for updates
POLL_TIMEOUT_S = 10

log = logging.getLogger(__name__)

BotApplication = Application[
    ExtBot[None], ContextTypes.DEFAULT_TYPE, dict[Any, Any], dict[Any, Any], dict[Any, Any], Any
]


def build_application(
    backend: Backend,
    settings: Settings | None = None,
    *,
    concurrent_updates: int = CONCURRENT_UPDATES,
) -> BotApplication:
    """The bot, with its handlers bound to `backend` (it never queues work for the workers).

    Raises ValueError when TELEGRAM_BOT_TOKEN is unset.
    """
    settings = settings or backend.settings
    if not settings.telegram_bot_token:
        raise ValueError("TELEGRAM_BOT_TOKEN is not set")
    root = settings.telegram_api_url.rstrip("/")
    application: BotApplication = (
        ApplicationBuilder()
        .token(settings.telegram_bot_token)
        .base_url(f"{root}/bot")
        .base_file_url(f"{root}/file/bot")
        .request(AiohttpRequest(connection_limit=100))
        # PTB adds the long poll's own timeout to this read timeout.
        .get_updates_request(AiohttpRequest(connection_limit=2, read_timeout=10.0))
        .rate_limiter(SharedRateLimiter(settings))
        .concurrent_updates(PerChatUpdateProcessor(concurrent_updates))
        .update_queue(BoundedIntake(concurrent_updates))
        .job_queue(None)
        .post_init(register_commands)
        .build()
    )
    Handlers(backend).register(application)
    return application


async def register_commands(application: BotApplication) -> None:
    """The command menu: one list per language the bot speaks, and English as the default."""
    bot = application.bot
    for language in BOT_LANGUAGES:
        await bot.set_my_commands(bot_commands(texts(language)), language_code=language)
    await bot.set_my_commands(bot_commands(texts(BOT_LANGUAGES[0])))


def run_polling(application: BotApplication) -> None:
    """Long-poll Telegram until SIGINT or SIGTERM, then finish the updates in hand and stop."""
    asyncio.set_event_loop(new_event_loop())
    log_event(
        log, logging.INFO, "bot polling", channel="telegram", allowed=",".join(ALLOWED_UPDATES)
    )
    application.run_polling(
        allowed_updates=ALLOWED_UPDATES, timeout=POLL_TIMEOUT_S, close_loop=True
    )


@asynccontextmanager
async def running(application: BotApplication) -> AsyncIterator[BotApplication]:
    """The application started inside the running loop (commands registered), without an
    updater: updates come from `application.update_queue` (the webhook puts them there)."""
    await application.initialize()
    try:
        if application.post_init is not None:
            await application.post_init(application)
        await application.start()
        try:
            yield application
        finally:
            if application.running:
                await application.stop()
    finally:
        await application.shutdown()


@asynccontextmanager
async def polling(application: BotApplication) -> AsyncIterator[BotApplication]:
    """The application started and long-polling inside the running loop (what `run_polling`
    does, for a caller that owns the loop: tests and benchmarks)."""
    async with running(application):
        updater = application.updater
        assert updater is not None
        await updater.start_polling(allowed_updates=ALLOWED_UPDATES, timeout=POLL_TIMEOUT_S)
        try:
            yield application
        finally:
            if updater.running:
                await updater.stop()
