"""The website channel's sender: publishes the release's page and brings the site up to date."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any, ClassVar

from publisher.channels.base import Recipient, SendContext, Sender
from publisher.errors import ChannelFault, PublisherError, ReleaseError
from publisher.logs import log_event
from publisher.media import ImageFile
from publisher.settings import Settings
from publisher.site import build_site, copy_image_atomic, write_atomic

log = logging.getLogger(__name__)
# Under `site-sources/`, hidden so that the site build does not take an image for a release.
IMAGES_DIR = ".images"


class WebsiteSender(Sender):
    """Writes the stored page under `$PUBLISHER_DATA_DIR/site`, then rebuilds what it changes.

    Every published release is kept as JSON in `site-sources/`, so the incremental site build
    updates the index, category and archive pages, the Atom feed and the sitemap. Its local
    images are copied beside it (`site-sources/.images/<id>/`) from the files validation
    checked, so the build finds them inside the sources' folder and checks them again.
    """

    channel: ClassVar[str] = "website"

    def __init__(self, settings: Settings) -> None:
        self.root = settings.site_dir
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
        kept = (self._image(release["id"], image) for image in release["images"])
        release["images"] = [image for image in kept if image is not None]
        self.sources.mkdir(parents=True, exist_ok=True)
        data = json.dumps(release, ensure_ascii=False, indent=1).encode("utf-8")
        write_atomic(self.sources / f"{release['id']}.json", data)
        from publisher.render import RenderContext

        try:
            build_site([self.sources], self.root, RenderContext.from_settings())
        except PublisherError as exc:
            raise ChannelFault(f"website: the site could not be rebuilt: {exc}") from exc

    def _image(self, release_id: str, image: dict[str, Any]) -> dict[str, Any] | None:
        """The image as the site's source gives it, its file copied beside; None to leave it out.

        A local image is copied only from the file validation checked, and only while it is
        still that file; one that is gone (checked on another host) or was swapped since is
        left out, and the page keeps its URL.
        """
        checked = image.pop("file", None)
        if image["src"].startswith(("http://", "https://")):
            return image
        reason = "it was never checked (rendered by an older version, or not validated)"
        if checked is not None:
            image_file = ImageFile(**checked)
            rel = f"{IMAGES_DIR}/{release_id}/{Path(image['src']).name}"
            try:
                copy_image_atomic(image_file, self.sources / rel)
                return image | {"src": rel}
            except ReleaseError as exc:
                reason = exc.problem
            except OSError as exc:
                if exc.filename != image_file.path:  # the sources' disk, not the image: a fault
                    raise
                reason = exc.strerror or "it cannot be read"
        log_event(
            log,
            logging.WARNING,
            "image left out of the site",
            release_id=release_id,
            channel=self.channel,
            image=image["src"],
            reason=reason,
        )
        return None
