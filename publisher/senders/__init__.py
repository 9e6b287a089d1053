"""The I/O side of each channel: one `Sender` per channel and worker process.

`make_sender` picks the real sender when the channel's credentials are set, else the dry-run
`OutboxSender` (outbox JSON lines; a Maildir for email). Senders are imported on demand, so a
worker that sends only email never imports python-telegram-bot.
"""

from __future__ import annotations

from collections.abc import Callable

from publisher.channels.base import Sender, Throttle
from publisher.settings import Settings

SenderFactory = Callable[[Settings, Throttle | None], Sender]


def _telegram(settings: Settings, throttle: Throttle | None) -> Sender:
    if not settings.telegram_bot_token:
        return _outbox("telegram", settings)
    from publisher.senders.telegram import TelegramSender

    return TelegramSender(settings, throttle)


def _x(settings: Settings, throttle: Throttle | None) -> Sender:
    keys = (
        settings.x_consumer_key,
        settings.x_consumer_secret,
        settings.x_access_token,
        settings.x_access_token_secret,
    )
    if not all(keys):
        return _outbox("x", settings)
    from publisher.senders.x import XSender

    return XSender(settings, throttle)


def _email(settings: Settings, throttle: Throttle | None) -> Sender:
    if not settings.smtp_url:
        return _outbox("email", settings)
    from publisher.senders.smtp import SMTPSender

    return SMTPSender(settings, throttle)


def _outbox(channel: str, settings: Settings) -> Sender:
    from publisher.senders.outbox import OutboxSender

    return OutboxSender(channel, settings)


def _website(settings: Settings, throttle: Throttle | None) -> Sender:
    from publisher.senders.website import WebsiteSender

    return WebsiteSender(settings)


#: channel name -> how to build its sender; an explicit registry, not discovery by file name.
SENDERS: dict[str, SenderFactory] = {
    "telegram": _telegram,
    "x": _x,
    "email": _email,
    "website": _website,
}


def make_sender(channel: str, settings: Settings, throttle: Throttle | None = None) -> Sender:
    """The sender of `channel` for this process (dry run when its credentials are unset).

    Raises KeyError for a channel without a sender.
    """
    try:
        factory = SENDERS[channel]
    except KeyError:
        raise KeyError(f"no sender for channel {channel!r}; known: {', '.join(SENDERS)}") from None
    return factory(settings, throttle)
