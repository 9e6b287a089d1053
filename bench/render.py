"""Rendering benchmarks: one release to every channel, and the static site at 1,000-10,000 releases.

Targets (from the design): one release to all four channels under 50 ms; a fresh 10,000-release
site under 20 s; adding one release to it under 0.5 s.
"""

from __future__ import annotations

import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import nh3
import yaml
from markdown_it import MarkdownIt

from bench.common import (
    REPO_ROOT,
    Section,
    Timing,
    children_peak_rss_mb,
    cpu_count,
    cpu_s,
    fmt_int,
    fmt_mb,
    fmt_ratio,
    fmt_runs,
    fmt_s,
    fmt_spread,
    load_average,
    median_of,
    medians_interleaved,
    peak_rss_mb,
    reset_peak_rss,
    timed,
    verdict,
)
from publisher import channels
from publisher.release import Release, load_release
from publisher.render import RenderContext, Templates, body_parts
from publisher.services import render_all
from publisher.site import BuildReport, build_site

SEED = 20200211
EXAMPLES = REPO_ROOT / "examples" / "releases"
SEED_EXAMPLE = (
    EXAMPLES / "2020-02-11-the-assad-regime-forces-on-tuesday-launched-a-deadly-attack.md"
)
ARABIC_EXAMPLE = EXAMPLES / "2020-02-11-idlib-attack-statement-ar.md"
LONG_WORDS = 20_000
RENDER_TARGET_S = 0.050
SITE_TARGET_S = 20.0
ADD_TARGET_S = 0.5

EN_WORDS = """
the assad regime forces on tuesday launched deadly attack claiming lives of dozens civilians and
injuring more when jets bombed residential neighborhoods in city idlib industrial zone with
several missiles bombing also caused massive destruction while civil defense teams rushed to
site rescue victims every time russia suffer losses whether political or military they exact
revenge innocent for past years syrian people have been showing legendary resistance face
murder criminality machine iran despite continued inaction by international community its
refusal shoulder responsibilities coalition delegation met envoy berlin discussed latest
developments humanitarian situation northwestern syria called on security council enforce
resolution 2254 political transition committee president said national army counter offensive
recaptured villages countryside aleppo hama displaced families camps winter shelter aid
convoys border crossing medical facilities hospitals schools markets targeted statement
condemned violations human rights detainees release negotiations geneva constitutional
""".split()
AR_WORDS = """
الائتلاف الوطني السوري يدين هجوم نظام الأسد الدامي على الأحياء السكنية في إدلب قوات يوم
الثلاثاء شنت هجوما أودى بحياة عشرات المدنيين وأدى إلى إصابة طائرات قصفت بعدة صواريخ المنطقة
الصناعية خلف القصف دمارا واسعا فرق الدفاع المدني موقع لإنقاذ الضحايا روسيا إيران الشعب
المجتمع الدولي مجلس الأمن القرار الانتقال السياسي اللجنة الدستورية جنيف المعتقلين النازحين
المخيمات المساعدات الإنسانية الحدود المستشفيات المدارس الجيش الوطني ريف حلب حماة
""".split()
EN_CATEGORIES = [
    "Press Releases", "Coalition News", "Local News", "Statements", "Humanitarian",
    "Political Committee", "Interviews", "Reports", "Events", "Human Rights",
]  # fmt: skip
AR_CATEGORIES = ["بيانات صحفية", "أخبار الائتلاف"]
SOURCE = "Syrian National Coalition - Syria, Department of Media and Communications"


def _sentence(rng: random.Random, words: list[str], latin: bool) -> str:
    picked = rng.choices(words, k=rng.randint(8, 24))
    if latin:
        picked[0] = picked[0].capitalize()
        if rng.random() < 0.15:  # some inline Markdown, as real releases have
            at = rng.randrange(len(picked) - 1)
            picked[at] = f"**{picked[at]} {picked.pop(at + 1)}**"
        if rng.random() < 0.05:
            at = rng.randrange(len(picked))
            picked[at] = f"[{picked[at]}](https://www.example.org/news/{rng.randint(1, 99999)})"
    return " ".join(picked) + "."


