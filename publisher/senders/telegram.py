"""Telegram delivery: a stored payload's messages to one chat, through python-telegram-bot.

python-telegram-bot's exceptions become ours here and nowhere else (`translate`): flood control
and network trouble are transient, a chat that is gone is permanent and suppressed, a message
Telegram refuses is permanent, a refused token pauses the channel.
"""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar

import telegram
from telegram import LinkPreviewOptions, Message
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    PassportDecryptionError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.warnings import PTBDeprecationWarning, PTBUserWarning

from publisher.channels.base import Recipient, SendContext, Sender, Throttle
from publisher.errors import (
    ChannelFault,
    DeliveryError,
    PermanentDeliveryError,
    RecipientMoved,
    TransientDeliveryError,
)
from publisher.senders.aiohttp_request import AiohttpRequest
from publisher.settings import Settings

# `_send_text` calls do_api_request("sendMessage") on purpose (see there); PTB suggests
# send_message on every call.
warnings.filterwarnings("ignore", message="Please use 'Bot.", category=PTBUserWarning)

# Telegram's descriptions (after "Bad Request: ") that mean the chat itself is gone.
GONE_CHAT = (
    "chat not found",
    "user not found",
    "chat_id is empty",
    "peer_id_invalid",
    "group chat was deactivated",
    "bot was blocked",
)
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


def chat_id(address: str) -> int | str:
    """A recipient address as the Bot API wants it: numeric ids as int, "@name" as is."""
    text = address.strip()
    return int(text) if text.lstrip("-").isdigit() else text


def _one_line(text: str, limit: int = 300) -> str:
    # PTB appends the raw body of a non-JSON answer (a proxy's HTML page) to its message.
    text = text.split(". Parsing the server response", 1)[0]
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _retry_after_s(exc: RetryAfter) -> float:
    with warnings.catch_warnings():
        # PTB warns that `retry_after` will become a timedelta; both are handled.
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value: int | float | timedelta = exc.retry_after
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    return max(seconds, 0.0)


def _retry_after(exc: TelegramError, release_id: str) -> DeliveryError:
    assert isinstance(exc, RetryAfter)
    seconds = _retry_after_s(exc)
    return TransientDeliveryError(
        f"Telegram flood control: retry after {seconds:g} s", retry_after_s=seconds
    )


def _timed_out(exc: TelegramError, release_id: str) -> DeliveryError:
    return TransientDeliveryError(f"Telegram did not answer in time: {_one_line(exc.message)}")


def _network(exc: TelegramError, release_id: str) -> DeliveryError:
    return TransientDeliveryError(f"Telegram unreachable: {_one_line(exc.message)}")


def _forbidden(exc: TelegramError, release_id: str) -> DeliveryError:
    return PermanentDeliveryError(f"Telegram: {_one_line(exc.message)}", gone=True)


def _bad_request(exc: TelegramError, release_id: str) -> DeliveryError:
    message = _one_line(exc.message)
    if any(marker in message.lower() for marker in GONE_CHAT):
        return PermanentDeliveryError(f"Telegram: {message}", gone=True)
    return PermanentDeliveryError(f"Telegram refused the message: {message}", gone=False)


def _chat_migrated(exc: TelegramError, release_id: str) -> DeliveryError:
    assert isinstance(exc, ChatMigrated)
    return RecipientMoved(
        f"Telegram: the group became a supergroup with chat id {exc.new_chat_id}",
        str(exc.new_chat_id),
    )


def _invalid_token(exc: TelegramError, release_id: str) -> DeliveryError:
    if "not found" in exc.message.lower():
        return ChannelFault(
            "Telegram API answered 404 Not Found; check TELEGRAM_API_URL and TELEGRAM_BOT_TOKEN, "
            f"then run publisher resume {release_id}"
        )
    return ChannelFault(
        "Telegram refused the bot token (401 Unauthorized); fix TELEGRAM_BOT_TOKEN, "
        f"then run publisher resume {release_id}"
    )


def _endpoint_not_found(exc: TelegramError, release_id: str) -> DeliveryError:
    return ChannelFault(
        f"Telegram API does not know this method ({_one_line(exc.message)}); check "
        f"TELEGRAM_API_URL, then run publisher resume {release_id}"
    )


def _other(exc: TelegramError, release_id: str) -> DeliveryError:
    # Conflict, an unreadable answer (a proxy's error page), anything PTB adds later: the
    # request may well succeed when tried again.
    return TransientDeliveryError(f"Telegram error: {_one_line(exc.message)}")


def _passport(exc: TelegramError, release_id: str) -> DeliveryError:
    return PermanentDeliveryError(f"Telegram: {_one_line(exc.message)}", gone=False)


Translator = Callable[[TelegramError, str], DeliveryError]

#: Every python-telegram-bot exception and what it means for one send; the most specific class
#: wins (BadRequest and TimedOut are NetworkErrors, so they are looked up first).
TRANSLATIONS: dict[type[TelegramError], Translator] = {
    RetryAfter: _retry_after,
    TimedOut: _timed_out,
    BadRequest: _bad_request,
    NetworkError: _network,
    Forbidden: _forbidden,
    ChatMigrated: _chat_migrated,
    InvalidToken: _invalid_token,
    EndPointNotFound: _endpoint_not_found,
    Conflict: _other,
    PassportDecryptionError: _passport,
    TelegramError: _other,
}


