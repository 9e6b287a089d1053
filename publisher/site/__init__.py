"""The static website: release pages, index, category and month pages, Atom feed, sitemap.

A build is incremental. `.publisher-manifest.json` in the output folder keeps one row per
release (its listing fields, its source file's mtime, size and hash, its page's hash) and the
hash of every other output, so a rebuild reads only changed files, renders only the pages they
touch, rewrites only files whose bytes changed, and deletes the pages of releases that are gone.
Nothing is written unless every release is valid. Every write is atomic (temp file in the same
folder, then os.replace), so a web server never serves half a page.

    files.py     finding sources, atomic writes, the output folder's lock
    manifest.py  what the last build read and wrote
    reading.py   parse, validate and render one source (in worker processes for big builds)
    plan.py      the read-only half: which releases are on the site, which pages to render
    build.py     the writing half, and `build_site`
    page.py      a release's page, shared with the website channel
    pages.py     index, category and month pages, feed, sitemap
"""

from __future__ import annotations

from publisher.site.build import BuildReport, build_site
from publisher.site.files import copy_image_atomic, find_sources, write_atomic
from publisher.site.manifest import MANIFEST_NAME, render_key

__all__ = [
    "MANIFEST_NAME",
    "BuildReport",
    "build_site",
    "copy_image_atomic",
    "find_sources",
    "render_key",
    "write_atomic",
]
