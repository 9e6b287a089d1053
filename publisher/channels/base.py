"""The one small interface every channel implements.

A channel answers three questions: how a release looks there (`render`, pure, no I/O), who
receives it (`recipients`), and how one payload reaches one recipient (`deliver`, which raises
TransientDeliveryError to retry or PermanentDeliveryError to give up). Its limits are class
attributes, so the splitters and the rate limiter read them from one place.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

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