def translate(exc: TelegramError, release_id: str = "ID") -> DeliveryError:
    """Our exception for a python-telegram-bot exception raised by one send."""
    for cls in type(exc).__mro__:
        translator = TRANSLATIONS.get(cls)
        if translator is not None:
            return translator(exc, release_id)
    return _other(exc, release_id)


class TelegramSender(Sender):
    """Sends a release's messages to a chat; uploads a local photo once per release."""

    channel: ClassVar[str] = "telegram"

    def __init__(self, settings: Settings, throttle: Throttle | None = None) -> None:
        root = settings.telegram_api_url.rstrip("/")
        self.request = AiohttpRequest(connection_limit=100)
        # The same request object serves getUpdates, so PTB builds no httpx client of its own.
        self.bot = telegram.Bot(
            settings.telegram_bot_token or "",
            base_url=f"{root}/bot",
            base_file_url=f"{root}/file/bot",
            request=self.request,
            get_updates_request=self.request,
        )
        self.throttle = throttle
        self._file_ids: dict[tuple[str, str], str] = {}
        self._upload_locks: dict[tuple[str, str], asyncio.Lock] = {}

    async def start(self) -> None:
        """Open the HTTP session."""
        # No getMe here: a refused token surfaces on the first send, where it pauses the
        # channel, instead of failing the worker's task before any outcome is recorded.
        await self.request.initialize()

    async def close(self) -> None:
        await self.request.shutdown()

    async def deliver(
        self, payload: dict[str, Any], recipient: Recipient, ctx: SendContext
    ) -> list[str]:
        """Send the messages after `ctx.done_parts`, in order; return every message id."""
        chat = chat_id(recipient.address)
        ids = list(ctx.done_parts)
        messages: list[dict[str, Any]] = payload["messages"]
        first = len(ids)
        for index in range(first, len(messages)):
            try:
                message_id = await self._send(chat, messages[index], ctx, index > first)
            except TelegramError as exc:
                raise translate(exc, ctx.release_id) from exc
            ids.append(str(message_id))
            if ctx.on_part is not None:
                await ctx.on_part(index, ids[-1])
        return ids

    async def _send(
        self, chat: int | str, part: dict[str, Any], ctx: SendContext, consecutive: bool
    ) -> int:
        parse_mode = part.get("parse_mode", "HTML")
        await self._wait(chat, consecutive)
        if "photo" not in part:
            return await self._send_text(chat, part, parse_mode)
        photo: str = part["photo"]
        caption = part.get("caption") or None
        if photo.startswith(("http://", "https://")):
            message = await self.bot.send_photo(chat, photo, caption=caption, parse_mode=parse_mode)
            return message.message_id
        message = await self._send_local_photo(chat, photo, caption, parse_mode, ctx)
        return message.message_id

    async def _send_text(self, chat: int | str, part: dict[str, Any], parse_mode: str) -> int:
        """sendMessage, reading only the message id from the answer.

        Building a full `Message` from every answer cost about a fifth of a broadcast's CPU;
        `do_api_request` keeps PTB's request layer and its error mapping without it.
        """
        kwargs: dict[str, Any] = {"chat_id": chat, "text": part["text"], "parse_mode": parse_mode}
        if not part.get("link_preview", True):
            kwargs["link_preview_options"] = NO_PREVIEW.to_dict()
        result = await self.bot.do_api_request("sendMessage", api_kwargs=kwargs)
        return int(result["message_id"])

    async def _send_local_photo(
        self, chat: int | str, path: str, caption: str | None, parse_mode: str, ctx: SendContext
    ) -> Message:
        key = (ctx.release_id, path)
        file_id = await self._known_file_id(key, ctx)
        if file_id is None:
            # One upload per release and process: the others wait for its file_id.
            lock = self._upload_locks.setdefault(key, asyncio.Lock())
            async with lock:
                file_id = await self._known_file_id(key, ctx)
                if file_id is None:
                    data = await self._read(path, ctx.release_id)
                    message = await self.bot.send_photo(
                        chat, data, caption, parse_mode=parse_mode, filename=Path(path).name
                    )
                    file_id = message.photo[-1].file_id
                    self._file_ids[key] = file_id
                    if ctx.media is not None:
                        await ctx.media.set(path, file_id)
                    return message
        return await self.bot.send_photo(chat, file_id, caption=caption, parse_mode=parse_mode)

    async def _known_file_id(self, key: tuple[str, str], ctx: SendContext) -> str | None:
        file_id = self._file_ids.get(key)
        if file_id is None and ctx.media is not None:
            file_id = await ctx.media.get(key[1])
            if file_id is not None:
                self._file_ids[key] = file_id
        return file_id

    @staticmethod
    async def _read(path: str, release_id: str) -> bytes:
        try:
            return await asyncio.to_thread(Path(path).read_bytes)
        except OSError as exc:
            # Every recipient would fail the same way: pause rather than fail them all.
            raise ChannelFault(
                f"Telegram photo {path} cannot be read ({exc.strerror or exc}); put the file "
                f"back, then run publisher resume {release_id}"
            ) from exc

    async def _wait(self, chat: int | str, consecutive: bool) -> None:
        if self.throttle is not None:
            await self.throttle.before_send(str(chat), consecutive)
