"""Rendering a release for its channels: the one place that knows every channel renders."""

from __future__ import annotations

from typing import Any

from publisher import channels
from publisher.release import Release
from publisher.render import BodyParts, RenderContext, body_parts


def render_all(
    release: Release,
    names: list[str] | None = None,
    ctx: RenderContext | None = None,
    body: BodyParts | None = None,
) -> dict[str, Any]:
    """Every channel's finished payload for a release (the `render --json` shape).

    `body` is the release's `body_parts`, for a caller that renders channel by channel.
    Raises UnknownChannelError for a channel that is not declared, RenderError when a
    template breaks or a limit cannot be met.
    """
    ctx = ctx or RenderContext.from_settings()
    declarations = [channels.get(name) for name in names or release.channels]
    body = body or body_parts(release)
    rendered = {channel.name: channel.render(release, body, ctx) for channel in declarations}
    return {"id": release.id, "channels": rendered}


def for_people(rendered: dict[str, Any]) -> dict[str, list[tuple[str, str]]]:
    """Per channel, (label with its length counter, text) pairs: what `preview` shows."""
    return {
        name: channels.get(name).counters(payload) for name, payload in rendered["channels"].items()
    }


def public(rendered: dict[str, Any]) -> dict[str, Any]:
    """The payloads without the internal `_` keys that are never sent to anyone."""
    return {
        "id": rendered["id"],
        "channels": {
            name: {k: v for k, v in payload.items() if not k.startswith("_")}
            for name, payload in rendered["channels"].items()
        },
    }
