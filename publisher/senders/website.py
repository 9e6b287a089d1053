"""The website channel's sender: publishes the release's page and brings the site up to date."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any, ClassVar

from publisher.channels.base import Recipient, SendContext, Sender
from publisher.errors import ChannelFault, PublisherError
from publisher.settings import Settings
from publisher.site import build_site, write_atomic


class WebsiteSender(Sender):
    """Writes the stored page under `$PUBLISHER_DATA_DIR/site`, then rebuilds what it changes.

    Every published release is kept as JSON in `site-sources/`, so the incremental site build
    updates the index, category and archive pages, the Atom feed and the sitemap.
    """

    channel: ClassVar[str] = "website"

    def __init__(self, settings: Settings) -> None:
        self.root = Path(settings.data_dir) / "site"
        self.sources = Path(settings.data_dir) / "site-sources"
        self.public_url = settings.base_url

    async def deliver(
        self, payload: dict[str, Any], recipient: Recipient, ctx: SendContext
    ) -> list[str]:
        target = (self.root / payload["path"]).resolve()
        if self.root.resolve() not in target.parents:
            raise ChannelFault(f"website: page path {payload['path']!r} leaves the site folder")
        try:
            await asyncio.to_thread(self._publish, target, payload)
        except OSError as exc:
            raise ChannelFault(f"website: cannot write {exc.filename}: {exc.strerror}") from exc
        page = payload["path"].removesuffix("index.html")
        return [f"{self.public_url}/{page}"]

    def _publish(self, target: Path, payload: dict[str, Any]) -> None:
        write_atomic(target, payload["html"].encode("utf-8"))  # what was previewed, first
        release = payload.get("_release")
        if not release:
            return
        # A local image that is not on this host cannot be copied: the page keeps its URL.
        release["images"] = [
            image
            for image in release["images"]
            if image["src"].startswith(("http://", "https://")) or Path(image["src"]).is_file()
        ]
        self.sources.mkdir(parents=True, exist_ok=True)
        data = json.dumps(release, ensure_ascii=False, indent=1).encode("utf-8")
        write_atomic(self.sources / f"{release['id']}.json", data)
        from publisher.render import RenderContext

        try:
            build_site([self.sources], self.root, RenderContext.from_settings())
        except PublisherError as exc:
            raise ChannelFault(f"website: the site could not be rebuilt: {exc}") from exc
