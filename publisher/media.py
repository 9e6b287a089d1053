"""Which images a release may publish: http(s) URLs, and image files in the folders it may use.

A local image is judged by where it really is and by what it holds, never by its name: its
path is resolved (symlinks followed) and must land inside the release file's folder or the
media folder (`settings.media_dir`, where the web app keeps uploads); it must be a regular file
of at most MAX_IMAGE_BYTES whose first bytes are a JPEG, PNG, GIF or WebP signature. What passed
is kept as an ImageFile (the resolved path and the file's identity), and everything that later
reads the image (the site builder, the website sender) opens that path again through
`open_image`, which refuses anything but the very file that was checked. Without this, a `src`
of `../../.env` or a `photo.jpg` symlink to the DKIM key would be copied into the public site.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit

from publisher.errors import ReleaseError
from publisher.settings import get_settings

MAX_IMAGE_BYTES = 10 * 1024 * 1024
URL_PREFIXES = ("http://", "https://")
SIGNATURE_BYTES = 12  # enough for the longest signature below (WebP's RIFF....WEBP)
COPY_CHUNK = 1 << 20
# Anything that starts like a URL scheme ("file:", "data:", "javascript:") is no file name.
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
KINDS = "JPEG, PNG, GIF or WebP"


@dataclass(frozen=True)
class ImageFile:
    """A local image that passed the checks: its resolved path and which file it was then."""

    path: str
    size: int
    mtime_ns: int
    device: int
    inode: int


def image_kind(head: bytes) -> str | None:
    """The image format its first bytes announce (JPEG, PNG, GIF, WebP), or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    return None


def is_image_url(src: str) -> bool:
    """Whether `src` is an http(s) URL with a host (the only URLs an image may have)."""
    if not src.startswith(URL_PREFIXES):
        return False
    try:
        return bool(urlsplit(src).hostname)
    except ValueError:  # a malformed host, such as an unclosed IPv6 bracket
        return False


def check_image(
    src: str, name: str, field: str, base_dir: Path | None, media_dir: Path | None = None
) -> ImageFile | None:
    """Check one image `src` of release `name`: None for a good URL, else the checked file.

    A relative path is taken from the release file's folder (`base_dir`), or from the media
    folder for a release without a file (the API's JSON). Raises ReleaseError naming `field`.
    """

    def refuse(problem: str, fix: str) -> ReleaseError:
        return ReleaseError(name, field, problem, fix)

    if not src:
        raise refuse("has no src", "give the image a file name or an https URL")
    if src.startswith(URL_PREFIXES):
        if not is_image_url(src):
            raise refuse(f"{src!r} is not a complete URL", "write it as https://host/path")
        return None
    if SCHEME.match(src):
        raise refuse(f"{src!r} is not an http(s) URL", "use an https URL or an image file")
    media = media_dir if media_dir is not None else get_settings().media_dir
    roots = [_real(media)]
    if base_dir is not None:
        roots.insert(0, _real(base_dir))
    outside = refuse(
        f"{src!r} is outside the release's folder and the media folder",
        "put the image file itself (not a link to one) beside the release, or use an https URL",
    )
    candidate = (base_dir if base_dir is not None else media) / src
    try:
        # Judge the place before the existence: a path outside says "outside" whether or not
        # the file is there, so nobody can probe the server's files through this message.
        if not _inside(_real(candidate), roots):
            raise outside
        resolved = candidate.resolve(strict=True)
    except (FileNotFoundError, NotADirectoryError):
        if base_dir is None:
            raise refuse(f"no file {src!r} in the media folder", "upload it first") from None
        fix = "put the image beside the release file or use an https URL"
        raise refuse(f"no file {src!r} next to the release", fix) from None
    except (OSError, RuntimeError, ValueError):  # a symlink loop, a NUL in the name
        raise refuse(f"{src!r} cannot be resolved to a file", "fix the name or the link") from None
    if not _inside(resolved, roots):  # the file appeared, or a link changed, since the first look
        raise outside
    try:
        info = os.lstat(resolved)
    except OSError as exc:
        raise refuse(f"{src!r} cannot be read ({exc.strerror})", "check the file") from None
    if stat.S_ISDIR(info.st_mode):
        raise refuse(f"{src!r} is a folder", "name an image file inside it")
    if not stat.S_ISREG(info.st_mode):  # a fifo would block the build, a device never ends
        raise refuse(f"{src!r} is not a regular file", "use a JPEG, PNG, GIF or WebP file")
    checked = ImageFile(str(resolved), info.st_size, info.st_mtime_ns, info.st_dev, info.st_ino)
    try:
        open_image(checked).close()  # the same checks the site builder's copy makes
    except ReleaseError as exc:
        raise refuse(f"{src!r} {exc.problem}", exc.fix) from None
    except OSError as exc:
        raise refuse(f"{src!r} cannot be read ({exc.strerror})", "check the file") from None
    return checked


def open_image(image: ImageFile) -> BinaryIO:
    """Open a checked image again for reading, only if it is still that file and an image.

    The final name is opened without following a symlink, and the open file must be the same
    inode, still regular, within the size limit and starting with an image signature, so a
    swap after the check opens nothing else. Raises ReleaseError (named by the image's path)
    when the file changed, OSError when it cannot be opened (it is gone, or not on this host).
    """
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    fd = os.open(image.path, flags)
    try:
        info = os.fstat(fd)
        handle = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    try:
        if (info.st_dev, info.st_ino) != (image.device, image.inode) or not stat.S_ISREG(
            info.st_mode
        ):
            raise _changed(image, "is no longer the file that was checked")
        if info.st_size > MAX_IMAGE_BYTES:
            mib = info.st_size / (1 << 20)
            raise ReleaseError(
                image.path,
                "images",
                f"is {mib:.1f} MiB, over the {MAX_IMAGE_BYTES >> 20} MiB limit",
                "make the image smaller or use an https URL",
            )
        if image_kind(handle.read(SIGNATURE_BYTES)) is None:
            raise ReleaseError(
                image.path,
                "images",
                f"is not a {KINDS} image (judged by its content, not its name)",
                f"save the image as {KINDS}",
            )
        handle.seek(0)
    except BaseException:
        handle.close()
        raise
    return handle


def copy_image(image: ImageFile, target: BinaryIO) -> None:
    """Copy a checked image into an open file, refusing it if it grew past the limit meanwhile."""
    copied = 0
    with open_image(image) as source:
        while chunk := source.read(COPY_CHUNK):
            copied += len(chunk)
            if copied > MAX_IMAGE_BYTES:
                raise _changed(image, f"grew past the {MAX_IMAGE_BYTES >> 20} MiB limit")
            target.write(chunk)


def _changed(image: ImageFile, problem: str) -> ReleaseError:
    return ReleaseError(image.path, "images", problem, "check the image, then publish again")


def _real(path: Path) -> Path:
    """A path with every existing symlink resolved (what is missing is kept as written)."""
    return Path(os.path.realpath(path))


def _inside(path: Path, roots: list[Path]) -> bool:
    return any(path.is_relative_to(root) for root in roots)
