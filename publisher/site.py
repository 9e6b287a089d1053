"""The static website: release pages, index, category and month pages, Atom feed, sitemap.

A build is incremental. `.publisher-manifest.json` in the output folder remembers every source
file (mtime, size, hash), the listing fields of every release, and the hash of every output, so
a rebuild parses only changed files, renders only the pages they touch, rewrites only files whose
bytes changed, and deletes the pages of releases that are gone. Nothing is written unless every
release is valid. Every write is atomic (temp file in the same folder, fsync, os.replace), so a
web server never serves half a page.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import IO, Any

from babel.dates import format_skeleton

from publisher.channels import website
from publisher.channels.website import (
    Translation,
    atom_feed,
    category_path,
    description_of,
    sitemap,
)
from publisher.errors import ReleaseError, ReleaseErrors
from publisher.release import Release, locale_for, parse_release_bytes
from publisher.render import BodyParts, RenderContext, body_parts, format_release_date
from publisher.settings import get_settings

MANIFEST_NAME = ".publisher-manifest.json"
LOCK_NAME = ".publisher-lock"
MANIFEST_FORMAT = 1
INDEX_SIZE = 50  # newest releases on the home page; categories and months hold the rest
FEED_SIZE = 50
WRITE_THREADS = 4  # fsync waits on the disk, not the GIL: overlap it with rendering
SOURCE_SUFFIXES = (".md", ".json")
SKIPPED_NAMES = {"readme.md"}
CODE_FILES = ("site.py", "render.py", "release.py", "channels/website.py")


@dataclass
class BuildReport:
    """What a site build did: files written, left unchanged and removed, and how long it took."""

    written: int = 0
    unchanged: int = 0
    removed: int = 0
    elapsed_s: float = 0.0
    releases: int = 0  # releases on the site
    parsed: int = 0  # source files read and validated this time
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
    lock = _lock(out) if out.is_dir() else None
    try:
        plan = _Plan(out, ctx, now or datetime.now(UTC))
        plan.load(sources)
        if lock is None:
            out.mkdir(parents=True, exist_ok=True)
            lock = _lock(out)
        report = _Build(plan).run()
    finally:
        if lock is not None:
            lock.close()
    report.elapsed_s = time.perf_counter() - started
    return report


def write_atomic(path: Path, data: bytes) -> None:
    """Replace `path` with `data` so that readers see the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    # Mode 0o666 under the umask (mkstemp's 0o600 would hide the page from the web server).
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def copy_atomic(source: Path, path: Path) -> None:
    """Copy a file (an image) into the site atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as handle, source.open("rb") as src:
            shutil.copyfileobj(src, handle, 1 << 20)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def find_sources(sources: Iterable[Path], out: Path | None = None) -> list[tuple[str, Path]]:
    """Every release file named or found (recursively, *.md and *.json) as (display name, path).

    Hidden files and folders, README.md files and the output folder itself are skipped.
    """
    found: list[tuple[str, Path]] = []
    errors: list[ReleaseError] = []
    skip = os.path.abspath(out) if out is not None else None
    for source in sources:
        source = Path(source)
        if source.is_file():
            found.append((str(source), source))
        elif source.is_dir():
            for folder, dirs, files in os.walk(source):
                dirs[:] = sorted(
                    d
                    for d in dirs
                    if not d.startswith(".") and os.path.abspath(os.path.join(folder, d)) != skip
                )
                for name in sorted(files):
                    lower = name.lower()
                    if name.startswith(".") or lower in SKIPPED_NAMES:
                        continue
                    if lower.endswith(SOURCE_SUFFIXES):
                        path = os.path.join(folder, name)
                        found.append((path, Path(path)))
        else:
            errors.append(
                ReleaseError(str(source), "file", "no such file or folder", "check the path")
            )
    if errors:
        raise ReleaseErrors(errors)
    return found


def _lock(out: Path) -> IO[str]:
    """Hold the output folder's lock: two builds at once would undo each other's manifest."""
    handle = open(out / LOCK_NAME, "a")  # closed by build_site
    fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
    return handle


def _digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def render_key(ctx: RenderContext) -> str:
    """A hash of everything besides a release that shapes its page: settings, code, templates."""
    parts = [str(MANIFEST_FORMAT), ctx.public_url, ctx.organisation]
    parts.append(get_settings().publisher_timezone)
    package = Path(__file__).parent
    parts += [_digest((package / name).read_bytes()) for name in CODE_FILES]
    env = ctx.templates.html
    if env.loader is not None:
        for name in sorted(n for n in env.list_templates() if n.startswith("website/")):
            parts += [name, env.loader.get_source(env, name)[0]]
    return _digest("\0".join(parts).encode())


def release_record(release: Release, body: BodyParts, ctx: RenderContext) -> dict[str, Any]:
    """What the index, category pages, feed and sitemap need of a release (kept in the manifest)."""
    page = ctx.page_path(release)
    record: dict[str, Any] = {
        "id": release.id,
        "title": release.title,
        "date": release.date.isoformat(),
        "ts": release.date.timestamp(),
        "date_text": format_release_date(release.date, release.language),
        "language": release.language,
        "dir": release.direction,
        "description": description_of(release, body.text),
        "category": release.category,
        "month": f"{release.date:%Y/%m}",
        "translation_of": release.translation_of,
        "page": page,
        "path": page.removesuffix("index.html"),
        "url": ctx.page_url(release),
        "web": "website" in release.channels,
        "publish_ts": release.publish_at.timestamp() if release.publish_at else None,
    }
    listed = ("title", "date", "date_text", "language", "description", "category", "path")
    record["sig"] = _digest(json.dumps([record[k] for k in listed]).encode())
    return record


def month_name(month: str, language: str) -> str:
    """'2020/02' as 'February 2020' in a language."""
    year, number = month.split("/")
    return format_skeleton("yMMMM", date(int(year), int(number), 1), locale=locale_for(language))


class _Plan:
    """The read-only half of a build: find, parse and validate sources; decide what to render."""

    def __init__(self, out: Path, ctx: RenderContext, now: datetime) -> None:
        self.out = out
        self.ctx = ctx
        self.now_ts = now.timestamp()
        self.key = render_key(ctx)
        manifest = _read_manifest(out)
        self.prev_outputs: dict[str, str] = manifest.get("outputs", {})
        fresh = manifest.get("render_key") == self.key
        self.prev_sources: dict[str, Any] = manifest.get("sources", {}) if fresh else {}
        self.prev_records: dict[str, Any] = manifest.get("releases", {}) if fresh else {}
        self.prev_listing: dict[str, str] = manifest.get("listing", {}) if fresh else {}
        self.prev_feed: dict[str, str] = manifest.get("feed", {}) if fresh else {}
        self.sources: dict[str, Any] = {}
        self.source_of: dict[str, dict[str, Any]] = {}
        self.records: dict[str, dict[str, Any]] = {}
        self.parsed: dict[str, tuple[Release, BodyParts]] = {}
        self.errors: list[ReleaseError] = []
        self.visible: list[dict[str, Any]] = []
        self.versions: dict[str, list[Translation]] = {}
        self.render_ids: list[str] = []
        self.feed_ids: list[str] = []

    def load(self, sources: list[Path]) -> None:
        """Read every source, reusing the manifest where a file has not changed."""
        owner: dict[str, str] = {}
        found = find_sources(sources, self.out)
        for name, path in found:
            record, entry = self._source(name, path)
            if record is None or entry is None:
                continue
            rid = record["id"]
            if rid in owner:
                self.errors.append(
                    ReleaseError(
                        name,
                        "id",
                        f"{rid!r} is already the id of {owner[rid]}",
                        "give one of the two releases another id",
                    )
                )
                continue
            owner[rid] = name
            self.records[rid] = record
            self.sources[entry["abs"]] = entry
            self.source_of[rid] = entry
        if not self.errors:
            self._decide()
        if self.errors:
            raise ReleaseErrors(self.errors)

    def _source(self, name: str, path: Path) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        absolute = os.path.abspath(path)
        try:
            stat = path.stat()
        except OSError as exc:
            self.errors.append(ReleaseError(name, "file", f"cannot be read ({exc})", "check it"))
            return None, None
        old = self.prev_sources.get(absolute)
        if old is not None and _images_unchanged(old["images"]):
            record = self.prev_records.get(old["id"])
            if record is not None and (old["mtime_ns"], old["size"]) == (
                stat.st_mtime_ns,
                stat.st_size,
            ):
                return record, {**old, "name": name}
        try:
            raw = path.read_bytes()
        except OSError as exc:
            self.errors.append(ReleaseError(name, "file", f"cannot be read ({exc})", "check it"))
            return None, None
        sha = _digest(raw)
        stamp = {"mtime_ns": stat.st_mtime_ns, "size": stat.st_size, "name": name}
        if old is not None and old["sha"] == sha and _images_unchanged(old["images"]):
            record = self.prev_records.get(old["id"])
            if record is not None:
                return record, {**old, **stamp}
        release = self._parse(raw, name, path)
        if release is None:
            return None, None
        images = self._local_images(release, path.parent, name)
        if images is None:
            return None, None
        body = body_parts(release)
        self.parsed[release.id] = (release, body)
        record = release_record(release, body, self.ctx)
        record["sha"] = sha
        entry = {"abs": absolute, "id": release.id, "sha": sha, "images": images, **stamp}
        return record, entry

    def _parse(self, raw: bytes, name: str, path: Path) -> Release | None:
        try:
            # What load_release does, on bytes already read for the hash.
            return parse_release_bytes(
                raw, name, base_dir=path.parent, is_json=path.suffix == ".json"
            )
        except ReleaseErrors as exc:
            self.errors.extend(exc.errors)
            return None

    def _local_images(self, release: Release, folder: Path, name: str) -> list[list[Any]] | None:
        """The release's own image files, each published as releases/{id}/{file name}."""
        result: list[list[Any]] = []
        seen: set[str] = set()
        for index, image in enumerate(release.images):
            if image.is_url:
                continue
            file_name = Path(image.src).name
            where = f"images[{index}].src"
            if file_name in seen or file_name == "index.html" or file_name.startswith("."):
                self.errors.append(
                    ReleaseError(
                        name,
                        where,
                        f"file name {file_name!r} is already taken on the release's page",
                        "rename the image file",
                    )
                )
                return None
            seen.add(file_name)
            source = folder / image.src
            stat = source.stat()
            result.append([os.path.abspath(source), file_name, stat.st_mtime_ns, stat.st_size])
        return result

    def _decide(self) -> None:
        """Which releases are on the site, which pages to render, what the feed needs."""
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
            versions: list[Translation] = []
            original = visible.get(record["translation_of"] or "")
            family = [original] if original is not None else []
            family += translations.get(record["translation_of"] or "", [])
            family += translations.get(record["id"], [])
            for other in family:
                if other["id"] != record["id"]:
                    versions.append(
                        Translation(
                            other["id"], other["language"], other["title"], other is original
                        )
                    )
            self.versions[record["id"]] = versions
            page_key = _digest(json.dumps([record["sha"], [vars(v) for v in versions]]).encode())
            stale = record.get("page_key") != page_key
            if record["id"] in self.parsed or stale or not self._exists(record["page"]):
                self.render_ids.append(record["id"])
            record["page_key"] = page_key
        self.feed_ids = [r["id"] for r in self.visible[:FEED_SIZE]]
        rendered = set(self.render_ids)
        for rid in self.render_ids + self.feed_ids:
            if rid not in self.parsed and (rid in rendered or rid not in self.prev_feed):
                self._reparse(rid)

    def _reparse(self, rid: str) -> None:
        """Parse an unchanged source again (its page must be re-rendered)."""
        entry = self.source_of[rid]
        path = Path(entry["abs"])
        release = self._parse(path.read_bytes(), entry["name"], path)
        if release is not None:
            self.parsed[rid] = (release, body_parts(release))

    def _exists(self, rel: str) -> bool:
        return rel in self.prev_outputs and os.path.exists(self.out / rel)


