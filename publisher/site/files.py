"""The site builder's file system work: finding sources, atomic writes, the output folder's lock."""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, BinaryIO

from publisher.errors import ReleaseError, ReleaseErrors
from publisher.media import ImageFile, copy_image

LOCK_NAME = ".publisher-lock"
SOURCE_SUFFIXES = (".md", ".json")
SKIPPED_NAMES = {"readme.md"}


def write_atomic(path: Path, data: bytes) -> None:
    """Replace `path` with `data` so that readers see the old file or the new one, never half."""
    _replace(path, lambda handle: handle.write(data))


def copy_image_atomic(image: ImageFile, path: Path) -> None:
    """Copy a checked image into the site atomically, from the very file that was checked."""
    _replace(path, lambda handle: copy_image(image, handle))


def _replace(path: Path, fill: Callable[[BinaryIO], object]) -> None:
    folder, name = os.path.split(os.fspath(path))
    temp = os.path.join(folder, f".{name}.{os.urandom(6).hex()}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    # Mode 0o666 under the umask (mkstemp's 0o600 would hide the page from the web server).
    try:
        fd = os.open(temp, flags, 0o666)
    except FileNotFoundError:  # a new folder; trying first spares a mkdir per existing one
        os.makedirs(folder, exist_ok=True)
        fd = os.open(temp, flags, 0o666)
    try:
        # No fsync per file: the rename alone means readers never see half a page, and the
        # site can always be rebuilt from its sources; syncing each of 10,000 pages cost ~5 s.
        with os.fdopen(fd, "wb") as handle:
            fill(handle)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


def find_sources(sources: Iterable[Path], out: Path | None = None) -> list[tuple[str, str]]:
    """Every release file named or found (recursively, *.md and *.json): (shown name, path).

    Hidden files and folders, README.md files and the output folder itself are skipped.
    """
    found: list[tuple[str, str]] = []
    errors: list[ReleaseError] = []
    skip = os.path.abspath(out) if out is not None else ""
    for source in sources:
        shown = os.fspath(source)
        if os.path.isfile(shown):
            found.append((shown, os.path.abspath(shown)))
        elif os.path.isdir(shown):
            _walk(shown, os.path.abspath(shown), skip, found)
        else:
            errors.append(ReleaseError(shown, "file", "no such file or folder", "check the path"))
    if errors:
        raise ReleaseErrors(errors)
    unique: dict[str, str] = {}  # a file named twice (or inside a folder named too) is read once
    for shown, path in found:
        unique.setdefault(path, shown)
    return [(shown, path) for path, shown in unique.items()]


def _walk(shown: str, folder: str, skip: str, found: list[tuple[str, str]]) -> None:
    with os.scandir(folder) as entries:
        ordered = sorted(entries, key=lambda e: e.name)
    for entry in ordered:
        name = entry.name
        if name.startswith("."):
            continue
        if entry.is_dir(follow_symlinks=False):
            if entry.path != skip:
                _walk(os.path.join(shown, name), entry.path, skip, found)
        elif name.lower().endswith(SOURCE_SUFFIXES) and name.lower() not in SKIPPED_NAMES:
            found.append((os.path.join(shown, name), entry.path))


def lock(out: Path) -> IO[str]:
    """Hold the output folder's lock: two builds at once would undo each other's manifest."""
    handle = open(out / LOCK_NAME, "a")  # closed by build_site
    fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
    return handle
