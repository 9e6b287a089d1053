"""The channels, in one explicit registry: name -> where its declaration lives.

A declaration (a `Channel` subclass) is imported on first use, so a worker that only sends
Telegram messages never loads the X renderer's large twitter-text regular expressions. More
channels come from `register` (a test, an application) or from PUBLISHER_CHANNELS
("package.module:ClassName", comma-separated), which every process of a deployment reads, so
the command line, the workers and the web app agree on the same list.
"""

from __future__ import annotations

import importlib

from publisher.channels.base import Channel
from publisher.errors import UnknownChannelError

#: The built-in channels, in the order releases list them by default (DEFAULT_CHANNELS).
BUILTIN: dict[str, str] = {
    "telegram": "publisher.channels.telegram:TelegramChannel",
    "x": "publisher.channels.x:XChannel",
    "email": "publisher.channels.email:EmailChannel",
    "website": "publisher.channels.website:WebsiteChannel",
}

_where: dict[str, str] = dict(BUILTIN)
_loaded: dict[str, type[Channel]] = {}
_extras_read = False


def register(channel: type[Channel]) -> type[Channel]:
    """Add (or replace) a channel; usable as a class decorator."""
    _where[channel.name] = f"{channel.__module__}:{channel.__qualname__}"
    _loaded[channel.name] = channel
    return channel


def _read_extras() -> None:
    global _extras_read
    if _extras_read:
        return
    _extras_read = True
    from publisher.settings import get_settings

    for entry in get_settings().publisher_channels.split(","):
        if entry.strip():
            register(_import(entry.strip()))


def _import(where: str) -> type[Channel]:
    module_name, _, class_name = where.partition(":")
    try:
        found = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as exc:
        raise UnknownChannelError(
            f"cannot load channel {where!r} ({exc}); fix PUBLISHER_CHANNELS"
        ) from exc
    if not (isinstance(found, type) and issubclass(found, Channel)):
        raise UnknownChannelError(f"{where!r} is not a Channel class; fix PUBLISHER_CHANNELS")
    return found


def names() -> tuple[str, ...]:
    """Every known channel's name, built-ins first."""
    _read_extras()
    return tuple(_where)


def get(name: str) -> type[Channel]:
    """The declaration of channel `name`; UnknownChannelError when there is none."""
    _read_extras()
    if name not in _loaded:
        if name not in _where:
            raise UnknownChannelError(f"unknown channel {name!r}; use {', '.join(_where)}", name)
        _loaded[name] = _import(_where[name])
    return _loaded[name]


def all_channels() -> dict[str, type[Channel]]:
    """Every declaration, loaded (rendering a release for every channel needs them all)."""
    return {name: get(name) for name in names()}


__all__ = ["BUILTIN", "Channel", "all_channels", "get", "names", "register"]
