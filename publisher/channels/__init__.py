"""The channels, in one explicit registry."""

from __future__ import annotations

from publisher.channels.base import Channel
from publisher.channels.email import EmailChannel
from publisher.channels.telegram import TelegramChannel
from publisher.channels.website import WebsiteChannel
from publisher.channels.x import XChannel

CHANNELS: dict[str, type[Channel]] = {
    "telegram": TelegramChannel,
    "x": XChannel,
    "email": EmailChannel,
    "website": WebsiteChannel,
}

__all__ = ["CHANNELS", "Channel"]
