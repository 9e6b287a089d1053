"""The channels, in one explicit registry.

The registry is built on first use: a worker that only sends (and imports `channels.base`)
does not load every renderer, such as the X one's large twitter-text regular expressions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from publisher.channels.base import Channel

if TYPE_CHECKING:
    CHANNELS: dict[str, type[Channel]]


def _registry() -> dict[str, type[Channel]]:
    from publisher.channels.email import EmailChannel
    from publisher.channels.telegram import TelegramChannel
    from publisher.channels.website import WebsiteChannel
    from publisher.channels.x import XChannel

    return {
        "telegram": TelegramChannel,
        "x": XChannel,
        "email": EmailChannel,
        "website": WebsiteChannel,
    }


def __getattr__(name: str) -> Any:
    if name == "CHANNELS":
        registry = _registry()
        globals()["CHANNELS"] = registry
        return registry
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["CHANNELS", "Channel"]
