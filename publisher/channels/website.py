"""The website channel (stub: being written)."""

from __future__ import annotations

from typing import Any

from publisher.channels.base import Channel
from publisher.release import Release
from publisher.render import BodyParts, RenderContext


class WebsiteChannel(Channel):
    name = "website"
    max_text = 0

    @classmethod
    def render(cls, release: Release, body: BodyParts, ctx: RenderContext) -> dict[str, Any]:
        return {}
