"""The journalists' daily briefing: built for 10,000 journalists in two languages, to queued.

Method: an embedded Redis holding a day of 12 published releases (8 in English over four
categories, Arabic translations of 4 of them, linked by `translation_of`) and 10,000 journalists
imported from a CSV by `services.import_journalists`, as `publisher journalists import` does
(cadence daily or both; language en, ar or both; beats none, matching or not matching the
day's categories, by name or by slug). Timed: `services.briefing.send` for English, then for
Arabic, as the scheduler's `send_due` calls it (claim, read the day's releases, render the
briefing, store it, queue it), with a queue that runs the worker's `publish` task (the fan-out:
one delivery record per journalist who gets it, in batches) here and at once, each batch's
`deliver` task queued on the Celery broker for real; so the time runs until every delivery
record is in Redis. Medians of 3 with the spread, a day of its own per run (fresh briefing
ids). In the same run, for comparison: the fan-out alone (timed inside the queue),
`briefing.build` alone, and rendering one plain release for the email channel (`render_all`).
At the end the records of each briefing are checked against its audience worked out by hand
from the journalists written to the CSV, and by `publisher.fanout.wants` over the stored ones.

Target: both languages' briefings queued for 10,000 journalists in < 5 s.
"""

from __future__ import annotations

import gc
import json
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as clock
from functools import partial
from pathlib import Path
from typing import Any

from bench.common import (
    Section,
    Timing,
    cpu_count,
    fmt_int,
    fmt_runs,
    fmt_s,
    fmt_spread,
    load_average,
    median_of,
    timed,
    verdict,
)
from bench.peers import BenchRedis, publisher_env, this_process_as

SIZE = 10_000
QUICK_SIZE = 600
REPEATS = 3
TARGET_S = 5.0
RENDER_REPEATS = 20
FIRST_DAY = date(2024, 5, 1)
LANGUAGES = ("en", "ar")
CHANNEL = "email"  # the journalists' channel
SEED = 20240501
MAIL_FROM = "Press Office <press@example.org>"
HEADER = ["Measurement", "Size", "Median", "Spread (min – max)", "Runs", "Details", "Target met"]

# The day's English releases: (slug, title, category, Arabic translation (title, category)).
RELEASES: list[tuple[str, str, str, tuple[str, str] | None]] = [
    ("aid", "Statement on humanitarian access", "Press Releases",
     ("بيان حول وصول المساعدات الإنسانية", "بيانات صحفية")),
    ("roads", "Roads reopen in the north", "Local News",
     ("إعادة فتح الطرق في الشمال", "أخبار محلية")),
    ("envoy", "Envoy meets the delegation", "Press Releases",
     ("المبعوث يلتقي الوفد", "بيانات صحفية")),
    ("council", "Coalition council convenes", "Coalition News",
     ("انعقاد مجلس الائتلاف", "أخبار الائتلاف")),
    ("schools", "Schools open for the new term", "Local News", None),
    ("convoy", "Aid convoy reaches Idlib", "Humanitarian", None),
    ("members", "Two new members join the coalition", "Coalition News", None),
    ("berlin", "Delegation visits Berlin", "Press Releases", None),
]  # fmt: skip
# What journalists follow: nothing (everything), the day's categories by name or by slug or
# by an Arabic name, and beats with nothing that day.
BEATS: list[list[str]] = [
    [], [], ["Press Releases"], ["local-news"], ["Sport"], ["Humanitarian", "Sport"],
    ["Coalition News"], ["Economy"], ["أخبار محلية"], ["press-releases", "Local News"],
]  # fmt: skip
JOURNALIST_LANGUAGES = ("en", "ar", "both")
CADENCES = ("daily", "both")
LEDE = (
    "The delegation stressed the need for urgent humanitarian access to the region and for "
    "the protection of civilians."
)


@dataclass(frozen=True)
class Journalist:
    """A row of the CSV, as written (the check works from these, not from the store)."""

    address: str
    language: str
    beats: tuple[str, ...]
    cadence: str


def journalists(count: int) -> list[Journalist]:
    rng = random.Random(SEED)
    return [
        Journalist(
            f"j{i}@example.org",
            rng.choice(JOURNALIST_LANGUAGES),
            tuple(rng.choice(BEATS)),
            rng.choice(CADENCES),
        )
        for i in range(count)
    ]