def _body(rng: random.Random, target_words: int, language: str) -> str:
    """Markdown paragraphs (with a heading or a list now and then) of about `target_words`."""
    latin = language != "ar"
    words = EN_WORDS if latin else AR_WORDS
    blocks: list[str] = []
    count = 0
    while count < target_words:
        roll = rng.random()
        if roll < 0.04 and blocks:
            heading = " ".join(rng.choices(words, k=rng.randint(3, 6)))
            blocks.append(f"## {heading.capitalize() if latin else heading}")
        elif roll < 0.08:
            items = [_sentence(rng, words, latin) for _ in range(rng.randint(3, 5))]
            blocks.append("\n".join(f"- {item}" for item in items))
            count += sum(len(item.split()) for item in items)
        else:
            paragraph = " ".join(_sentence(rng, words, latin) for _ in range(rng.randint(2, 6)))
            blocks.append(paragraph)
            count += len(paragraph.split())
    return "\n\n".join(blocks)


def _title(rng: random.Random, language: str) -> str:
    words = rng.choices(EN_WORDS if language != "ar" else AR_WORDS, k=rng.randint(6, 12))
    return " ".join(words).capitalize()


def _write(folder: Path, name: str, fields: dict[str, Any], body: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    front = yaml.safe_dump(fields, allow_unicode=True, sort_keys=False)
    path = folder / name
    path.write_text(f"---\n{front}---\n\n{body}\n", encoding="utf-8")
    return path


def release_fields(rng: random.Random, index: int, when: datetime, language: str) -> dict[str, Any]:
    """Front matter of a generated release: the fields a press office fills in, in proportion."""
    rid = f"{when:%Y-%m-%d}-{language}-release-{index:05d}"
    fields: dict[str, Any] = {"id": rid, "title": _title(rng, language), "date": when.isoformat()}
    fields["language"] = language
    cats = AR_CATEGORIES if language == "ar" else EN_CATEGORIES
    fields["category"] = rng.choice(cats)
    fields["source"] = SOURCE
    if rng.random() < 0.7:
        fields["summary"] = _sentence(rng, EN_WORDS if language != "ar" else AR_WORDS, True)
    if rng.random() < 0.5:
        fields["tags"] = sorted(set(rng.choices(["idlib", "aleppo", "geneva", "un", "aid"], k=2)))
    if rng.random() < 0.3:
        link = {"title": "Security Council resolution 2254", "url": "https://undocs.org/S/RES/2254"}
        fields["links"] = [link]
    if rng.random() < 0.1:
        src = f"https://cdn.example.org/img/{index}.jpg"
        fields["images"] = [{"src": src, "alt": "Damage in Idlib", "caption": "Idlib"}]
    return fields


def generate_sources(folder: Path, count: int, seed: int = SEED) -> list[Path]:
    """`count` realistic release files under folder/YYYY/, ~15% of them Arabic (half translations).

    Every file's mtime is set a day back: a press office's files are older than the last build
    (a file touched within 2 s of a build would be hashed again on the next one, by design).
    """
    rng = random.Random(seed)
    start = datetime.fromisoformat("2016-01-01T09:00:00+03:00")
    span_s = int(timedelta(days=9 * 365).total_seconds())
    english: list[tuple[str, datetime]] = []
    paths: list[Path] = []
    for index in range(count):
        arabic = rng.random() < 0.15
        when = start + timedelta(seconds=rng.randrange(span_s) // 60 * 60)
        language = "ar" if arabic else "en"
        translated = english[rng.randrange(len(english))] if arabic and english else None
        if translated is not None and rng.random() < 0.5:
            when = translated[1] + timedelta(hours=1)
        fields = release_fields(rng, index, when, language)
        if translated is not None and when == translated[1] + timedelta(hours=1):
            fields["translation_of"] = translated[0]
        if not arabic:
            english.append((fields["id"], when))
        body = _body(rng, rng.randint(300, 800), language)
        paths.append(_write(folder / f"{when:%Y}", f"{fields['id']}.md", fields, body))
    old = time.time() - 86_400
    for path in paths:
        os.utime(path, (old, old))
    return paths


def _context() -> RenderContext:
    return RenderContext(
        public_url="https://press.example.org",
        x_thread_max=5,
        organisation="Press Office",
        templates=Templates(),
    )


# --- one release to every channel ----------------------------------------------------------

COLD_SCRIPT = """
import sys, time
started = time.perf_counter()
from publisher.release import load_release
from publisher.render import RenderContext, Templates
from publisher.services import render_all
ctx = RenderContext("https://press.example.org", 5, "Press Office", Templates())
render_all(load_release(sys.argv[1]), ctx=ctx)
print(time.perf_counter() - started)
"""


def _cold_render(path: Path, repeats: int) -> Timing:
    """First render in a new process (imports, templates, locale data), as `publisher render`."""
    samples = []
    for _ in range(repeats):
        done = subprocess.run(
            [sys.executable, "-c", COLD_SCRIPT, str(path)],
            capture_output=True, text=True, check=True, cwd=REPO_ROOT,
        )  # fmt: skip
        samples.append(float(done.stdout.strip().splitlines()[-1]))
    ordered = sorted(samples)
    return Timing(ordered[len(ordered) // 2], ordered[0], ordered[-1], repeats, tuple(samples))


def _render_rows(quick: bool, work: Path) -> tuple[list[list[str]], list[str]]:
    ctx = _context()
    long_path = _write(
        work,
        "long.md",
        {"title": "A long synthetic release", "date": "2020-02-11T10:00:00+02:00",
         "category": "Reports", "summary": "Twenty thousand words.", "source": SOURCE},
        _body(random.Random(SEED), LONG_WORDS, "en"),
    )  # fmt: skip
    cases = [("seed example (en)", SEED_EXAMPLE), ("Arabic example (ar)", ARABIC_EXAMPLE)]
    cases.append(("synthetic long release (en)", long_path))
    floor_md = MarkdownIt("commonmark")
    rows: list[list[str]] = []
    notes: list[str] = []
    render_all(load_release(SEED_EXAMPLE), ctx=ctx)  # compile templates, load locale data
    for label, path in cases:
        release = load_release(path)
        words = len(release.body.split())
        repeats = 1 if quick else (20 if words > 5000 else 50)

        def whole(path: Path = path) -> object:
            return render_all(load_release(path), ctx=ctx)

        def rendered(release: Release = release) -> object:
            return render_all(release, ctx=ctx)

        def floor(body: str = release.body) -> object:
            return nh3.clean(floor_md.render(body))

        timings = medians_interleaved([whole, rendered, floor], repeats)
        measured = [
            ("`render_all(load_release(path))`: parse + 4 channels", timings[0], True),
            ("`render_all(release)`: 4 channels, parse excluded", timings[1], True),
            ("floor: `markdown_it` render + `nh3.clean` of the body", timings[2], False),
        ]
        source = f"{label}, {fmt_int(words)} words"
        for what, timing, targeted in measured:
            target = verdict(timing.median_s, RENDER_TARGET_S) if targeted else "(baseline)"
            rows.append(_row(what, source, timing, "", target))
        notes.append(f"{label}, parse excluded, per part: " + _breakdown(release, ctx, repeats))
    cold = _cold_render(SEED_EXAMPLE, 1 if quick else 5)
    what = "cold: new process, imports + first render (what one `publisher render` pays)"
    rows.append(_row(what, "seed example (en)", cold, "", "(context)"))
    return rows, notes


def _row(what: str, source: str, timing: Timing, details: str, target: str) -> list[str]:
    return [what, source, fmt_s(timing.median_s), fmt_spread(timing), str(timing.repeats),
            details, target]  # fmt: skip


def _breakdown(release: Release, ctx: RenderContext, repeats: int) -> str:
    """Median time of the shared body step and of each channel's render, to show where time goes."""
    body = body_parts(release)
    fns: list[Callable[[], object]] = [partial(body_parts, release)]
    fns += [
        partial(channel.render, release, body, ctx) for channel in channels.all_channels().values()
    ]
    timings = medians_interleaved(fns, repeats)
    names = ["body (Markdown → safe HTML + text)", *channels.names()]
    parts = [f"{name} {fmt_s(t.median_s)}" for name, t in zip(names, timings, strict=True)]
    return ", ".join(parts)


# --- the static site -------------------------------------------------------------------------


class _Builds:
    """Builds one site folder when called; keeps each run's report and CPU time (workers too)."""

    def __init__(self, src: Path, out: Path, ctx: RenderContext) -> None:
        self.src, self.out, self.ctx = src, out, ctx
        self.reports: list[BuildReport] = []
        self.cpu_s: list[float] = []

    def __call__(self) -> None:
        before = cpu_s()
        self.reports.append(build_site([self.src], self.out, self.ctx))
        self.cpu_s.append(cpu_s() - before)

    def fresh(self) -> None:
        """Empty the output folder, and let the disk finish deleting before the clock starts."""
        shutil.rmtree(self.out, ignore_errors=True)
        os.sync()

    def details(self) -> str:
        last = self.reports[-1]
        cpu = statistics.median(self.cpu_s)
        return f"{fmt_int(last.written)} written / {fmt_int(last.parsed)} parsed; CPU {fmt_s(cpu)}"


def _site_rows(quick: bool, work: Path) -> tuple[list[list[str]], list[str]]:
    ctx = _context()
    small, large = (100, 300) if quick else (1_000, 10_000)
    repeats, cheap_repeats = (1, 1) if quick else (3, 5)
    rows: list[list[str]] = []
    notes: list[str] = []
    per_release: dict[int, float] = {}
    builds: _Builds | None = None
    for count in (small, large):
        src = work / f"src-{count}"
        gen_s, _ = timed(partial(generate_sources, src, count))
        os.sync()
        words = sum(len(p.read_text(encoding="utf-8").split()) for p in src.rglob("*.md"))
        average = fmt_int(words // count)
        notes.append(f"{fmt_int(count)} sources generated in {fmt_s(gen_s)} "
                     f"({average} words a file on average, front matter included).")  # fmt: skip
        builds = _Builds(src, work / f"site-{count}", ctx)
        reset_peak_rss()
        timing = median_of(builds, repeats, setup=builds.fresh)
        per_release[count] = timing.median_s / count
        details = (f"{fmt_s(per_release[count])} a release; {builds.details()}; peak RSS "
                   f"{fmt_mb(peak_rss_mb())} / {fmt_mb(children_peak_rss_mb())}; "
                   f"{fmt_runs(timing)}")  # fmt: skip
        target = verdict(timing.median_s, SITE_TARGET_S) if count == large else ""
        what = "`build_site`: fresh build (empty out dir)"
        rows.append(_row(what, f"{fmt_int(count)} releases", timing, details, target))
    growth = per_release[large] / per_release[small]
    notes.append(f"Growth: time per release is {fmt_ratio(growth)} at {fmt_int(large)} what it is "
                 f"at {fmt_int(small)} (1.00× is linear).")  # fmt: skip
    assert builds is not None
    src, out = builds.src, builds.out
    inputs = f"{fmt_int(large)} releases, built"
    same = _Builds(src, out, ctx)
    timing = median_of(same, cheap_repeats)
    details = f"{same.details()}; {fmt_runs(timing)}"
    rows.append(_row("`build_site`: rebuild, nothing changed", inputs, timing, details, ""))
    rng = random.Random(SEED + 1)
    serial = iter(range(large, large + 1000))

    def add_one() -> None:  # each repeat adds another release, the newest, so the lists change
        index = next(serial)
        when = datetime.fromisoformat("2025-01-15T10:00:00+03:00") + timedelta(hours=index)
        fields = release_fields(rng, index, when, "en")
        _write(src / f"{when:%Y}", f"{fields['id']}.md", fields, _body(rng, 500, "en"))
        os.sync()

    added = _Builds(src, out, ctx)
    timing = median_of(added, cheap_repeats, setup=add_one)
    what, target = "`build_site`: add one release, rebuild", verdict(timing.median_s, ADD_TARGET_S)
    details = f"{added.details()}; {fmt_runs(timing)}"
    rows.append(_row(what, inputs, timing, details, target))
    return rows, notes


HEADER = ["Measurement", "Input", "Median", "Spread (min – max)", "Runs", "Details", "Target met"]


def run(quick: bool) -> Section:
    """Measure single-release rendering and site builds; see the module docstring for targets."""
    with tempfile.TemporaryDirectory(prefix="publisher-bench-") as temp:
        work = Path(temp)
        render_rows, render_notes = _render_rows(quick, work)
        site_rows, site_notes = _site_rows(quick, work)
    method = f"""
Medians of repeated runs, with the spread (fastest – slowest); a garbage collection runs before
each timed run, and the measurements of one input take turns (round-robin) so that load drift
hits them alike. Single renders use `publisher.render.render_all` with a fixed `RenderContext`
(built-in templates) after one warm-up, so template compiling and locale loading are not in the
medians (the *cold* row shows them). The floor is a bare `markdown_it` (CommonMark) render plus a
default `nh3.clean` of the same body: what any renderer must spend before it formats a channel.

Site builds call `publisher.site.build_site([folder], out, ctx)` on release files generated with
random seed {SEED}: ~10 categories, dates over 2016–2024, bodies of 300–800 words, ~15% Arabic
(half of them translations), some links, tags and image URLs; a folder per year in a temp dir on
the same disk as the repo. A *fresh* build starts from an empty output folder (source files are
in the page cache). *Add one* writes one new, newest release into the built site's sources and
builds again (each repeat adds another). Peak RSS is this process / the largest worker process
(`build_site` forks workers for large builds; this machine has {cpu_count()} CPUs).
"""
    notes = render_notes + site_notes
    notes.append(f"Load average (1 min) at the end: {load_average()}; other work on this machine "
                 "during the run inflates wall times (CPU times less).")  # fmt: skip
    return Section(
        "Rendering and the static site",
        method,
        HEADER,
        render_rows + site_rows,
        notes,
    )
