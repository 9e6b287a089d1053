"""The one small interface every channel implements.

A channel answers three questions: how a release looks there (`render`, pure, no I/O), who
receives it (`recipients`), and how one payload reaches one recipient (`deliver`, which raises
TransientDeliveryError to retry or PermanentDeliveryError to give up). Its limits are class
attributes, so the splitters and the rate limiter read them from one place.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

if TYPE_CHECKING:  # a worker that only sends never loads the render stack
    from publisher.release import Release
    from publisher.render import BodyParts, RenderContext


class Channel(ABC):
    """Base class of a delivery channel."""

    name: ClassVar[str]
    max_text: ClassVar[int]
    rate_per_s: ClassVar[float | None] = None

    @classmethod
    @abstractmethod
    def render(cls, release: Release, body: BodyParts, ctx: RenderContext) -> dict[str, Any]:
        """The finished payload(s) for this channel: what `render --json` prints."""


@dataclass(frozen=True)
class Recipient:
    """Who receives a send on one channel: a chat id, "@channel", an address, the account."""

    address: str
    name: str = ""
    language: str = ""
    categories: tuple[str, ...] = ()


class MediaCache(Protocol):
    """Where a sender keeps what it uploaded once per release (Telegram's file_id)."""

    async def get(self, key: str) -> str | None: ...

    async def set(self, key: str, value: str) -> None: ...


class Throttle(Protocol):
    """The shared rate limiter: wait until a request to `chat` may start.

    `consecutive` is true for a message that follows another one to the same chat (a release
    in several parts), which is when a per-chat limit can bite.
    """

    async def before_send(self, chat: str, consecutive: bool = False) -> None: ...


@dataclass
class SendContext:
    """What one delivery needs beyond its payload and recipient."""

    release_id: str
    done_parts: list[str] = field(default_factory=list)
    on_part: Callable[[int, str], Awaitable[None]] | None = None
    unsubscribe_url: str = ""
    media: MediaCache | None = None


class Sender(ABC):
    """Sends one channel's stored payload to one recipient; one instance per worker process.

    `deliver` does the I/O only: it maps the platform's answers to platform ids (returned,
    one per part) or to TransientDeliveryError / PermanentDeliveryError / ChannelFault.
    A payload of several parts resumes after `ctx.done_parts` and reports each part it sends
    through `ctx.on_part`, so a crash mid-recipient resumes at the next part.
    """

    channel: ClassVar[str]

    async def start(self) -> None:  # noqa: B027 - optional hook, most senders need none
        """Open connections (called once per worker process, inside its event loop)."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Close connections."""

    @abstractmethod
    async def deliver(
        self, payload: dict[str, Any], recipient: Recipient, ctx: SendContext
    ) -> list[str]:
        """Send the payload's remaining parts; return the platform id of every part."""
