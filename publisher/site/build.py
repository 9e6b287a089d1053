"""The writing half of a build: render what the plan chose, write what changed, drop the rest."""

from __future__ import annotations

import operator
import os
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from publisher.render import RenderContext
from publisher.site import pages
from publisher.site.files import copy_image_atomic, lock, write_atomic
from publisher.site.manifest import MANIFEST_FORMAT, MANIFEST_NAME, ROW, digest, image_file
from publisher.site.page import labels_for
from publisher.site.plan import FEED_SIZE, INDEX_SIZE, TOP_SIZE, Plan

WRITE_THREADS = 4  # file writes wait on the disk, not the GIL: overlap them with rendering


@dataclass
class BuildReport:
    """What a site build did: files written, left unchanged and removed, and how long it took."""

    written: int = 0
    unchanged: int = 0
    removed: int = 0
    elapsed_s: float = 0.0
    releases: int = 0  # releases on the site
    parsed: int = 0  # release files read and rendered this time
    held: int = 0  # valid releases kept off the site (embargoed, or not for the website)
    written_paths: list[str] = field(default_factory=list)
    removed_paths: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"{self.releases} releases: {self.written} files written, {self.unchanged} unchanged,"
            f" {self.removed} removed in {self.elapsed_s:.2f} s"
        )


def build_site(
    sources: list[Path], out: Path, ctx: RenderContext, now: datetime | None = None
) -> BuildReport:
    """Build (or bring up to date) the static site in `out` from release files or folders.

    Raises ReleaseErrors, before writing anything, when a release is invalid or two files
    share an id. Releases embargoed past `now` or not meant for the website stay off the site.
    """
    started = time.perf_counter()
    out = Path(out)
    held = lock(out) if out.is_dir() else None
    try:
        plan = Plan(out, ctx, now or datetime.now(UTC))
        plan.load(sources)
        if held is None:
            out.mkdir(parents=True, exist_ok=True)
            held = lock(out)
        report = _Build(plan).run()
    finally:
        if held is not None:
            held.close()
    report.elapsed_s = time.perf_counter() - started
    return report


class _Build:
    """Renders, compares with the manifest, writes and deletes; then records the new manifest."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.out = plan.out
        self.ctx = plan.ctx
        self.outputs: dict[str, str] = {}
        self.listing: dict[str, str] = {}
        self.report = BuildReport(releases=len(plan.visible))
        self.report.held = len(plan.records) - len(plan.visible)
        self.report.parsed = len(set(plan.pages) | set(plan.parsed))
        self.pool = ThreadPoolExecutor(WRITE_THREADS)
        self.pending: list[Future[None]] = []

    def run(self) -> BuildReport:
        try:
            self._release_pages()
            self._flush()  # pages exist before the lists that link to them
            self._listings()
            self._flush()
        finally:
            self.pool.shutdown(wait=True)
        self._remove_stale()
        self._write_manifest()
        self.report.written = len(self.report.written_paths)
        self.report.removed = len(self.report.removed_paths)
        return self.report

    def emit(self, rel: str, data: bytes) -> None:
        """Write an output unless the same bytes are already there."""
        sig = digest(data)
        self.outputs[rel] = sig
        if self.plan.prev_outputs.get(rel) == sig and os.path.exists(self.out / rel):
            self.report.unchanged += 1
            return
        self.report.written_paths.append(rel)
        self.pending.append(self.pool.submit(write_atomic, self.out / rel, data))

    def keep(self, rel: str) -> None:
        """An output known to be current: carry it over untouched."""
        self.outputs[rel] = self.plan.prev_outputs[rel]
        self.report.unchanged += 1

    def _flush(self) -> None:
        pending, self.pending = self.pending, []
        for future in pending:
            future.result()

    def _release_pages(self) -> None:
        plan = self.plan
        for record in plan.visible:
            if record["id"] in plan.render_ids:
                self.emit(record["page"], plan.page(record["id"]))
            else:
                self.keep(record["page"])
            for row in record["images"]:
                path, file_name, mtime_ns, size, device, inode = row
                rel = f"{record['path']}{file_name}"
                sig = f"file:{mtime_ns}:{size}:{device}:{inode}:{path}"
                if plan.prev_outputs.get(rel) == sig and plan.exists(rel):
                    self.keep(rel)
                    continue
                self.outputs[rel] = sig
                self.report.written_paths.append(rel)
                # From the checked file itself, which the copy verifies again as it opens it.
                copy = self.pool.submit(copy_image_atomic, image_file(row), self.out / rel)
                self.pending.append(copy)

    def _listings(self) -> None:
        plan, ctx = self.plan, self.ctx
        lists = pages.SiteLists.of(plan.visible)
        for folder, (heading, items) in lists.pages().items():
            self._list_page(folder, heading, items)
        latest = labels_for(lists.language)["latest"]
        index = pages.render_listing(
            ctx,
            "website/index.html",
            "index.html",
            lists.language,
            latest,
            plan.visible[:INDEX_SIZE],
            **lists.index_links(),
        )
        self.emit("index.html", index.encode())
        feed_items = [(r, plan.bodies[r["id"]]) for r in plan.visible[:FEED_SIZE]]
        self.emit("feed.xml", pages.atom_feed(ctx, feed_items, lists.language))
        self.emit("sitemap.xml", pages.sitemap(ctx, plan.visible, lists.folders()))
        env = ctx.templates.html
        assert env.loader is not None
        self.emit("style.css", env.loader.get_source(env, "website/style.css")[0].encode())

    def _list_page(self, folder: str, heading: str, items: list[dict[str, Any]]) -> None:
        rel = f"{folder}index.html"
        language = pages.majority_language(items)
        key = digest("\0".join([heading, language, *(r["sig"] for r in items)]).encode())
        self.listing[rel] = key
        if self.plan.prev_listing.get(rel) == key and self.plan.exists(rel):
            self.keep(rel)
            return
        html = pages.render_listing(
            self.ctx, "website/category.html", rel, language, heading, items
        )
        self.emit(rel, html.encode())

    def _remove_stale(self) -> None:
        root = os.path.abspath(self.out)
        for rel in sorted(set(self.plan.prev_outputs) - set(self.outputs)):
            path = os.path.abspath(os.path.join(root, rel))
            if not path.startswith(root + os.sep):
                continue  # never delete outside the site, whatever the manifest says
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
            self.report.removed_paths.append(rel)
            folder = os.path.dirname(path)
            while folder != root:
                try:
                    os.rmdir(folder)  # only succeeds once the folder is empty
                except OSError:
                    break
                folder = os.path.dirname(folder)

    def _write_manifest(self) -> None:
        plan = self.plan
        row = operator.itemgetter(*ROW)
        rows = []
        for record in plan.records.values():
            record["page_sig"] = self.outputs.pop(record["page"], None)
            rows.append(row(record))
        top = {r["id"]: [r["description"], plan.bodies[r["id"]]] for r in plan.visible[:TOP_SIZE]}
        manifest = {
            "format": MANIFEST_FORMAT,
            "render_key": plan.key,
            "started_ns": plan.started_ns,
            "releases": rows,
            "outputs": self.outputs,
            "listing": self.listing,
            "top": top,
        }
        data = orjson.dumps(manifest)  # the manifest of 10,000 releases: ~5x faster than json
        write_atomic(self.out / MANIFEST_NAME, data)
