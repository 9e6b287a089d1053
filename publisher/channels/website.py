"""The website channel: one full HTML5 page per release (`publisher.site.page`), published
into the static site by its sender, which rebuilds what the release changes."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from publisher.channels.base import Channel, Sender, Throttle
from publisher.settings import Settings

if TYPE_CHECKING:
    from publisher.release import Release
    from publisher.render import BodyParts, RenderContext


class WebsiteChannel(Channel):
    """The organisation's website: one page per release, built into a static site."""

    name = "website"
    max_text = 0  # a web page has no length limit

    @classmethod
    def make_sender(cls, settings: Settings, throttle: Throttle | None) -> Sender:
        from publisher.senders.website import WebsiteSender

        return WebsiteSender(settings)

    @classmethod
    def fixed_recipients(cls, settings: Settings) -> list[str]:
        """The site, one recipient however many pages a release changes."""
        return ["site"]

    @classmethod
    def counters(cls, payload: dict[str, Any]) -> list[tuple[str, str]]:
        return [(f"page {payload['path']} ({len(payload['html']) / 1024:.1f} KB)", "")]

    @classmethod
    def render(cls, release: Release, body: BodyParts, ctx: RenderContext) -> dict[str, Any]:
        """The page of a release, where it lives in the site, and the release itself.

        `release` lets the website sender add the release to the site's index, feeds and
        category pages; each local image carries the file validation checked (`file`), the
        only one the sender will copy.
        """
        from publisher.site.page import render_page

        source = release.to_json()
        for image, entry in zip(release.images, source["images"], strict=True):
            if image.file is not None:
                entry["file"] = asdict(image.file)
        return {
            "path": ctx.page_path(release),
            "html": render_page(release, body, ctx),
            "_release": source,  # for the sender; `render --json` leaves `_` keys out
        }
