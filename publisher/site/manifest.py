"""The build manifest: what the last build read and wrote, so the next one redoes only changes.

`.publisher-manifest.json` keeps one row per release (its listing fields, its source file's
mtime, size and hash, its images, its page's hash) and the hash of every other output.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import orjson

from publisher.media import ImageFile
from publisher.render import RenderContext
from publisher.settings import get_settings

MANIFEST_NAME = ".publisher-manifest.json"
MANIFEST_FORMAT = 3  # 3: an image row also holds its file's device and inode
PACKAGE = Path(__file__).resolve().parent.parent
# The code that shapes a page or decides what may be published: a change to it rebuilds all.
CODE_FILES = ("render.py", "release.py", "media.py")  # and site/*.py, the page among them
# A manifest row: the fields of pages.release_record (but the lede), then the source and page.
ROW = (
    "id", "title", "date", "ts", "date_text", "language", "dir", "category", "month",
    "translation_of", "page", "path", "url", "web", "publish_ts", "sig",
    "src", "name", "mtime_ns", "size", "sha", "images", "page_key", "page_sig",
)  # fmt: skip
# An image row: [resolved path, published file name, mtime_ns, size, device, inode].
ImageRow = list[Any]


def digest(data: bytes) -> str:
    """The short hash the manifest compares files and inputs by."""
    return hashlib.blake2b(data, digest_size=12).hexdigest()


def render_key(ctx: RenderContext) -> str:
    """A hash of everything besides a release that shapes its page: settings, code, templates."""
    parts = [str(MANIFEST_FORMAT), ctx.public_url, ctx.organisation]
    parts.append(get_settings().publisher_timezone)
    code = [PACKAGE / name for name in CODE_FILES]
    code += sorted((PACKAGE / "site").glob("*.py"))
    parts += [digest(path.read_bytes()) for path in code]
    env = ctx.templates.html
    if env.loader is not None:
        for name in sorted(n for n in env.list_templates() if n.startswith("website/")):
            parts += [name, env.loader.get_source(env, name)[0]]
    return digest("\0".join(parts).encode())


def read_manifest(out: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The last build's manifest and its release rows; empty when missing, old or damaged.

    Without one, everything is rendered again and compared with what is on disk by writing.
    """
    try:
        data = orjson.loads((out / MANIFEST_NAME).read_bytes())
        if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
            return {}, []
        rows = [dict(zip(ROW, row, strict=True), description="") for row in data["releases"]]
        if not all(isinstance(data[k], dict) for k in ("outputs", "listing", "top")):
            return {}, []
    except (OSError, ValueError, TypeError, KeyError):  # orjson.JSONDecodeError is a ValueError
        return {}, []
    return data, rows


def image_row(image: ImageFile, file_name: str) -> ImageRow:
    """The manifest's row of a checked image, published as `file_name` beside its page."""
    return [image.path, file_name, image.mtime_ns, image.size, image.device, image.inode]


def image_file(row: ImageRow) -> ImageFile:
    """The checked image a manifest row stands for."""
    path, _name, mtime_ns, size, device, inode = row
    return ImageFile(path, size, mtime_ns, device, inode)


def same_stat(path: str, mtime_ns: int, size: int) -> bool:
    """Whether a source file still has the mtime and size the manifest recorded."""
    try:
        stat = os.stat(path)
    except OSError:
        return False
    return stat.st_mtime_ns == mtime_ns and stat.st_size == size


def stat_matches(src: str, row: dict[str, Any]) -> bool:
    """Whether a release's source and images look unchanged since the last build."""
    return same_stat(src, row["mtime_ns"], row["size"]) and images_unchanged(row["images"])


def images_unchanged(images: list[ImageRow]) -> bool:
    """Whether every image is still the very file that was checked (not swapped, not edited).

    `lstat`: a symlink put where the checked file was is a change, so its release is checked
    again instead of trusted.
    """
    if not images:  # most releases: no generator to set up, 10,000 times over
        return True
    for path, _name, mtime_ns, size, device, inode in images:
        try:
            stat = os.lstat(path)
        except OSError:
            return False
        found = (stat.st_mtime_ns, stat.st_size, stat.st_dev, stat.st_ino)
        if found != (mtime_ns, size, device, inode):
            return False
    return True