def write_csv(path: Path, people: list[Journalist]) -> None:
    import csv

    with path.open("w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["email", "name", "language", "beats", "cadence"])
        for i, person in enumerate(people):
            out.writerow([person.address, f"Journalist {i}", person.language,
                          ";".join(person.beats), person.cadence])  # fmt: skip


def day_categories(language: str) -> list[str]:
    """The category names a day's briefing in `language` offers, from RELEASES (by hand)."""
    if language == "en":
        return [category for _, _, category, _ in RELEASES]
    return [name for _, _, c, ar in RELEASES if ar for name in (ar[1], c)]


def expected_audience(people: list[Journalist], language: str) -> set[str]:
    """Who should get the day's briefing in `language`, by the rules worked out by hand:
    cadence daily or both; language that one or both; no beats, or one of the day's."""
    from publisher.slugs import category_slug

    offered = {category_slug(name) for name in day_categories(language)}
    return {
        p.address
        for p in people
        if p.cadence in ("daily", "both")
        and p.language in (language, "both")
        and (not p.beats or any(category_slug(b) in offered for b in p.beats))
    }


class NoFanOut:
    """The Queue protocol for the day's releases: nothing runs (they were published before)."""

    def publish(self, release_id: str) -> None:
        pass

    def deliver(self, release_id: str, channel: str, batch_id: str) -> None:
        pass

    def workers_alive(self, timeout_s: float) -> bool:
        return True


@dataclass
class FanOutNow:
    """The Queue protocol with the worker's `publish` task (`Runtime.publish`: the fan-out) run
    here, at once; each batch's `deliver` task is queued on the Celery broker for real."""

    store: Any
    settings: Any
    fan_out_s: dict[str, float] = field(default_factory=dict)
    batches: dict[str, int] = field(default_factory=dict)

    def publish(self, release_id: str) -> None:
        from publisher.fanout import fan_out
        from workers import tasks

        def dispatch(rid: str, channel: str, batch_id: str) -> None:
            self.batches[rid] = self.batches.get(rid, 0) + 1
            tasks.dispatch(rid, channel, batch_id)

        names = json.loads(self.store.release_field(release_id, "channels") or "[]")
        started = time.perf_counter()
        fan_out(self.store, self.settings, release_id, names, dispatch)
        self.fan_out_s[release_id] = time.perf_counter() - started

    def deliver(self, release_id: str, channel: str, batch_id: str) -> None:
        from workers import tasks

        tasks.dispatch(release_id, channel, batch_id)

    def workers_alive(self, timeout_s: float) -> bool:
        return True


def publish_day(backend: Any, day: date) -> Any:
    """The day's 12 releases, submitted and marked fanned out (as the worker's fan-out does);
    returns the first English one."""
    from publisher.release import release_from_mapping
    from publisher.services import submit

    zone = backend.settings.timezone
    first = None
    for n, (slug, title, category, arabic) in enumerate(RELEASES):
        moment = datetime.combine(day, clock(8 + n), tzinfo=zone).isoformat()
        fields = {"date": moment, "channels": ["email"], "summary": LEDE,
                  "body": f"{LEDE}\n\nA second paragraph."}  # fmt: skip
        release_id = f"{day:%Y-%m-%d}-{slug}"
        made = [{"id": release_id, "title": title, "category": category, **fields}]
        if arabic:
            made.append({"id": f"{release_id}-ar", "title": arabic[0], "category": arabic[1],
                         "language": "ar", "translation_of": release_id, **fields})  # fmt: skip
        for data in made:
            release = release_from_mapping(data)
            if submit(backend, release, "bench").action != "queued":
                raise RuntimeError(f"{release.id} was not queued")
            backend.store.mark_fanned_out(release.id)
            first = first or release
    return first


def broker_length(store: Any) -> int:
    from workers.app import queue_keys

    return sum(int(store.redis.llen(key)) for key in queue_keys())


@dataclass
class Run:
    """One day's two briefings: send times, fan-out times, records and batches per language."""

    day: date
    send_s: dict[str, float] = field(default_factory=dict)
    fan_out_s: dict[str, float] = field(default_factory=dict)
    records: dict[str, int] = field(default_factory=dict)
    batches: dict[str, int] = field(default_factory=dict)
    tasks: int = 0  # deliver tasks that reached the broker

    @property
    def total_s(self) -> float:
        return sum(self.send_s.values())


def send_day(backend: Any, queue: FanOutNow, day: date) -> Run:
    """Send the day's briefing in each language, timed; then count what was queued."""
    from publisher.briefing import briefing_id
    from publisher.services import briefing

    run = Run(day)
    tasks_before = broker_length(backend.store)
    gc.collect()
    for language in LANGUAGES:
        started = time.perf_counter()
        result = briefing.send(backend, day, language, "bench")
        run.send_s[language] = time.perf_counter() - started
        if result is None or result.action != "queued":
            raise RuntimeError(f"{day} {language}: {result}")
    for language in LANGUAGES:
        release_id = briefing_id(day, language)
        run.fan_out_s[language] = queue.fan_out_s[release_id]
        run.records[language] = backend.store.counts(release_id, CHANNEL)["total"]
        run.batches[language] = queue.batches.get(release_id, 0)
    run.tasks = broker_length(backend.store) - tasks_before
    return run


def check(backend: Any, run: Run, people: list[Journalist]) -> dict[str, int]:
    """Each briefing's records against its audience by hand and by `wants`; the sizes."""
    from publisher.briefing import briefing_id
    from publisher.fanout import Offer, wants

    store = backend.store
    sizes = {}
    for language in LANGUAGES:
        release_id = briefing_id(run.day, language)
        by_hand = expected_audience(people, language)
        offer = Offer.of(store, store.load_release_json(release_id))
        by_wants = {a for a, info in store.iter_recipients(CHANNEL) if wants(info, offer)}
        records = {r.recipient for r in store.records(release_id, CHANNEL)}
        if not (records == by_hand == by_wants) or run.records[language] != len(by_hand):
            raise RuntimeError(
                f"{release_id}: {len(records)} records ({run.records[language]} counted), "
                f"{len(by_hand)} expected by hand, {len(by_wants)} by wants"
            )
        sizes[language] = len(by_hand)
    if run.tasks != sum(run.batches.values()):
        raise RuntimeError(f"{run.day}: {run.batches} batches, {run.tasks} deliver tasks queued")
    return sizes


def _timing(samples: list[float]) -> Timing:
    return Timing(statistics.median(samples), min(samples), max(samples), len(samples),
                  tuple(samples))  # fmt: skip


def _row(label: str, size: str, timing: Timing, details: str, met: str = "") -> list[str]:
    return [label, size, fmt_s(timing.median_s), fmt_spread(timing), str(timing.repeats),
            details, met]  # fmt: skip


def run(quick: bool) -> Section:
    """Time `briefing.send` in both languages to queued, with the baselines; see the docstring."""
    from publisher import services
    from publisher.services import briefing, render_all
    from publisher.settings import get_settings

    size = QUICK_SIZE if quick else SIZE
    repeats = 1 if quick else REPEATS
    warm_up = 0 if quick else 1
    load_start = load_average()
    people = journalists(size)
    days = [FIRST_DAY + timedelta(days=n) for n in range(warm_up + repeats)]
    with tempfile.TemporaryDirectory(prefix="bench-briefing-") as folder, BenchRedis() as redis:
        env = publisher_env(redis, MAIL_FROM=MAIL_FROM)
        with this_process_as(env):
            settings = get_settings()
            setup = services.connect(NoFanOut, settings)
            csv_path = Path(folder) / "journalists.csv"
            write_csv(csv_path, people)
            import_s, report = timed(lambda: services.import_journalists(setup, csv_path, "bench"))
            assert isinstance(report, services.ImportReport)
            if report.problems or report.added != size:
                raise RuntimeError(f"import: {report}")
            plain = [publish_day(setup, day) for day in days][0]
            queue = FanOutNow(setup.store, settings)
            backend = services.Backend(setup.store, settings, lambda: queue)
            runs = [send_day(backend, queue, day) for day in days]
            audiences = [check(backend, r, people) for r in runs]
            measured = runs[warm_up:]
            builds = {
                language: median_of(
                    partial(briefing.build, backend, days[0], language), repeats, warmup=1
                )
                for language in LANGUAGES
            }
            render = median_of(
                lambda: render_all(plain, [CHANNEL]), 3 if quick else RENDER_REPEATS, warmup=2
            )
            made = briefing.build(backend, days[0], "en")
            assert made is not None
    sizes = audiences[-1]
    if any(a != sizes for a in audiences):
        raise RuntimeError(f"audiences differ between days: {audiences}")
    total = _timing([r.total_s for r in measured])
    send = {lang: _timing([r.send_s[lang] for r in measured]) for lang in LANGUAGES}
    fan = {lang: _timing([r.fan_out_s[lang] for r in measured]) for lang in LANGUAGES}
    rest = {
        lang: _timing([r.send_s[lang] - r.fan_out_s[lang] for r in measured]) for lang in LANGUAGES
    }
    people_text = f"{fmt_int(size)} journalists"
    records = " + ".join(f"{fmt_int(sizes[lang])} {lang}" for lang in LANGUAGES)
    batches = " + ".join(str(measured[-1].batches[lang]) for lang in LANGUAGES)
    rows = [
        _row(
            "`briefing.send` en then ar: claim → every delivery record queued",
            people_text,
            total,
            f"{records} records, {batches} batches; {fmt_runs(total)}",
            verdict(total.median_s, TARGET_S),
        ),
    ]
    for lang in LANGUAGES:
        rows.append(
            _row(
                f"of which {lang}: `briefing.send`",
                people_text,
                send[lang],
                f"{fmt_int(sizes[lang])} records; {fmt_runs(send[lang])}",
            )
        )
        rows.append(
            _row(
                f"of which {lang}: the fan-out (`publish` task body)",
                people_text,
                fan[lang],
                f"{1e6 * fan[lang].median_s / max(1, size):.0f} µs per journalist read, "
                f"{1e6 * fan[lang].median_s / max(1, sizes[lang]):.0f} µs per record",
            )
        )
        rows.append(
            _row(
                f"of which {lang}: the rest (claim, read the day, render, store, queue)",
                people_text,
                rest[lang],
                "send − fan-out, run by run",
            )
        )
    for lang in LANGUAGES:
        rows.append(
            _row(
                f"`briefing.build` alone, {lang} (read the day's releases, render)",
                "1 day",
                builds[lang],
                "no claim, nothing stored",
                "(for comparison)",
            )
        )
    rows.append(
        _row(
            "baseline: `render_all` of one plain release, email channel",
            "1 release",
            render,
            f"median of {render.repeats}",
            "(baseline)",
        )
    )
    email = made.rendered["channels"]["email"]  # type: ignore[index]
    releases = len(RELEASES) + sum(1 for r in RELEASES if r[3])
    notes = [
        "Check: every briefing's delivery records, on every day run (warm-up included), are "
        f"exactly its audience worked out by hand from the CSV's rows and by "
        f"`publisher.fanout.wants` over the stored journalists ({records} of "
        f"{fmt_int(size)}); as many `deliver` tasks reached the broker as batches were made.",
        f"Setup (untimed): {fmt_int(size)} journalists imported by `services.import_journalists` "
        f"in {fmt_s(import_s)}; {releases} releases a day ({len(RELEASES)} English in "
        f"{len(set(day_categories('en')))} categories, {releases - len(RELEASES)} Arabic "
        f"translations), {len(days)} day{'s' if len(days) > 1 else ''}, all published "
        "within the briefing's look-back, so each briefing reads them all. The English "
        "briefing's email: "
        f"{len(email['html']):,} characters of HTML, {len(email['text']):,} of text.",
        f"Load average (1 min): {load_start} at the start, {load_average()} at the end; "
        f"{cpu_count()} CPUs, everything in this process but Redis.",
    ]
    if warm_up:
        first = runs[0]
        notes.insert(
            1,
            "The untimed warm-up day (the first briefings this process sent: Celery imported "
            "and its broker connection opened by the first fan-out's first batch, the briefing "
            f"template compiled): {fmt_s(first.total_s)} for both, of which fan-out "
            f"{fmt_s(sum(first.fan_out_s.values()))}.",
        )
    return Section("Daily briefing", _method(size, repeats, warm_up), HEADER, rows, notes)


def _method(size: int, repeats: int, warm_up: int) -> str:
    warm = f"after {warm_up} untimed warm-up day" if warm_up else "no warm-up"
    return f"""
An embedded Redis (unix socket) holding {fmt_int(size)} journalists imported from a CSV by
`services.import_journalists` (cadence daily or both; language en, ar or both; beats none, the
day's categories by name, slug or Arabic name, or none of them) and, per day, 12 published
releases: 8 English in four categories and Arabic translations of 4 (`translation_of`). Timed
(medians of {repeats}, {warm}, a day of its own per run so each briefing id is fresh):
`services.briefing.send` for en, then ar, until it returns, with a queue that runs the worker's
`publish` task (the fan-out) in this process at once and queues each batch's `deliver` task on
the Celery broker: when it returns, every delivery record is in Redis. The fan-out is also timed
inside the queue, so the rest of `send` (claim, reading the day's releases, rendering, storing)
is the difference; `briefing.build` alone and `render_all` of one plain release for the email
channel are the comparisons.
"""


if __name__ == "__main__":
    section = run(quick="--quick" in sys.argv)
    print(section.to_markdown())
