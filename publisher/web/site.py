"""The public website under `/`: the files that `publisher site build` and the website channel's
sender write under `$PUBLISHER_DATA_DIR/site`, served as they are on disk.

`Website` is the app's last resort: it answers only what no route took (it is the router's
default, so no route can be shadowed by a page, whatever order routers are included in). It
serves a folder's `index.html` for a path ending in `/` (and sends `/releases/x` to
`/releases/x/`), never lists a folder, and answers 404, through the app's error handlers, for
anything outside the site: a `..` or `.` segment (encoded or not: the server has decoded the path
already), a hidden name (the build's manifest, its lock, a half-written temp file), an empty
segment, a NUL or a backslash, and a symlink that resolves outside the folder. The builder
writes every file atomically (a new file, then a rename), so a request reads the old file or
the new one; its ETag (`"{size}-{mtime_ns}"`, strong) and Last-Modified come from the very file
it reads, and If-None-Match (or, without it, If-Modified-Since) gets 304.

Pages, the Atom feed and the sitemap change when a release is published: they may be kept a
minute, then revalidated. The stylesheet and images keep their names across builds (none is
fingerprinted), so an hour. Security headers are the app's (`SecurityHeaders`), except that
images may come from any http(s) URL: a release's images may be URLs.
"""

from __future__ import annotations

import email.utils
import os
import stat
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote

import anyio.to_thread
from starlette.exceptions import HTTPException
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocketClose

from publisher.web.pages import CONTENT_SECURITY_POLICY

CHUNK_BYTES = 64 * 1024
#: Pages, the feed, the sitemap: fresh for a minute, then asked again (a 304 if unchanged).
REVALIDATE = "public, max-age=60, must-revalidate"
#: The stylesheet and images.
ASSET = "public, max-age=3600"
SITE_POLICY = CONTENT_SECURITY_POLICY.replace("img-src 'self' data:", "img-src 'self' data: https:")
METHODS = ("GET", "HEAD")
OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC  # a FIFO must not block

#: By file name extension; anything else is application/octet-stream.
TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".xml": "application/xml; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".json": "application/json",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".svg": "image/svg+xml",
    ".ico": "image/vnd.microsoft.icon",
}
#: By path in the site, before the extension.
NAMED_TYPES = {"feed.xml": "application/atom+xml; charset=utf-8"}


@dataclass
class Found:
    """A file of the site, open, with what its answer says about it."""

    handle: BinaryIO
    size: int
    mtime_s: float
    etag: str
    content_type: str
    cache_control: str
    head: bytes  # its first CHUNK_BYTES, read with the lookup


@dataclass
class Moved:
    """A folder asked for without its slash: where its index is."""

    location: str


def locate(root: Path, route_path: str) -> Found | Moved | None:
    """The file of the site at `route_path` (decoded, starting with /), open; or where to go
    instead; or None: nothing to serve (see the module docstring)."""
    names = route_path.split("/")[1:]
    folder = names[-1] == ""
    if folder:
        names = names[:-1]
    if not route_path.startswith("/") or not all(map(_fine, names)):
        return None
    base = os.path.realpath(root)
    wanted = os.path.join(base, *names, "index.html") if folder else os.path.join(base, *names)
    real = os.path.realpath(wanted)
    if not real.startswith(base + os.sep):
        return None
    try:
        fd = os.open(real, OPEN_FLAGS)
    except (OSError, ValueError):
        return None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode) and not folder:
            index = locate(root, route_path + "/")
            if isinstance(index, Found):
                index.handle.close()
                return Moved(route_path + "/")
            return None
        if not stat.S_ISREG(info.st_mode):
            return None
        handle = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    try:
        head = handle.read(CHUNK_BYTES)
    except BaseException:
        handle.close()
        raise
    rel = "/".join([*names, "index.html"] if folder else names)
    content_type = _content_type(rel)
    return Found(
        handle=handle,
        size=info.st_size,
        mtime_s=info.st_mtime,
        etag=f'"{info.st_size:x}-{info.st_mtime_ns:x}"',
        content_type=content_type,
        cache_control=ASSET if content_type.startswith(("text/css", "image/")) else REVALIDATE,
        head=head,
    )


def _fine(name: str) -> bool:
    return bool(name) and not name.startswith(".") and "\x00" not in name and "\\" not in name


def _content_type(rel: str) -> str:
    if rel in NAMED_TYPES:
        return NAMED_TYPES[rel]
    return TYPES.get(os.path.splitext(rel)[1].lower(), "application/octet-stream")


def not_modified(headers: dict[str, str], etag: str, mtime_s: float) -> bool:
    """Whether the client's copy is current: If-None-Match if sent (weak comparison, as for
    GET), else If-Modified-Since at the second."""
    match = headers.get("if-none-match")
    if match is not None:
        tags = [tag.strip().removeprefix("W/") for tag in match.split(",")]
        return "*" in tags or etag in tags
    since = headers.get("if-modified-since")
    if since is None:
        return False
    try:
        when = email.utils.parsedate_to_datetime(since)
    except (TypeError, ValueError):
        return False
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(mtime_s) <= when.timestamp()


class Website:
    """ASGI app: GET and HEAD of the built site in `root`; 404 (the app's page or problem
    details) for anything else, 405 for another method on a file that exists."""

    def __init__(self, root: Path) -> None:
        self.root = root

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await WebSocketClose()(scope, receive, send)
            return
        found = await anyio.to_thread.run_sync(locate, self.root, _route_path(scope))
        if found is None:
            raise HTTPException(404)
        if isinstance(found, Moved):
            found_at = scope.get("root_path", "") + found.location
            if found_at.startswith("//"):  # never an address on another host
                raise HTTPException(404)
            query = scope.get("query_string", b"")
            location = quote(found_at) + ("?" + query.decode("latin-1") if query else "")
            await _start(send, 301, [(b"location", location.encode("latin-1"))])
            await send({"type": "http.response.body", "body": b""})
            return
        try:
            await self._answer(scope, send, found)
        finally:
            found.handle.close()

    async def _answer(self, scope: Scope, send: Send, found: Found) -> None:
        if scope["method"] not in METHODS:
            raise HTTPException(405, headers={"Allow": ", ".join(METHODS)})
        headers = {
            "etag": found.etag,
            "last-modified": email.utils.formatdate(found.mtime_s, usegmt=True),
            "cache-control": found.cache_control,
            "content-security-policy": SITE_POLICY,
        }
        asked = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if not_modified(asked, found.etag, found.mtime_s):
            await _start(send, 304, _encoded(headers))
            await send({"type": "http.response.body", "body": b""})
            return
        headers["content-type"] = found.content_type
        headers["content-length"] = str(found.size)
        await _start(send, 200, _encoded(headers))
        if scope["method"] == "HEAD":
            await send({"type": "http.response.body", "body": b""})
            return
        chunk, sent = found.head, 0
        while True:
            sent += len(chunk)
            more = bool(chunk) and sent < found.size
            await send({"type": "http.response.body", "body": chunk, "more_body": more})
            if not more:
                return
            chunk = await anyio.to_thread.run_sync(found.handle.read, CHUNK_BYTES)


def _route_path(scope: Scope) -> str:
    """The path within the app (without a root path a proxy serves it under)."""
    path: str = scope["path"]
    root_path: str = scope.get("root_path", "")
    if root_path and path.startswith(root_path):
        return path[len(root_path) :] or "/"
    return path


def _encoded(headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
    return [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]


async def _start(send: Send, status: int, headers: list[tuple[bytes, bytes]]) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
