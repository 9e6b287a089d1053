"""The static website: release pages, index, category and month pages, Atom feed, sitemap.

A build is incremental. `.publisher-manifest.json` in the output folder keeps one row per
release (its listing fields, its source file's mtime, size and hash, its page's hash) and the
hash of every other output, so a rebuild reads only changed files, renders only the pages they
touch, rewrites only files whose bytes changed, and deletes the pages of releases that are gone.
Nothing is written unless every release is valid. Every write is atomic (temp file in the same
folder, then os.replace), so a web server never serves half a page.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import multiprocessing
import operator
import os
import shutil
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, BinaryIO

import jinja2
import orjson

from publisher.channels import website
from publisher.channels.website import Translation, atom_feed, sitemap
from publisher.errors import ReleaseError, ReleaseErrors
from publisher.release import Release, parse_release_bytes
from publisher.render import (
    BUILTIN_TEMPLATES,
    BodyParts,
    RenderContext,
    Templates,
    html_to_text,
    markdown_to_html,
)
from publisher.settings import get_settings

MANIFEST_NAME = ".publisher-manifest.json"
LOCK_NAME = ".publisher-lock"
MANIFEST_FORMAT = 2
INDEX_SIZE = 50  # newest releases on the home page; category and month pages hold the rest
FEED_SIZE = 50
TOP_SIZE = max(INDEX_SIZE, FEED_SIZE)  # their lede and body are kept in the manifest
WRITE_THREADS = 4  # file writes wait on the disk, not the GIL: overlap them with rendering
MAX_WORKERS = 8
PARALLEL_MIN_FORK = 200  # sources to read before worker processes pay for themselves
PARALLEL_MIN_SPAWN = 1500  # a spawned worker first spends about a second importing
# A file changed within this long before the last build started may share its mtime with
# the version that build read (coarse file system clocks): such files are hashed, not trusted.
RACY_NS = 2_000_000_000
SOURCE_SUFFIXES = (".md", ".json")
SKIPPED_NAMES = {"readme.md"}
CODE_FILES = ("site.py", "render.py", "release.py", "channels/website.py")
# A manifest row: the fields of website.release_record (but the lede), then the source and page.
ROW = (
    "id", "title", "date", "ts", "date_text", "language", "dir", "category", "month",
    "translation_of", "page", "path", "url", "web", "publish_ts", "sig",
    "src", "name", "mtime_ns", "size", "sha", "images", "page_key", "page_sig",
)  # fmt: skip


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
    _replace(path, lambda handle: handle.write(data))


def copy_atomic(source: Path, path: Path) -> None:
    """Copy a file (an image) into the site atomically."""

    def fill(handle: BinaryIO) -> None:
        with source.open("rb") as src:
            shutil.copyfileobj(src, handle, 1 << 20)

    _replace(path, fill)


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


def _digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=12).hexdigest()


def _lock(out: Path) -> IO[str]:
    """Hold the output folder's lock: two builds at once would undo each other's manifest."""
    handle = open(out / LOCK_NAME, "a")  # closed by build_site
    fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
    return handle


# What reading one source gives: ("error", [ReleaseError]); ("same", stamp): the content is
# unchanged; ("new", record, page bytes rendered without translation links, body HTML).
_Outcome = tuple[Any, ...]
_Job = tuple[str, str, "dict[str, Any] | None"]


class _Reader:
    """Reads one source file into its record and page; runs in worker processes for big builds."""

    def __init__(self, ctx: RenderContext) -> None:
        self.ctx = ctx

    def __call__(self, job: _Job) -> _Outcome:
        name, src, old = job
        try:
            stat = os.stat(src)
            with open(src, "rb") as handle:
                raw = handle.read()
        except OSError as exc:
            return ("error", [_unreadable(name, "file", exc)])
        stamp = {"src": src, "name": name, "mtime_ns": stat.st_mtime_ns, "size": stat.st_size}
        stamp["sha"] = _digest(raw)
        if old is not None and old["sha"] == stamp["sha"] and _images_unchanged(old["images"]):
            return ("same", stamp)
        try:
            release, body, images = self.parse(raw, name, src)
        except ReleaseErrors as exc:
            return ("error", exc.errors)
        context = website.page_context(release, body, self.ctx, [])
        page = self.ctx.templates.render_html("website/release.html", **context).encode()
        record = website.release_record(release, body, self.ctx, context) | stamp
        record |= {"images": images, "page_key": None, "page_sig": None}
        return ("new", record, page, body.html)

    def parse(self, raw: bytes, name: str, src: str) -> tuple[Release, BodyParts, list[Any]]:
        """What load_release does (on bytes already read for the hash), and the body HTML."""
        folder = Path(src).parent
        release = parse_release_bytes(raw, name, base_dir=folder, is_json=src.endswith(".json"))
        images = _local_images(release, folder, name)
        html = markdown_to_html(release.body)
        # The plain text only feeds the page's description, which a lede replaces.
        text = "" if release.summary else html_to_text(html)
        return release, BodyParts(html=html, text=text), images


_WORKER: _Reader | None = None


def _init_worker(ctx: RenderContext | tuple[Any, ...]) -> None:
    global _WORKER
    if isinstance(ctx, tuple):
        public_url, x_thread_max, organisation, override, extra = ctx
        templates = Templates(Path(override) if override else None)
        ctx = RenderContext(public_url, x_thread_max, organisation, templates, extra)
    _WORKER = _Reader(ctx)


def _work(job: _Job) -> _Outcome:
    assert _WORKER is not None
    return _WORKER(job)


def _read_all(jobs: list[_Job], ctx: RenderContext) -> list[_Outcome]:
    """Read sources, on every CPU when there are enough of them to repay starting workers."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    workers = min(cpus or 1, MAX_WORKERS)
    method, init = _start_method(ctx)
    needed = PARALLEL_MIN_FORK if method == "fork" else PARALLEL_MIN_SPAWN
    if workers < 2 or init is None or len(jobs) < needed:
        reader = _Reader(ctx)
        return [reader(job) for job in jobs]
    if method == "fork":  # compile templates and load locale data once, before the workers copy
        reader = _Reader(ctx)
        for job in jobs[:1]:
            reader(job)
    context = multiprocessing.get_context(method)
    with ProcessPoolExecutor(workers, context, initializer=_init_worker, initargs=(init,)) as pool:
        return list(pool.map(_work, jobs, chunksize=max(1, len(jobs) // (workers * 8))))


def _start_method(ctx: RenderContext) -> tuple[str, RenderContext | tuple[Any, ...] | None]:
    """Fork (cheap) from a single-threaded process; otherwise spawn with a rebuildable context."""
    if "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1:
        return "fork", ctx
    loader = ctx.templates.html.loader
    if not isinstance(loader, jinja2.FileSystemLoader):
        return "spawn", None
    paths = [str(p) for p in loader.searchpath]
    if paths[-1] != str(BUILTIN_TEMPLATES) or len(paths) > 2:
        return "spawn", None
    override = paths[0] if len(paths) == 2 else None
    return "spawn", (ctx.public_url, ctx.x_thread_max, ctx.organisation, override, ctx.extra)


def _local_images(release: Release, folder: Path, name: str) -> list[Any]:
    """The release's own image files, each published as releases/{id}/{file name}."""
    result: list[Any] = []
    seen: set[str] = set()
    for index, image in enumerate(release.images):
        if image.is_url:
            continue
        file_name = Path(image.src).name
        problem = ""
        if file_name in seen:
            problem = f"another image of this release is also named {file_name!r}"
        elif file_name == "index.html" or file_name.startswith("."):
            problem = f"{file_name!r} cannot be published beside the release's page"
        if problem:
            error = ReleaseError(name, f"images[{index}].src", problem, "rename the image file")
            raise ReleaseErrors([error])
        seen.add(file_name)
        source = folder / image.src
        try:
            stat = source.stat()
        except OSError as exc:
            raise ReleaseErrors([_unreadable(name, f"images[{index}].src", exc)]) from None
        result.append([os.path.abspath(source), file_name, stat.st_mtime_ns, stat.st_size])
    return result


class _Plan:
    """The read-only half of a build: find, parse and validate sources; decide what to render."""

    def __init__(self, out: Path, ctx: RenderContext, now: datetime) -> None:
        self.out = out
        self.ctx = ctx
        self.now_ts = now.timestamp()
        self.started_ns = time.time_ns()
        self.key = render_key(ctx)
        manifest, rows = _read_manifest(out)
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
        outcomes: list[_Outcome | None] = []
        jobs: list[_Job] = []
        slots: list[int] = []
        for name, src in found:
            old = self.prev.get(src)
            if old is not None and old["mtime_ns"] < self.trusted_ns and _stat_matches(src, old):
                outcomes.append(("same", {"name": name}))
            else:
                slots.append(len(outcomes))
                outcomes.append(None)
                jobs.append((name, src, old))
        for slot, result in zip(slots, _read_all(jobs, self.ctx), strict=True):
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
                page_key = _digest("\0".join(fields).encode())
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
                release, body, _images = _Reader(self.ctx).parse(handle.read(), name, src)
        except ReleaseErrors as exc:
            self.errors.extend(exc.errors)
            return
        except OSError as exc:
            self.errors.append(_unreadable(name, "file", exc))
            return
        self.parsed[rid] = (release, body)
        self.bodies[rid] = body.html
        record["description"] = website.description_of(release, body.text)

    def page(self, rid: str) -> bytes:
        """The page of a release that must be rendered."""
        versions = self.versions[rid]
        if not versions and rid in self.pages:
            return self.pages[rid]
        release, body = self.parsed[rid]
        return website.render_page(release, body, self.ctx, versions).encode()

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
        for record in plan.visible:
            if record["id"] in plan.render_ids:
                self.emit(record["page"], plan.page(record["id"]))
            else:
                self.keep(record["page"])
            for absolute, file_name, mtime_ns, size in record["images"]:
                rel = f"{record['path']}{file_name}"
                sig = f"file:{mtime_ns}:{size}:{absolute}"
                if plan.prev_outputs.get(rel) == sig and plan.exists(rel):
                    self.keep(rel)
                    continue
                self.outputs[rel] = sig
                self.report.written_paths.append(rel)
                self.pending.append(self.pool.submit(copy_atomic, Path(absolute), self.out / rel))

    def _listings(self) -> None:
        plan, ctx = self.plan, self.ctx
        lists = website.SiteLists.of(plan.visible)
        for folder, (heading, items) in lists.pages().items():
            self._list_page(folder, heading, items)
        latest = website.labels_for(lists.language)["latest"]
        index = website.render_listing(
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
        self.emit("feed.xml", atom_feed(ctx, feed_items, lists.language))
        self.emit("sitemap.xml", sitemap(ctx, plan.visible, lists.folders()))
        env = ctx.templates.html
        assert env.loader is not None
        self.emit("style.css", env.loader.get_source(env, "website/style.css")[0].encode())

    def _list_page(self, folder: str, heading: str, items: list[dict[str, Any]]) -> None:
        rel = f"{folder}index.html"
        language = website.majority_language(items)
        key = _digest("\0".join([heading, language, *(r["sig"] for r in items)]).encode())
        self.listing[rel] = key
        if self.plan.prev_listing.get(rel) == key and self.plan.exists(rel):
            self.keep(rel)
            return
        html = website.render_listing(
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


def _read_manifest(out: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
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


def _unreadable(name: str, field_name: str, exc: OSError) -> ReleaseError:
    return ReleaseError(name, field_name, f"cannot be read ({exc.strerror})", "check the file")


def _same_stat(path: str, mtime_ns: int, size: int) -> bool:
    try:
        stat = os.stat(path)
    except OSError:
        return False
    return stat.st_mtime_ns == mtime_ns and stat.st_size == size


def _stat_matches(src: str, row: dict[str, Any]) -> bool:
    return _same_stat(src, row["mtime_ns"], row["size"]) and _images_unchanged(row["images"])


def _images_unchanged(images: list[list[Any]]) -> bool:
    if not images:  # most releases: no generator to set up, 10,000 times over
        return True
    return all(_same_stat(path, mtime_ns, size) for path, _name, mtime_ns, size in images)
