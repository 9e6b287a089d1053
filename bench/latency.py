"""Publish-to-first-message latency: a warm process calls `submit`, a warm worker delivers.

A real `publisher worker` is already running (and has delivered a few releases); this process
calls `publisher.publishing.submit(...)` for ~20 releases, each with its own one subscriber, and
the loopback Bot API (its own process) notes when each message arrives. Both clocks are the
machine's CLOCK_MONOTONIC, so the difference is the latency. Target: p50 < 150 ms.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from bench.common import Section, cpu_count, fmt_int, fmt_s, load_average
from bench.fanout import release, subscribers
from bench.peers import (
    BenchRedis,
    PeerProcess,
    Pipeline,
    publisher_env,
    this_process_as,
    wait_delivered,
)

RELEASES = 20
QUICK_RELEASES = 5
WARM_UP = 6
PAUSE_S = 0.3  # between releases: each one starts from an idle worker
TARGET_S = 0.150
HEADER = ["Measurement", "Releases", "p50", "p90", "Max", "Details", "Target met"]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(q * (len(ordered) - 1))))
    return ordered[index]


class Sample:
    """One release: submit call, first message at the peer, last outcome seen in Redis."""

    def __init__(self, submit_s: float, first_s: float, recorded_s: float) -> None:
        self.submit_s = submit_s
        self.first_s = first_s
        self.recorded_s = recorded_s


def one_release(pipeline: Pipeline, store: Any, peer: PeerProcess, serial: int) -> Sample:
    """A release to one new subscriber; how long each step took from the submit call."""
    from publisher.services import render_all
    from publisher.store import k_recipients

    chat = next(iter(subscribers(1, 500_000_000 + serial)))
    store.redis.delete(k_recipients("telegram"))
    store.add_recipients("telegram", subscribers(1, 500_000_000 + serial))
    measured = release(f"latency-{serial}")
    rendered = render_all(measured)
    peer.call("reset")
    started = time.monotonic()
    pipeline.submit(store, measured, rendered)
    submitted = time.monotonic()
    recorded, counts = wait_delivered(store, measured.id, "telegram", 1, 30, poll_s=0.002)
    arrivals = peer.call("first_arrival")
    if counts["sent"] != 1 or chat not in arrivals:
        raise RuntimeError(f"release {measured.id}: records {counts}, peer saw {arrivals}")
    return Sample(submitted - started, arrivals[chat] - started, recorded - started)


def warm_every_process(
    pipeline: Pipeline, store: Any, peer: PeerProcess, releases: int = 4
) -> float:
    """Several releases at once, so that every pool process runs a publish and a deliver task
    (one after another they may all land on the same process); returns the cold latency: the
    first submit call to the first message at the peer."""
    from publisher.services import render_all
    from publisher.store import k_recipients

    store.add_recipients("telegram", subscribers(releases, 400_000_000))
    warm = [release(f"warm-all-{i}", body="Warm-up.") for i in range(releases)]
    rendered = [render_all(each) for each in warm]
    peer.call("reset")
    started = time.monotonic()
    for each, payload in zip(warm, rendered, strict=True):
        pipeline.submit(store, each, payload)
    for each in warm:
        wait_delivered(store, each.id, "telegram", releases, 60)
    store.redis.delete(k_recipients("telegram"))
    return float(min(peer.call("first_arrival").values())) - started


def run(quick: bool) -> Section:
    """Measure publish-to-first-message latency; see the module docstring."""
    count = QUICK_RELEASES if quick else RELEASES
    with BenchRedis() as redis, PeerProcess("telegram") as peer:
        env = publisher_env(
            redis, TELEGRAM_BOT_TOKEN=peer.info["token"], TELEGRAM_API_URL=peer.info["base_url"]
        )  # TELEGRAM_RATE_LIMIT unset: the default 30/s limiter is on the path, as in production
        pipeline = Pipeline(redis, env)
        with this_process_as(env):
            pipeline.reset()
            store = pipeline.store()
            with pipeline.worker():
                cold_s = warm_every_process(pipeline, store, peer)
                warm = [one_release(pipeline, store, peer, i) for i in range(WARM_UP)]
                samples = []
                for i in range(count):
                    time.sleep(PAUSE_S)
                    samples.append(one_release(pipeline, store, peer, WARM_UP + i))
    first = [s.first_s for s in samples]
    recorded = [s.recorded_s for s in samples]
    submit = [s.submit_s for s in samples]
    p50 = statistics.median(first)
    rows = [
        ["`submit` → first message at the Bot API peer", fmt_int(count), fmt_s(p50),
         fmt_s(_percentile(first, 0.9)), fmt_s(max(first)),
         f"min {fmt_s(min(first))}; the first release after the worker started (cold): "
         f"{fmt_s(cold_s)}; the warm-up's {WARM_UP}: "
         f"{', '.join(fmt_s(w.first_s) for w in warm)}",
         f"yes (< {fmt_s(TARGET_S)})" if p50 < TARGET_S else f"NO (< {fmt_s(TARGET_S)})"],
        ["`submit` call itself (store the release, queue the publish task)", fmt_int(count),
         fmt_s(statistics.median(submit)), fmt_s(_percentile(submit, 0.9)), fmt_s(max(submit)),
         "", ""],
        ["`submit` → outcome recorded in Redis (seen by polling every 2 ms)", fmt_int(count),
         fmt_s(statistics.median(recorded)), fmt_s(_percentile(recorded, 0.9)),
         fmt_s(max(recorded)), "", ""],
    ]  # fmt: skip
    method = f"""
A real `publisher worker` (Celery prefork, default concurrency: one process per CPU, with beat)
is started on an embedded Redis and sends 4 releases at once, then {WARM_UP} one by one, first
(not counted), so its pool processes have imported everything and opened their connections.
Then this process, itself warm, publishes {fmt_int(count)} releases one after another
({PAUSE_S:g} s apart, each a new release id with its own single subscriber, one 630-character
message) by calling `publisher.publishing.submit(store, release, rendered, queue_publish, ...)`,
as `publisher publish` does after rendering (rendering, ~5 ms, is done before the clock starts).
The time runs from that call to the message's arrival at the loopback Bot API (`FakeBotAPI`, its
own process); both sides read the machine's monotonic clock. TELEGRAM_RATE_LIMIT is the default
30/s, so the shared limiter's round trip is on the path. p90 is the 90th percentile (nearest
rank).
"""
    notes = [
        f"Load average (1 min) at the end: {load_average()}; the machine has {cpu_count()} CPUs."
    ]
    return Section("Publish-to-first-message latency", method, HEADER, rows, notes)
