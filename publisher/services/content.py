"""Content that needs no store: a plain-text news page into release files, the website build."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from publisher.errors import ReleaseError


def import_page(path: Path, out: Path) -> tuple[list[Path], list[Path]]:
    """Release files from a plain-text news page like the seed: (written, skipped as existing)."""
    from publisher.importer import import_file

    return import_file(path, out)


def build_site(sources: list[Path], out: Path) -> Any:
    """Build (or rebuild what changed in) the website from release files or folders."""
    from publisher.render import RenderContext
    from publisher.site import build_site as build

    for source in sources:
        if not source.exists():
            raise ReleaseError(str(source), "file", "no such file or folder", "check the path")
    return build(sources, out, RenderContext.from_settings())
