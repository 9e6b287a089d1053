"""The bot benchmark's baseline: python-telegram-bot's Application as it comes, answering /start.

No store, no claim, no rate limiter, no catalogs: what a bot costs before it does anything of
its own. Run as `python -m bench.bare_bot` with TELEGRAM_BOT_TOKEN and TELEGRAM_API_URL set, and
BARE_BOT_CONCURRENCY (the same as the real bot's); stops on SIGTERM.
"""

from __future__ import annotations

import os

from telegram import Update
from telegram.ext import Application, CommandHandler, ContextTypes


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_chat is not None
    await context.bot.send_message(update.effective_chat.id, "Welcome! You are subscribed.")


def main() -> None:
    root = os.environ["TELEGRAM_API_URL"].rstrip("/")
    application = (
        Application.builder()
        .token(os.environ["TELEGRAM_BOT_TOKEN"])
        .base_url(f"{root}/bot")
        .base_file_url(f"{root}/file/bot")
        .concurrent_updates(int(os.environ.get("BARE_BOT_CONCURRENCY", "64")))
        .build()
    )
    application.add_handler(CommandHandler("start", start))
    application.run_polling(allowed_updates=["message"], poll_interval=0.0, timeout=10)


if __name__ == "__main__":
    main()
