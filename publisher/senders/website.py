"""The website channel's sender: writes the release's rendered page into the site folder."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, ClassVar

from publisher.channels.base import Recipient, SendContext, Sender
from publisher.errors import ChannelFault
from publisher.settings import Settings


def write_atomic(path: Path, data: bytes) -> None:
    """Write through a temp file and rename, so a web server never serves half a page."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class WebsiteSender(Sender):
    """Publishes the stored page under `$PUBLISHER_DATA_DIR/site`."""

    channel: ClassVar[str] = "website"

    def __init__(self, settings: Settings) -> None:
        self.root = Path(settings.data_dir) / "site"
        self.public_url = settings.base_url

    async def deliver(
        self, payload: dict[str, Any], recipient: Recipient, ctx: SendContext
    ) -> list[str]:
        target = (self.root / payload["path"]).resolve()
        if self.root.resolve() not in target.parents:
            raise ChannelFault(f"website: page path {payload['path']!r} leaves the site folder")
        try:
            write_atomic(target, payload["html"].encode("utf-8"))
        except OSError as exc:
            raise ChannelFault(f"website: cannot write {target}: {exc.strerror}") from exc
        page = payload["path"].removesuffix("index.html")
        return [f"{self.public_url}/{page}"]
