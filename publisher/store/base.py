"""What the parts of the store share: the client, decoding, events, and the error seam.

Redis' errors become `StoreUnavailable` here and nowhere else: `translate_errors` wraps every
public method of the synchronous `Store` once, when the class is made, so each call costs one
``try`` more and a generator (``records``, ``iter_recipients``) is translated while it is
iterated too. The message is one line and names the server without its password, so every
command can exit 3 with it. The asyncio `Ledger` is not wrapped: the delivery engine catches what
it raises and lets leases bring the work back.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import redis
from redis import exceptions as rx

from publisher.errors import StoreUnavailable

# What Redis going away (or refusing) looks like: redis-py's errors, and OSError from a socket.
REDIS_ERRORS = (redis.RedisError, OSError)

T = TypeVar("T", bound=type)


class StoreBase:
    """The client every part of the store shares."""

    def __init__(self, client: redis.Redis) -> None:
        # redis-py's return types are unions of sync and async results; Any keeps this readable.
        self.redis: Any = client


def decode(value: bytes | str) -> str:
    """Redis' bytes as text (a client made with decode_responses gives text already)."""
    return value.decode() if isinstance(value, bytes) else value


def event_fields(kind: str, who: str, details: dict[str, str]) -> dict[str, str]:
    """One entry of an event stream (a release's, a channel's recipients'): who did what.

    When is the entry's stream id (milliseconds since the epoch), read back by `read_events`:
    an `at` field as well would cost a sixth of a subscriber's bytes.
    """
    return {"type": kind, "who": who, **details}


def read_events(entries: list[tuple[Any, dict[Any, Any]]]) -> list[dict[str, str]]:
    """Stream entries as dicts, oldest first, each with `at` (epoch seconds) from its id: when
    it happened (a detail of that name, written by older versions, is read as `due`)."""
    events = []
    for entry_id, fields in entries:
        event = {decode(k): decode(v) for k, v in fields.items()}
        if "at" in event:  # a schedule's time, as events before `due` had it
            event["due"] = event.pop("at")
        event["at"] = f"{int(decode(entry_id).split('-')[0]) / 1000:.3f}"
        events.append(event)
    return events


def translate_errors(cls: T) -> T:
    """Make every public method of ``cls`` (its own and inherited) raise StoreUnavailable
    instead of Redis' errors. Applied once to the class: nothing is inspected per call."""
    for name in dir(cls):
        if name.startswith("_"):
            continue
        attr = inspect.getattr_static(cls, name)
        if inspect.isfunction(attr) and not getattr(attr, "__translated__", False):
            setattr(cls, name, _translating(attr))
    return cls


def _translating(fn: Callable[..., Any]) -> Callable[..., Any]:
    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def generator(self: StoreBase, *args: Any, **kwargs: Any) -> Iterator[Any]:
            try:
                yield from fn(self, *args, **kwargs)
            except REDIS_ERRORS as exc:
                raise unavailable(self.redis, exc) from exc

        wrapper: Callable[..., Any] = generator
    else:

        @functools.wraps(fn)
        def call(self: StoreBase, *args: Any, **kwargs: Any) -> Any:
            try:
                return fn(self, *args, **kwargs)
            except REDIS_ERRORS as exc:
                raise unavailable(self.redis, exc) from exc

        wrapper = call
    wrapper.__translated__ = True  # type: ignore[attr-defined]
    return wrapper


def unavailable(client: Any, exc: BaseException) -> StoreUnavailable:
    """The one-line StoreUnavailable for ``exc``, naming the server without its password."""
    kwargs = _connection_kwargs(client)
    where = _where(client, kwargs)
    reason = " ".join((str(exc) or type(exc).__name__).split()).rstrip(".")
    password = kwargs.get("password")
    if password:
        reason = reason.replace(str(password), "***")
    if isinstance(exc, rx.ReadOnlyError) or (
        isinstance(exc, rx.ResponseError) and "READONLY" in reason
    ):
        message = f"Redis at {where} is read-only: {reason}; point REDIS_URL at the primary"
    elif isinstance(exc, rx.BusyLoadingError):
        message = f"Redis at {where} is still loading its data: {reason}; try again shortly"
    elif isinstance(exc, rx.AuthenticationError | rx.NoPermissionError):
        message = f"Redis at {where} refused access: {reason}; check the user in REDIS_URL"
    elif isinstance(exc, rx.ConnectionError | rx.TimeoutError | OSError):
        message = f"cannot reach Redis at {where}: {reason}; start it or check REDIS_URL"
    else:
        message = f"Redis at {where} failed a command: {reason}"
    return StoreUnavailable(message)


def _connection_kwargs(client: Any) -> dict[str, Any]:
    pool = getattr(client, "connection_pool", None)
    return dict(getattr(pool, "connection_kwargs", None) or {})


def _where(client: Any, kwargs: dict[str, Any]) -> str:
    """The server as a URL with no credentials in it."""
    if kwargs.get("path"):
        return f"unix://{kwargs['path']}"
    if not kwargs:
        return "(unknown address)"
    connection_class = getattr(client.connection_pool, "connection_class", None)
    secure = isinstance(connection_class, type) and issubclass(
        connection_class, redis.SSLConnection
    )
    host, port, db = kwargs.get("host", "localhost"), kwargs.get("port", 6379), kwargs.get("db", 0)
    return f"{'rediss' if secure else 'redis'}://{host}:{port}/{db}"