class _Build:
    """The writing half of a build: render, compare with the manifest, write, delete."""

    def __init__(self, plan: _Plan) -> None:
        self.plan = plan
        self.out = plan.out
        self.ctx = plan.ctx
        self.outputs: dict[str, str] = {}
        self.listing: dict[str, str] = {}
        self.report = BuildReport(releases=len(plan.visible))
        self.report.held = len(plan.records) - len(plan.visible)
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
        self.report.parsed = len(self.plan.parsed)
        return self.report

    def emit(self, rel: str, data: bytes) -> None:
        """Write an output unless the same bytes are already there."""
        sig = _digest(data)
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
        render = set(plan.render_ids)
        for record in plan.visible:
            rid = record["id"]
            if rid in render:
                release, body = plan.parsed[rid]
                page = website.render_page(release, body, self.ctx, plan.versions[rid])
                self.emit(record["page"], page.encode())
            else:
                self.keep(record["page"])
            for absolute, file_name, mtime_ns, size in plan.source_of[rid]["images"]:
                rel = f"{record['path']}{file_name}"
                sig = f"file:{mtime_ns}:{size}:{absolute}"
                self.outputs[rel] = sig
                if plan.prev_outputs.get(rel) == sig and os.path.exists(self.out / rel):
                    self.report.unchanged += 1
                else:
                    self.report.written_paths.append(rel)
                    self.pending.append(
                        self.pool.submit(copy_atomic, Path(absolute), self.out / rel)
                    )

    def _listings(self) -> None:
        plan, ctx = self.plan, self.ctx
        visible = plan.visible
        language = _majority_language(visible)
        categories: dict[str, list[dict[str, Any]]] = defaultdict(list)
        months: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for record in visible:
            if record["category"]:
                categories[category_path(record["category"])].append(record)
            months[f"archive/{record['month']}/"].append(record)
        category_links = sorted(
            (
                {"name": items[0]["category"], "path": folder, "count": len(items)}
                for folder, items in categories.items()
            ),
            key=lambda c: (str(c["name"]).casefold(), c["path"]),
        )
        month_links = [
            {"name": month_name(folder[8:-1], language), "path": folder, "count": len(items)}
            for folder, items in sorted(months.items(), reverse=True)
        ]
        for folder, items in categories.items():
            self._list_page(folder, items[0]["category"], items)
        for folder, items in months.items():
            self._list_page(folder, month_name(folder[8:-1], _majority_language(items)), items)
        index = website.render_listing(
            ctx,
            "website/index.html",
            "index.html",
            language,
            website.labels_for(language)["latest"],
            visible[:INDEX_SIZE],
            categories=category_links,
            months=month_links,
        )
        self.emit("index.html", index.encode())
        feed_items = [(r, self._feed_content(r["id"])) for r in visible[:FEED_SIZE]]
        self.emit("feed.xml", atom_feed(ctx, feed_items, language))
        folders = [(folder, items[0]["date"]) for folder, items in categories.items()]
        folders += [(folder, items[0]["date"]) for folder, items in sorted(months.items())]
        self.emit("sitemap.xml", sitemap(ctx, visible, folders))
        env = ctx.templates.html
        assert env.loader is not None
        css = env.loader.get_source(env, "website/style.css")[0]
        self.emit("style.css", css.encode())

    def _list_page(self, folder: str, heading: str, items: list[dict[str, Any]]) -> None:
        rel = f"{folder}index.html"
        language = _majority_language(items)
        key = _digest("\0".join([heading, language, *(r["sig"] for r in items)]).encode())
        self.listing[rel] = key
        if self.plan.prev_listing.get(rel) == key and self.plan._exists(rel):
            self.keep(rel)
            return
        html = website.render_listing(
            self.ctx, "website/category.html", rel, language, heading, items
        )
        self.emit(rel, html.encode())

    def _feed_content(self, rid: str) -> str:
        parsed = self.plan.parsed.get(rid)
        return parsed[1].html if parsed is not None else self.plan.prev_feed[rid]

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
        manifest = {
            "format": MANIFEST_FORMAT,
            "render_key": plan.key,
            "sources": plan.sources,
            "releases": plan.records,
            "outputs": self.outputs,
            "listing": self.listing,
            "feed": {rid: self._feed_content(rid) for rid in plan.feed_ids},
        }
        data = json.dumps(manifest, ensure_ascii=False, separators=(",", ":")).encode()
        write_atomic(self.out / MANIFEST_NAME, data)


def _read_manifest(out: Path) -> dict[str, Any]:
    try:
        data = json.loads((out / MANIFEST_NAME).read_bytes())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
        return {}
    return data


def _images_unchanged(images: list[list[Any]]) -> bool:
    for absolute, _name, mtime_ns, size in images:
        try:
            stat = os.stat(absolute)
        except OSError:
            return False
        if (stat.st_mtime_ns, stat.st_size) != (mtime_ns, size):
            return False
    return True


def _majority_language(records: list[dict[str, Any]]) -> str:
    """The language most of a page's releases are in (ties: the newest's): the page's chrome."""
    if not records:
        return "en"
    counts = Counter(r["language"] for r in records)
    top = max(counts.values())
    return str(next(r["language"] for r in records if counts[r["language"]] == top))
