"""The Telegram bot under a crowd: 10,000 people press Start.

`publisher bot` (a process of its own, polling) and the baseline, python-telegram-bot's
Application as it comes answering /start with nothing else (`bench/bare_bot.py`), each read
their updates from the loopback Bot API stand-in (in a process of its own) by getUpdates, the
stand-in answering as fast as it can. Measured, pair by pair (bot, baseline, bot, ...):

- updates handled a second: every /start queued at once, from the first becoming available to
  the last reply reaching the stand-in;
- latency, p50 and p99: from an update becoming available to its reply reaching the stand-in,
  with /starts arriving steadily at PACED_PER_S (a burst would measure only the queue);
- Redis bytes per subscriber (the used memory grown by the burst, over the subscribers it made:
  records, their events and the update claims; and the record alone);
- the bot process' peak RSS.

Every reply of the real bot goes through the shared rate limiter, its limit raised out of the
way (TELEGRAM_RATE_LIMIT=100000), and each update is claimed in Redis before it is handled.
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

from bench.common import REPO_ROOT, Section, fmt_mb, load_average
from bench.peers import BenchRedis, PeerProcess, RSSSampler, publisher_env

CONCURRENCY = 64  # the real bot's concurrent updates (publisher.bot.app), given to the baseline
PACED_PER_S = 250
BOT = [sys.executable, "-m", "publisher", "bot"]
BARE = [sys.executable, "-m", "bench.bare_bot"]


@dataclass
class Run:
    rate: float  # updates handled a second (burst)
    p50_ms: float
    p99_ms: float
    rss_mib: float
    bytes_per_subscriber: float
    record_bytes: float
    events_bytes: float
    limiter_bytes: float
    answered: int


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    index = min(len(values) - 1, max(0, round(q * (len(values) - 1))))
    return sorted(values)[index]


def _wait_answered(peer: PeerProcess, want: int, timeout_s: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        found: dict[str, Any] = peer.call("reply_latencies")
        if found["answered"] >= want or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def _wait_polling(peer: PeerProcess, process: subprocess.Popen[bytes], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while peer.call("summary")["requests"] == 0:
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{process.args!r} did not start polling")
        time.sleep(0.05)
    time.sleep(1.0)  # setMyCommands and the first getUpdates


def one_run(
    command: list[str], peer: PeerProcess, redis: BenchRedis, count: int, paced: int, base: int
) -> Run:
    env = publisher_env(
        redis,
        TELEGRAM_BOT_TOKEN=peer.info["token"],
        TELEGRAM_API_URL=peer.info["base_url"],
        TELEGRAM_RATE_LIMIT="100000",
        BARE_BOT_CONCURRENCY=str(CONCURRENCY),
    )
    client = redis.client()
    client.flushall()
    peer.call("reset_all")
    process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL)
    try:
        with RSSSampler(process.pid) as rss:
            _wait_polling(peer, process, 60)
            before = int(client.info("memory")["used_memory"])
            peer.call("push_starts", count, base, 0)
            burst = _wait_answered(peer, count, 180)
            grown = int(client.info("memory")["used_memory"]) - before
            from publisher.store.keys import k_rate, k_recipient_events, k_recipients

            record = client.memory_usage(k_recipients("telegram")) or 0
            events = client.memory_usage(k_recipient_events("telegram")) or 0
            # The shared limiter's log holds the last TELEGRAM_RATE_LIMIT starts (100,000 here,
            # 30 at the real limit): bounded, not per subscriber, but in the figure all the same.
            limiter = sum(client.memory_usage(k) or 0 for k in client.scan_iter(k_rate("*")))
            seconds = burst["last_reply"] - burst["first_push"]
            peer.call("reset_all")
            peer.call("push_starts", paced, base + count, PACED_PER_S)
            steady = _wait_answered(peer, paced, paced / PACED_PER_S + 60)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
    latencies = steady["latencies"]
    return Run(
        rate=burst["answered"] / seconds if seconds > 0 else 0.0,
        p50_ms=_percentile(latencies, 0.5) * 1000,
        p99_ms=_percentile(latencies, 0.99) * 1000,
        rss_mib=rss.largest_mib,
        bytes_per_subscriber=grown / max(1, burst["answered"]),
        record_bytes=record / max(1, burst["answered"]),
        events_bytes=events / max(1, burst["answered"]),
        limiter_bytes=limiter / max(1, burst["answered"]),
        answered=min(burst["answered"], steady["answered"]),
    )


def _median(runs: list[Run], name: str) -> float:
    return statistics.median(getattr(run, name) for run in runs)


def run(quick: bool) -> Section:
    count, paced, repeats = (1_000, 250, 1) if quick else (10_000, 2_500, 3)
    bot_runs: list[Run] = []
    bare_runs: list[Run] = []
    with BenchRedis() as redis, PeerProcess("telegram") as peer:
        base = 10_000_000
        for _ in range(repeats):
            bot_runs.append(one_run(BOT, peer, redis, count, paced, base))
            base += count + paced
            bare_runs.append(one_run(BARE, peer, redis, count, paced, base))
            base += count + paced
    ratios = [b.rate / a.rate for b, a in zip(bot_runs, bare_runs, strict=True) if a.rate]

    def row(name: str, runs: list[Run], redis_bytes: bool) -> list[str]:
        rates = ", ".join(f"{r.rate:,.0f}" for r in runs)
        return [
            name,
            f"{_median(runs, 'rate'):,.0f} ({rates})",
            f"{_median(runs, 'p50_ms'):.1f}",
            f"{_median(runs, 'p99_ms'):.1f}",
            f"{_median(runs, 'bytes_per_subscriber'):.0f} ({_median(runs, 'record_bytes'):.0f})"
            if redis_bytes
            else "-",
            fmt_mb(_median(runs, "rss_mib")),
        ]

    rows = [
        row("`publisher bot` (claims, store, catalogs, shared limiter)", bot_runs, True),
        row("baseline: PTB Application answering /start, nothing else", bare_runs, False),
    ]
    answered = min(r.answered for r in bot_runs)
    notes = [
        f"Ratio of updates a second, bot / baseline, pair by pair: "
        f"{', '.join(f'{r:.2f}x' for r in ratios)} (median {statistics.median(ratios):.2f}x).",
        f"{count:,} /start updates a burst; {paced:,} more at {PACED_PER_S}/s for the latency; "
        f"every one answered once in each run ({answered:,} at least). Load average at start: "
        f"{load_average()}.",
        f"Redis per subscriber, all told {_median(bot_runs, 'bytes_per_subscriber'):.0f} B: the "
        f"record {_median(bot_runs, 'record_bytes'):.0f} B, its event in the recipient stream "
        f"{_median(bot_runs, 'events_bytes'):.0f} B, the shared limiter's log "
        f"{_median(bot_runs, 'limiter_bytes'):.0f} B (it holds the last TELEGRAM_RATE_LIMIT "
        "starts, raised to 100,000 here: at the real 30/s it is 30 entries, whatever the "
        "crowd), the rest update claims and allocator overhead.",
        "Targets (issue 9): >= 500 updates/s, p50 < 50 ms, < 200 B per subscriber, < 100 MB RSS.",
        f"CPUs: {os.cpu_count()}; the stand-in, Redis, the bot and this process share them.",
    ]
    return Section(
        title="Telegram bot: 10,000 people press Start",
        method=__doc__ or "",
        header=[
            "bot",
            "updates/s, median (runs)",
            "p50 ms",
            "p99 ms",
            "Redis B per subscriber (record alone)",
            "peak RSS",
        ],
        rows=rows,
        notes=notes,
    )
