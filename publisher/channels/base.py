"""The one small interface every channel implements, and where a channel is declared.

A channel answers three questions: how a release looks there (`render`, pure, no I/O), who
receives it (`fixed_recipients` plus, when `has_subscribers`, the store's list of people with
their choices), and how one payload reaches one recipient (its `Sender`, built by
`make_sender`, which raises TransientDeliveryError to retry or PermanentDeliveryError to give
up). Its limits are class attributes, so preview, the splitters, the outbox, the engine and the
rate limiter read them from this one declaration.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

if TYPE_CHECKING:  # a worker that only sends never loads the render stack
    from publisher.ratelimit import Scope
    from publisher.release import Release
    from publisher.render import BodyParts, RenderContext
    from publisher.settings import Settings


class Channel(ABC):
    """Base class of a delivery channel: its declaration (class attributes) and its renderer."""

    name: ClassVar[str]
    #: Most characters of one text part (0: no limit); `weighted` when the platform weighs them.
    max_text: ClassVar[int] = 0
    weighted: ClassVar[bool] = False
    parse_mode: ClassVar[str | None] = None
    #: Requests a second the platform allows (None: no shared limit).
    rate_per_s: ClassVar[float | None] = None
    #: The payload key holding a list of parts sent one after another to each recipient
    #: ("messages", "posts"); None when the payload is one send.
    parts_key: ClassVar[str | None] = None
    #: Per-release overrides a release may give this channel: field -> expected type.
    override_fields: ClassVar[dict[str, type]] = {}
    #: True when people subscribe to the channel (kept in the store with their language and
    #: categories, suppressed when gone); False when it has only `fixed_recipients`.
    has_subscribers: ClassVar[bool] = False
    #: True when each send carries the recipient's own unsubscribe link.
    personal_links: ClassVar[bool] = False
    #: Recipients a delivery task takes at a time.
    batch_size: ClassVar[int] = 500

    @classmethod
    @abstractmethod
    def render(cls, release: Release, body: BodyParts, ctx: RenderContext) -> dict[str, Any]:
        """The finished payload(s) for this channel: what `render --json` prints."""

    @classmethod
    @abstractmethod
    def make_sender(cls, settings: Settings, throttle: Throttle | None) -> Sender:
        """This channel's sender for one worker process (the outbox when credentials are unset)."""

    @classmethod
    def fixed_recipients(cls, settings: Settings) -> list[str]:
        """Recipients that are not subscribers: the account, the public channel, the site."""
        return []

    @classmethod
    def rate_limit_per_s(cls, settings: Settings) -> float | None:
        """Requests a second shared by every worker (None: unthrottled)."""
        return cls.rate_per_s

    @classmethod
    def rate_limit_key(cls, settings: Settings) -> str:
        """Whose limit it is: every worker sending as the same account shares one window."""
        return cls.name

    @classmethod
    def recipient_scopes(cls, address: str, consecutive: bool) -> tuple[Scope, ...]:
        """Narrower limits of one recipient (a chat's own), checked with the shared one.

        `consecutive` is true for a part that follows another to the same recipient.
        """
        return ()

    @classmethod
    def batch_size_for(cls, settings: Settings) -> int:
        """Recipients per task: a rate-limited batch should take seconds, not minutes, so the
        scheduler's tick and other releases never wait long behind it."""
        rate = cls.rate_limit_per_s(settings)
        if rate is None:
            return cls.batch_size
        return int(min(cls.batch_size, max(50, rate * 2)))

    @classmethod
    def parts(cls, payload: dict[str, Any]) -> list[dict[str, Any]]:
        """The payload's parts in sending order (one part when it is a single send)."""
        if cls.parts_key is None:
            return [payload]
        return list(payload.get(cls.parts_key) or [])

    @classmethod
    def counters(cls, payload: dict[str, Any]) -> list[tuple[str, str]]:
        """(label with its length counter, text) for each part, for people (`preview`)."""
        parts = cls.parts(payload)
        items = []
        for i, part in enumerate(parts, 1):
            text = str(part.get("text", ""))
            limit = f"/{cls.max_text}" if cls.max_text else ""
            items.append((f"part {i}/{len(parts)}: {len(text)}{limit}", text))
        return items


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
    #: The part after `done_parts` may already be on the platform: a worker died while sending
    #: it (the record is flagged as a possible duplicate), or the last try of it ended in a
    #: timeout or a server error. A sender whose platform refuses a duplicate can look that
    #: part up instead of failing.
    maybe_sent: bool = False


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
