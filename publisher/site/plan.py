"""The read-only half of a build: find, parse and validate sources; decide what to render.

Nothing is written here, so a build that finds one invalid release leaves the site untouched.
"""

from __future__ import annotations

import os
import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

from publisher.errors import ReleaseError, ReleaseErrors
from publisher.release import Release
from publisher.render import BodyParts, RenderContext
from publisher.site import page as release_page
from publisher.site.files import find_sources
from publisher.site.manifest import digest, read_manifest, render_key, stat_matches
from publisher.site.page import Translation
from publisher.site.reading import Job, Outcome, Reader, read_all, unreadable

INDEX_SIZE = 50  # newest releases on the home page; category and month pages hold the rest
FEED_SIZE = 50
TOP_SIZE = max(INDEX_SIZE, FEED_SIZE)  # their lede and body are kept in the manifest
# A file changed within this long before the last build started may share its mtime with
# the version that build read (coarse file system clocks): such files are hashed, not trusted.
RACY_NS = 2_000_000_000


class Plan:
    """What one build will do: every release's record, and which pages must be rendered."""

    def __init__(self, out: Path, ctx: RenderContext, now: datetime) -> None:
        self.out = out
        self.ctx = ctx
        self.now_ts = now.timestamp()
        self.started_ns = time.time_ns()
        self.key = render_key(ctx)
        manifest, rows = read_manifest(out)
        self.prev_outputs: dict[str, str] = dict(manifest.get("outputs", {}))
        self.prev_outputs |= {row["page"]: row["page_sig"] for row in rows if row["page_sig"]}
        fresh = manifest.get("render_key") == self.key
        self.prev: dict[str, dict[str, Any]] = {row["src"]: row for row in rows} if fresh else {}
        self.prev_listing: dict[str, str] = manifest.get("listing", {}) if fresh else {}
        self.prev_top: dict[str, list[str]] = manifest.get("top", {}) if fresh else {}
        self.trusted_ns = manifest.get("started_ns", 0) - RACY_NS
        self.records: dict[str, dict[str, Any]] = {}
        self.pages: dict[str, bytes] = {}
        self.bodies: dict[str, str] = {}
        self.parsed: dict[str, tuple[Release, BodyParts]] = {}
        self.errors: list[ReleaseError] = []
        self.visible: list[dict[str, Any]] = []
        self.versions: dict[str, list[Translation]] = {}
        self.render_ids: set[str] = set()
        self._folders: dict[str, set[str]] = {}

    def load(self, sources: list[Path]) -> None:
        """Read every source, reusing the manifest's row where a file has not changed."""
        found = find_sources(sources, self.out)
        outcomes: list[Outcome | None] = []
        jobs: list[Job] = []
        slots: list[int] = []
        for name, src in found:
            old = self.prev.get(src)
            if old is not None and old["mtime_ns"] < self.trusted_ns and stat_matches(src, old):
                outcomes.append(("same", {"name": name}))
            else:
                slots.append(len(outcomes))
                outcomes.append(None)
                jobs.append((name, src, old))
        for slot, result in zip(slots, read_all(jobs, self.ctx), strict=True):
            outcomes[slot] = result
        owner: dict[str, str] = {}
        for (name, src), outcome in zip(found, outcomes, strict=True):
            assert outcome is not None
            if outcome[0] == "error":
                self.errors.extend(outcome[1])
                continue
            if outcome[0] == "same":  # the manifest's row, under the name given this time
                record = self.prev[src]
                record["name"] = outcome[1]["name"]
            else:
                record = outcome[1]
            rid = record["id"]
            if rid in owner:
                problem = f"{rid!r} is already the id of {owner[rid]}"
                fix = "give one of the two releases another id"
                self.errors.append(ReleaseError(name, "id", problem, fix))
                continue
            owner[rid] = name
            self.records[rid] = record
            if outcome[0] == "new":
                self.pages[rid], self.bodies[rid] = outcome[2], outcome[3]
        if not self.errors:
            self._decide()
        if self.errors:
            raise ReleaseErrors(self.errors)

    def _decide(self) -> None:
        """Which releases are on the site, which pages to render, what the lists need."""
        visible = {
            rid: r
            for rid, r in self.records.items()
            if r["web"] and (r["publish_ts"] is None or r["publish_ts"] <= self.now_ts)
        }
        self.visible = sorted(visible.values(), key=lambda r: (-r["ts"], r["id"]))
        translations: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for record in self.visible:
            if record["translation_of"] in visible:
                translations[record["translation_of"]].append(record)
        for record in self.visible:
            rid = record["id"]
            versions: list[Translation] = []
            if record["translation_of"] or rid in translations:
                original = visible.get(record["translation_of"] or "")
                family = [original] if original is not None else []
                family += translations.get(record["translation_of"] or "", [])
                family += translations.get(rid, [])
                versions = [
                    Translation(other["id"], other["language"], other["title"], other is original)
                    for other in family
                    if other["id"] != rid
                ]
            self.versions[rid] = versions
            page_key = record["sha"]
            if versions:  # the page shows the other versions' titles: they are inputs too
                fields = [page_key] + [
                    f"{v.id}\1{v.language}\1{v.title}\1{v.is_original}" for v in versions
                ]
                page_key = digest("\0".join(fields).encode())
            if rid in self.pages or record.get("page_key") != page_key:
                self.render_ids.add(rid)
            elif not self.exists(record["page"]):
                self.render_ids.add(rid)
            if rid in self.render_ids and (versions or rid not in self.pages):
                self._reparse(rid)
            record["page_key"] = page_key
        for record in self.visible[:TOP_SIZE]:
            rid = record["id"]
            if rid not in self.bodies:
                if rid in self.prev_top:
                    record["description"], self.bodies[rid] = self.prev_top[rid]
                else:
                    self._reparse(rid)

    def _reparse(self, rid: str) -> None:
        """Parse a source again here (its page needs what a worker did not know)."""
        record = self.records[rid]
        name, src = record["name"], record["src"]
        try:
            with open(src, "rb") as handle:
                release, body, images = Reader(self.ctx).parse(handle.read(), name, src)
        except ReleaseErrors as exc:
            self.errors.extend(exc.errors)
            return
        except OSError as exc:
            self.errors.append(unreadable(name, "file", exc))
            return
        # The images as checked now: what is copied must be what was checked last.
        record["images"] = images
        self.parsed[rid] = (release, body)
        self.bodies[rid] = body.html
        record["description"] = release_page.description_of(release, body.text)

    def page(self, rid: str) -> bytes:
        """The page of a release that must be rendered."""
        versions = self.versions[rid]
        if not versions and rid in self.pages:
            return self.pages[rid]
        release, body = self.parsed[rid]
        return release_page.render_page(release, body, self.ctx, versions).encode()

    def exists(self, rel: str) -> bool:
        """Whether an output of the last build is still there (its folder is, at least).

        One listing per folder instead of a stat per page keeps a 10,000-page rebuild fast.
        """
        if rel not in self.prev_outputs:
            return False
        folder, _, leaf = rel.rpartition("/")
        if folder:
            parent, _, leaf = folder.rpartition("/")
        else:
            parent = ""
        names = self._folders.get(parent)
        if names is None:
            try:
                names = set(os.listdir(self.out / parent))
            except OSError:
                names = set()
            self._folders[parent] = names
        return leaf in names
