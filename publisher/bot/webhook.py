"""`publisher bot --webhook`: Telegram's webhook at `POST /telegram/webhook`, on aiohttp.

Telegram sends every update with the secret given to setWebhook in the
`X-Telegram-Bot-Api-Secret-Token` header. A request without it, or with another value
(compared in constant time), gets 403 and is not looked at further; a body that is not a JSON
Update gets 400; an Update is handed to the application's queue and answered 200 at once (the
handlers run after, many at a time, and a copy Telegram delivers again is claimed only once).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import re
import signal

from aiohttp import web
from telegram import Update

from publisher.bot.app import ALLOWED_UPDATES, BotApplication, running
from publisher.logs import log_event
from publisher.runtime import new_event_loop

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
#: what Telegram accepts as a secret_token
SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")


def secret_problem(secret: str | None) -> str | None:
    """What is wrong with TELEGRAM_WEBHOOK_SECRET for a webhook, or None if it will do."""
    if not secret:
        return (
            "TELEGRAM_WEBHOOK_SECRET is not set; fix: set it to a random string of 1-256 "
            "characters A-Z a-z 0-9 _ - (e.g. `openssl rand -hex 32`), or run the bot "
            "without --webhook to poll"
        )
    if not SECRET_TOKEN.fullmatch(secret):
        return (
            "TELEGRAM_WEBHOOK_SECRET has characters Telegram refuses; fix: use only "
            "A-Z a-z 0-9 _ - (1-256 of them), e.g. `openssl rand -hex 32`"
        )
    return None


def webhook_app(application: BotApplication, secret: str) -> web.Application:
    """The aiohttp application that takes Telegram's webhook for `application`."""
    expected = secret.encode()

    async def receive(request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "").encode("utf-8", "replace")
        if not hmac.compare_digest(given, expected):
            log_event(log, logging.WARNING, "webhook refused", channel="telegram", status=403)
            return _problem(403, "Forbidden", f"missing or wrong {SECRET_HEADER} header")
        try:
            data = json.loads(await request.read())
        except ValueError:
            return _problem(400, "Bad Request", "the body is not JSON")
        if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
            return _problem(400, "Bad Request", "the body is not a Telegram Update")
        try:
            update = Update.de_json(data, application.bot)
        except Exception as exc:  # PTB's parsing of a malformed body: any error means 400
            return _problem(400, "Bad Request", f"the body is not a Telegram Update: {exc}")
        await application.update_queue.put(update)
        return web.Response(status=200)

    app = web.Application(client_max_size=1024 * 1024)
    app.router.add_post(WEBHOOK_PATH, receive)
    return app


def _problem(status: int, title: str, detail: str) -> web.Response:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    return web.Response(
        status=status, text=json.dumps(body), content_type="application/problem+json"
    )


async def serve(
    application: BotApplication,
    *,
    host: str,
    port: int,
    url: str,
    secret: str,
    stop: asyncio.Event,
    started: asyncio.Event | None = None,
) -> None:
    """Listen on host:port, register `url` with setWebhook, and serve until `stop` is set."""
    async with running(application):
        runner = web.AppRunner(webhook_app(application, secret), access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, host, port).start()
            await application.bot.set_webhook(
                url=url, secret_token=secret, allowed_updates=ALLOWED_UPDATES
            )
            log_event(log, logging.INFO, "webhook listening", channel="telegram", port=port)
            if started is not None:
                started.set()
            await stop.wait()
        finally:
            await runner.cleanup()  # no new updates; those queued are handled before stop


def run_webhook(
    application: BotApplication, *, host: str, port: int, url: str, secret: str
) -> None:
    """`serve` on a fresh event loop until SIGINT or SIGTERM."""
    loop = new_event_loop()
    asyncio.set_event_loop(loop)
    stop = asyncio.Event()

    async def main() -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await serve(application, host=host, port=port, url=url, secret=secret, stop=stop)

    try:
        loop.run_until_complete(main())
    finally:
        loop.close()
