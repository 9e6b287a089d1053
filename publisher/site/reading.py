"""Reading release sources for a build: parse, validate and render each, on every CPU if it pays.

A source whose bytes (and images) are what the manifest recorded comes back as "same" without
being parsed; any other is validated (its images by publisher.media) and its page rendered
without translation links, which the plan adds afterwards for the few releases that have them.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import jinja2

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
from publisher.site import page as release_page
from publisher.site.manifest import ImageRow, digest, image_row, images_unchanged
from publisher.site.pages import release_record

MAX_WORKERS = 8
PARALLEL_MIN_FORK = 200  # sources to read before worker processes pay for themselves
PARALLEL_MIN_SPAWN = 1500  # a spawned worker first spends about a second importing

# What reading one source gives: ("error", [ReleaseError]); ("same", stamp): the content is
# unchanged; ("new", record, page bytes rendered without translation links, body HTML).
Outcome = tuple[Any, ...]
# (shown name, absolute path, the manifest's row of the last build or None)
Job = tuple[str, str, "dict[str, Any] | None"]


class Reader:
    """Reads one source file into its record and page; runs in worker processes for big builds."""

    def __init__(self, ctx: RenderContext) -> None:
        self.ctx = ctx

    def __call__(self, job: Job) -> Outcome:
        name, src, old = job
        try:
            stat = os.stat(src)
            with open(src, "rb") as handle:
                raw = handle.read()
        except OSError as exc:
            return ("error", [unreadable(name, "file", exc)])
        stamp = {"src": src, "name": name, "mtime_ns": stat.st_mtime_ns, "size": stat.st_size}
        stamp["sha"] = digest(raw)
        if old is not None and old["sha"] == stamp["sha"] and images_unchanged(old["images"]):
            return ("same", stamp)
        try:
            release, body, images = self.parse(raw, name, src)
        except ReleaseErrors as exc:
            return ("error", exc.errors)
        page, context = release_page.page_with_context(release, body, self.ctx, [])
        record = release_record(release, body, self.ctx, context) | stamp
        record |= {"images": images, "page_key": None, "page_sig": None}
        return ("new", record, page.encode(), body.html)

    def parse(self, raw: bytes, name: str, src: str) -> tuple[Release, BodyParts, list[ImageRow]]:
        """What load_release does (on bytes already read for the hash), and the body HTML."""
        folder = Path(src).parent
        release = parse_release_bytes(raw, name, base_dir=folder, is_json=src.endswith(".json"))
        images = local_images(release, name)
        html = markdown_to_html(release.body)
        # The plain text only feeds the page's description, which a lede replaces.
        text = "" if release.summary else html_to_text(html)
        return release, BodyParts(html=html, text=text), images


def local_images(release: Release, name: str) -> list[ImageRow]:
    """The release's checked image files, each published as releases/{id}/{file name}."""
    result: list[ImageRow] = []
    seen: set[str] = set()
    for index, image in enumerate(release.images):
        if image.file is None:  # a URL: validation gave every local image its checked file
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
        result.append(image_row(image.file, file_name))
    return result


def unreadable(name: str, field_name: str, exc: OSError) -> ReleaseError:
    """The problem of a file that exists but cannot be read."""
    return ReleaseError(name, field_name, f"cannot be read ({exc.strerror})", "check the file")


_WORKER: Reader | None = None


def _init_worker(ctx: RenderContext | tuple[Any, ...]) -> None:
    global _WORKER
    if isinstance(ctx, tuple):
        public_url, x_thread_max, organisation, override, extra = ctx
        templates = Templates(Path(override) if override else None)
        ctx = RenderContext(public_url, x_thread_max, organisation, templates, extra)
    _WORKER = Reader(ctx)


def _work(job: Job) -> Outcome:
    assert _WORKER is not None
    return _WORKER(job)


def read_all(jobs: list[Job], ctx: RenderContext) -> list[Outcome]:
    """Read sources, on every CPU when there are enough of them to repay starting workers."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    workers = min(cpus or 1, MAX_WORKERS)
    method, init = _start_method(ctx)
    needed = PARALLEL_MIN_FORK if method == "fork" else PARALLEL_MIN_SPAWN
    if workers < 2 or init is None or len(jobs) < needed:
        reader = Reader(ctx)
        return [reader(job) for job in jobs]
    if method == "fork":  # compile templates and load locale data once, before the workers copy
        reader = Reader(ctx)
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
