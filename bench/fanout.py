"""Telegram fan-out through the real pipeline, against bare clients on the same loopback peer.

Measured in one run: a release of one 630-character message to 1,000, 10,000 and 100,000
subscribers with the rate limit out of the way (TELEGRAM_RATE_LIMIT=100000), from the submit call
to the last outcome recorded; at 10,000 the same messages sent by a bare aiohttp loop, a bare
python-telegram-bot loop and Apprise's Telegram plugin; the default 30/s limit against a peer that
answers 429 past 30 requests in any sliding second; worker peak memory; Redis bytes per record.
At 10,000 the pipeline and the aiohttp loops also run against a second stand-in that answers as
cheaply as it can (`BareBotAPI`: a prebuilt answer), where the client's own cost is not hidden by
the server's; CPU per message is compared too (the worker's pool processes against the loop).

Targets: >= 0.7x the bare aiohttp loop against each stand-in, worker pool CPU per message within
1.3x the loop's, and >= 3x Apprise, flat from 10,000 to 100,000; >= 97% of the 30/s limit with no
429; worker peak memory < 150 MB; < 150 bytes of Redis per record.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.common import Section, cpu_count, fmt_int, fmt_mb, fmt_s, load_average
from bench.peers import (
    BenchRedis,
    Delivered,
    PeerProcess,
    Pipeline,
    publisher_env,
    self_cpu_s,
    this_process_as,
)

SIZES = (1_000, 10_000, 100_000)
QUICK_SIZES = (300, 1_000)
BASELINE_SIZE = 10_000
QUICK_BASELINE_SIZE = 500
REPEATS = 3
TEXT_CHARS = 630
CONCURRENCY = 64  # what the pipeline has in flight: 2 worker processes x 32
SECTION_BUDGET_S = 600.0  # over this, 100,000 runs once
RATE_LIMIT = 30
RATE_SUBSCRIBERS = 300
QUICK_RATE_SUBSCRIBERS = 60
RECORDS = 100_000
QUICK_RECORDS = 10_000
FAST_LIMIT = "100000"
CHAT_BASE = 100_000_000
WARM_BASE = 900_000_000
WARM_UP = 600  # more than one batch (500): both pool processes get a task

CPU_TARGET = 1.3  # worker pool CPU per message, at most this times the bare aiohttp loop's
BARE_BASELINES = ("aiohttp", "aiohttp-uvloop")  # what also runs against the bare stand-in

# Measured by hand (py-spy 0.4 and perf are not needed to run this section): where a worker's
# CPU goes per message during a 10,000 fan-out, and why the send path costs what it does.
PROFILE_NOTES = [
    "Profile (by hand, 2026-12-02, load 0.1-0.4; py-spy 0.4 `record --nonblocking -r 250` "
    "on both pool processes and `perf record -e cpu-clock` during a 10,000 fan-out to the "
    "bare stand-in, pool CPU about 0.2 ms a message). On the CPU (perf): the CPython "
    "interpreter 77%, the kernel 11% (socket reads and writes, epoll, 3% task switches), "
    "libc 4%, uvloop's C loop 3.5%, aiohttp's C parser and multidict 2%, hiredis 0.4%, the "
    "garbage collector 0.04%. By layer (py-spy, Python stacks; it also counts time runnable"
    " but not running, so syscall frames weigh more than their CPU): aiohttp's client 33% "
    "(about 65 µs a message, what the bare loop spends too), redis-py 23% (the claim, "
    "FINISH+START once per 4 messages, the limiter once per 14; half of it the socket "
    "write), the event loop itself 16%, python-telegram-bot's `do_api_request` with its "
    "RequestData and JSON answer 8% (about 16 µs), the engine (tasks, in-flight window, "
    "outcomes) 7%, our PTB transport (form body, timeouts) 6%, the shared limiter's waiters"
    " and timers 3%, Celery 2%.",
    "What changed the send path's cost: in the pool processes the collector's "
    "young-generation threshold is 7,000 instead of 700 (perf had the collector at 4.5% of "
    "the pool's CPU: a broadcast makes short-lived containers by the thousand); FINISH and "
    "CLAIM pass their lists as one JSON argument or reply (redis-py encoded five arguments "
    "per outcome). Before and after, taking turns on a quiet machine (load 0.3-1.0, 3 pairs"
    " each): pipeline ÷ aiohttp 0.97× → 1.12× on the bare stand-in and 0.67× → 0.77× on "
    "FakeBotAPI; worker pool CPU ÷ the loop's 1.19× → 1.01× and 1.34× → 1.13×.",
    "What holds the pipeline back where CPU does not: every send holds one of its process's"
    " 32 in-flight slots from START to its outcome written, about 10 ms on this machine: "
    "the shared limiter's wait 3.9 ms (its round trip, a lead of 1.5 round trips so that "
    "the answer comes before the slot, and the millisecond grid), the HTTP exchange 3.1 ms,"
    " then 1.8 ms until the outcome is written (the FINISH round trip 1.2 ms). The bare "
    "loop holds a slot only for the HTTP exchange. Against FakeBotAPI the two CPUs are the "
    "limit instead: worker pool, Redis and the peer take about 0.35 ms a message together, "
    "the loop and the peer 0.3 ms.",
]

HEADER = ["Measurement", "Size", "Median", "Spread (min – max)", "Runs", "Details", "Target met"]
FILLER = (
    "The delegation stressed the need for urgent humanitarian access to the region, for the "
    "protection of civilians and for an end to the bombardment of towns and villages. "
)


# -- the release --------------------------------------------------------------------------------


def release(
    release_id: str,
    text_chars: int = TEXT_CHARS,
    body: str | None = None,
    channels: tuple[str, ...] = ("telegram",),
) -> Any:
    """A release whose one Telegram message is `text_chars` characters (HTML included); for
    the Telegram channel only unless `channels` says otherwise."""
    from publisher.release import release_from_mapping
    from publisher.services import render_all

    def make(text: str) -> Any:
        return release_from_mapping(
            {
                "id": release_id,
                "title": "Delegation meets the German envoy in Berlin",
                "date": "2024-05-01T09:00:00+03:00",
                "summary": "The delegation called for action to protect civilians in Idlib.",
                "source": "Media Department",
                "category": "Coalition News",
                "channels": list(channels),
                "body": text,
            }
        )

    if body is not None:
        return make(body)
    length = 300
    for _ in range(4):  # the message grows one character per body character
        text = (FILLER * (length // len(FILLER) + 1))[:length].rstrip() + "."
        rel = make(text)
        got = len(render_all(rel)["channels"]["telegram"]["messages"][0]["text"])
        if got == text_chars:
            return rel
        length += text_chars - got
    raise RuntimeError(f"cannot make a {text_chars}-character message (got {got})")


def message_text(rendered: dict[str, Any]) -> str:
    messages = rendered["channels"]["telegram"]["messages"]
    if len(messages) != 1:
        raise RuntimeError(f"expected one message, got {len(messages)}")
    return str(messages[0]["text"])


def subscribers(count: int, base: int = CHAT_BASE) -> dict[str, dict[str, Any]]:
    """`count` private chats, as `publisher subscribers import` stores them."""
    return {str(base + i): {"language": "", "categories": []} for i in range(count)}


# -- the pipeline -------------------------------------------------------------------------------


class Telegram:
    """The Redis, the peer and this process's settings shared by the pipeline runs."""

    def __init__(
        self, redis: BenchRedis, peer: PeerProcess, limit: str | None, warm_up: int = WARM_UP
    ) -> None:
        extra = {
            "TELEGRAM_BOT_TOKEN": peer.info["token"],
            "TELEGRAM_API_URL": peer.info["base_url"],
        }
        if limit is not None:
            extra["TELEGRAM_RATE_LIMIT"] = limit
        self.peer = peer
        self.pipeline = Pipeline(redis, publisher_env(redis, **extra))
        self.serial = 0
        self.warm_up = warm_up

    def fan_out(
        self, count: int, timeout_s: float = 1800, channels: tuple[str, ...] = ("telegram",)
    ) -> Delivered:
        """A fresh Redis and worker; warm the worker up; then time one release to `count`.

        With more `channels` than Telegram, the same release also goes to the X account and
        journalists (dry runs: no credentials) and the website (built for real), so the
        worker has loaded every sender; the time is still the Telegram channel's."""
        from publisher.services import render_all

        self.serial += 1
        self.pipeline.reset()
        store = self.pipeline.store()
        with self.pipeline.worker() as worker:
            if self.warm_up:
                warm = release(f"warm-up-{self.serial}", body="Warm-up.")
                chats = subscribers(self.warm_up, WARM_BASE)
                self.pipeline.warm_up(store, "telegram", warm, render_all(warm), chats)
            store.add_recipients("telegram", subscribers(count))
            measured = release(f"fan-out-{self.serial}", channels=channels)
            done = self.pipeline.deliver(
                store, worker, self.peer, measured, render_all(measured), "telegram", count,
                timeout_s,
            )  # fmt: skip
        check_pipeline(done, count)
        return done


def check_pipeline(done: Delivered, count: int) -> None:
    """Every subscriber got the message exactly once, and every record says so."""
    peer = done.peer
    if done.counts["sent"] != count or peer["sent"] != count or peer["chats"] != count:
        raise RuntimeError(f"pipeline: {count} subscribers, records {done.counts}, peer {peer}")


# -- the baselines ------------------------------------------------------------------------------


@dataclass
class Baseline:
    """One bare-client run: wall time, this process's CPU time, the peer's CPU time."""

    elapsed_s: float
    client_cpu_s: float
    peer_cpu_s: float
    sent: int

    @property
    def rate(self) -> float:
        return self.sent / self.elapsed_s


def measure(peer: PeerProcess, count: int, send: Callable[[], None]) -> Baseline:
    peer.call("reset")
    cpu0, peer0 = self_cpu_s(), peer.cpu_s()
    started = time.perf_counter()
    send()
    elapsed = time.perf_counter() - started
    cpu1, peer1 = self_cpu_s(), peer.cpu_s()
    summary = peer.call("summary")
    if summary["sent"] != count or summary["chats"] != count:
        raise RuntimeError(f"baseline sent {summary['sent']} of {count}: {summary['statuses']}")
    return Baseline(elapsed, cpu1 - cpu0, peer1 - peer0, summary["sent"])


def bare_aiohttp(peer: PeerProcess, chats: list[str], text: str, uvloop: bool = False) -> None:
    """sendMessage POSTs (form-encoded, as PTB sends them) from one session, 64 at a time;
    on asyncio's own event loop, or on uvloop's (the worker's)."""
    import aiohttp

    url = f"{peer.info['base_url']}/bot{peer.info['token']}/sendMessage"

    async def main() -> None:
        limit = asyncio.Semaphore(CONCURRENCY)
        connector = aiohttp.TCPConnector(limit=CONCURRENCY)
        async with aiohttp.ClientSession(connector=connector) as session:

            async def one(chat: str) -> None:
                async with limit:
                    form = {"chat_id": chat, "text": text, "parse_mode": "HTML"}
                    async with session.post(url, data=form) as response:
                        answer = await response.json()
                        if not answer.get("ok"):
                            raise RuntimeError(f"sendMessage: {answer}")

            await asyncio.gather(*(one(chat) for chat in chats))

    if uvloop:
        from publisher.runtime import new_event_loop

        with asyncio.Runner(loop_factory=new_event_loop) as runner:
            runner.run(main())
    else:
        asyncio.run(main())


def bare_aiohttp_uvloop(peer: PeerProcess, chats: list[str], text: str) -> None:
    bare_aiohttp(peer, chats, text, uvloop=True)


def bare_ptb(peer: PeerProcess, chats: list[str], text: str) -> None:
    """python-telegram-bot's `Bot` with its default request layer (httpx), 64 at a time."""
    import telegram

    async def main() -> None:
        limit = asyncio.Semaphore(CONCURRENCY)
        bot = telegram.Bot(peer.info["token"], base_url=f"{peer.info['base_url']}/bot")
        async with bot:

            async def one(chat: str) -> None:
                async with limit:
                    await bot.send_message(int(chat), text, parse_mode="HTML")

            await asyncio.gather(*(one(chat) for chat in chats))

    asyncio.run(main())


def apprise_plugin(peer: PeerProcess, chats: list[str]) -> Any:
    """Apprise's Telegram plugin pointed at the peer: a subclass with the peer's `notify_url`.

    Apprise builds its requests from the class attribute `notify_url`
    (`https://api.telegram.org/bot`), so the subclass changes only that.
    """
    from apprise.plugins.telegram import NotifyTelegram

    loopback = type("LoopbackTelegram", (NotifyTelegram,), {
        "notify_url": f"{peer.info['base_url']}/bot",
    })  # fmt: skip
    return loopback(bot_token=peer.info["token"], targets=chats, detect_owner=False)


def bare_apprise(peer: PeerProcess, chats: list[str], text: str) -> None:
    """One Apprise notification to every chat (its plugin loops over the targets)."""
    import apprise

    notifier = apprise.Apprise()
    notifier.add(apprise_plugin(peer, chats))
    if not notifier.notify(body=text, body_format=apprise.NotifyFormat.HTML):
        raise RuntimeError("Apprise reported a failed notification")


BASELINES: dict[str, tuple[str, Callable[[PeerProcess, list[str], str], None]]] = {
    "aiohttp": ("bare aiohttp loop (64 in flight, one process)", bare_aiohttp),
    "aiohttp-uvloop": ("the same aiohttp loop on uvloop", bare_aiohttp_uvloop),
    "ptb": ("bare python-telegram-bot loop (httpx, 64 in flight)", bare_ptb),
    "apprise": ("Apprise Telegram plugin (one notify, all chats as targets)", bare_apprise),
}


# -- rate limit, Redis footprint ------------------------------------------------------------------


def steady_rate(times: list[float]) -> float:
    """Messages started per second over the middle 80% of the arrivals (no ramp-up, no tail)."""
    if len(times) < 10:
        return len(times) / max(times[-1] - times[0], 1e-9) if len(times) > 1 else 0.0
    lo, hi = len(times) // 10, len(times) - 1 - len(times) // 10
    return (hi - lo) / (times[hi] - times[lo])


@dataclass
class RateRun:
    rate: float
    overall: float
    rate_limited: int
    max_in_window: int
    sent: int


def rate_run(tg: Telegram, count: int, serial: int) -> RateRun:
    """The default limit: one release to `count` subscribers; what the strict peer saw."""
    from publisher.services import render_all

    tg.pipeline.reset()
    store = tg.pipeline.store()
    with tg.pipeline.worker() as worker:
        store.add_recipients("telegram", subscribers(count, CHAT_BASE + serial * count))
        measured = release(f"rate-{serial}")
        done = tg.pipeline.deliver(
            store, worker, tg.peer, measured, render_all(measured), "telegram", count, 600
        )
        times = tg.peer.call("send_times")
        in_window = tg.peer.call("max_in_window", 1.0)
    check_pipeline(done, count)
    overall = (len(times) - 1) / (times[-1] - times[0])
    return RateRun(steady_rate(times), overall, done.peer["rate_limited"], in_window, len(times))


def record_bytes(tg: Telegram, count: int) -> tuple[float, float]:
    """Redis `used_memory` per delivery record: (queued, sent), over `count` records."""
    import asyncio

    import redis.asyncio

    from publisher.store import Ledger, Outcome, new_token

    tg.pipeline.reset()
    store = tg.pipeline.store()
    client = tg.pipeline.redis.client()
    addresses = list(subscribers(count))

    def used() -> int:
        return int(client.info("memory")["used_memory"])

    before = used()
    store.create_records("memory", "telegram", addresses, 500)
    queued = used()
    token = new_token()

    async def deliver_all() -> None:  # as batch tasks record them: claim, start, finish
        ledger = Ledger(redis.asyncio.Redis.from_url(tg.pipeline.redis.url))
        for batch_id in store.queued_batches("memory", "telegram"):
            chunk = list(await ledger.claim("memory", "telegram", batch_id, token, 30.0))
            await ledger.start("memory", "telegram", chunk, token)
            await ledger.finish("memory", "telegram", [Outcome(a, "sent", ["1"]) for a in chunk])
        await ledger.redis.aclose()

    asyncio.run(deliver_all())
    sent = used()
    return (queued - before) / count, (sent - before) / count


# -- the section ----------------------------------------------------------------------------------


def _spread(values: list[float], fmt: Callable[[float], str]) -> str:
    return "–" if len(values) < 2 else f"{fmt(min(values))} – {fmt(max(values))}"


def _rate(value: float) -> str:
    return f"{value:,.0f} msg/s" if value >= 100 else f"{value:.1f} msg/s"


def _ratio(value: float) -> str:
    return f"{value:.2f}×"


def _target(ok: bool, text: str) -> str:
    return f"yes ({text})" if ok else f"NO ({text})"


def _pipeline_row(
    size: int, runs: list[Delivered], target: str = "", peer: str = "peer"
) -> list[str]:
    rates = [d.rate for d in runs]
    mid = sorted(runs, key=lambda d: d.rate)[len(runs) // 2]
    main_cpu_s = mid.worker_cpu_s - mid.pool_cpu_s
    details = (
        f"{fmt_s(mid.elapsed_s)} submit → last outcome; first message after "
        f"{fmt_s(mid.first_s)}; CPU ms per message: worker pool {1000 * mid.pool_cpu_s / size:.3f} "
        f"(+ main {1000 * main_cpu_s / size:.3f}), Redis {1000 * mid.redis_cpu_s / size:.3f}, "
        f"peer {1000 * mid.peer_cpu_s / size:.3f}; "
        f"worker peak {fmt_mb(mid.peak_sum_mib)} RSS / {fmt_mb(mid.peak_pss_mib)} PSS summed over "
        f"{mid.processes} processes, largest {fmt_mb(mid.largest_mib)}"
    )
    return [
        f"pipeline: `submit` → `publisher worker` (2 processes) → {peer}",
        fmt_int(size),
        _rate(statistics.median(rates)),
        _spread(rates, _rate),
        str(len(runs)),
        details,
        target,
    ]


def run(quick: bool) -> Section:
    """Measure the fan-out, the baselines, the rate limit, memory; see the module docstring."""
    started = time.monotonic()
    load_at_start = load_average()
    sizes = QUICK_SIZES[:1] if quick else SIZES
    base_size = QUICK_BASELINE_SIZE if quick else BASELINE_SIZE
    repeats = 1 if quick else REPEATS
    rows: list[list[str]] = []
    notes: list[str] = []
    pipeline_runs: dict[int, list[Delivered]] = {size: [] for size in sizes}
    baseline_runs: dict[str, list[Baseline]] = {name: [] for name in BASELINES}
    bare_pipeline_runs: list[Delivered] = []
    bare_baseline_runs: dict[str, list[Baseline]] = {name: [] for name in BARE_BASELINES}
    with (
        BenchRedis() as redis,
        PeerProcess("telegram") as peer,
        PeerProcess("telegram-bare") as bare_peer,
    ):
        from publisher.services import render_all

        tg = Telegram(redis, peer, FAST_LIMIT, 0 if quick else WARM_UP)
        tg_bare = Telegram(redis, bare_peer, FAST_LIMIT, 0 if quick else WARM_UP)
        with this_process_as(tg.pipeline.env):
            text = message_text(render_all(release("baseline")))
            chats = list(subscribers(base_size))
            # The comparisons take turns, so that load drift on the machine hits them alike.
            for _ in range(repeats):
                pipeline_runs.setdefault(base_size, []).append(tg.fan_out(base_size))
                for name, (_label, send) in BASELINES.items():
                    baseline_runs[name].append(
                        measure(peer, base_size, lambda s=send: s(peer, chats, text))  # type: ignore[misc]
                    )
                tg_bare.serial = tg.serial  # release ids stay unique across both
                bare_pipeline_runs.append(tg_bare.fan_out(base_size))
                tg.serial = tg_bare.serial
                for name in BARE_BASELINES:
                    send = BASELINES[name][1]
                    bare_baseline_runs[name].append(
                        measure(bare_peer, base_size, lambda s=send: s(bare_peer, chats, text))  # type: ignore[misc]
                    )
            for size in sizes:
                if size == base_size or size == max(sizes):
                    continue
                pipeline_runs[size] += [tg.fan_out(size) for _ in range(repeats)]
            # Memory with every sender loaded (X and website are imported on first use).
            all_channels = tg.fan_out(base_size, channels=ALL_CHANNELS)
            big = max(sizes)
            if big != base_size:
                rate = statistics.median(d.rate for d in pipeline_runs[base_size])
                projected_s = (big / rate + 10) * repeats
                big_repeats = repeats
                if time.monotonic() - started + projected_s > SECTION_BUDGET_S:
                    big_repeats = 1
                    notes.append(
                        f"{fmt_int(big)} ran once: three runs were projected to take "
                        f"{fmt_s(projected_s)}, over this section's "
                        f"{SECTION_BUDGET_S / 60:.0f}-minute budget."
                    )
                pipeline_runs[big] = [tg.fan_out(big) for _ in range(big_repeats)]
        strict = Telegram(redis, peer, None)  # TELEGRAM_RATE_LIMIT unset: the default 30/s
        rate_count = QUICK_RATE_SUBSCRIBERS if quick else RATE_SUBSCRIBERS
        peer.call("set", "rate_limit_per_s", RATE_LIMIT)
        with this_process_as(strict.pipeline.env):
            rate_runs = [rate_run(strict, rate_count, i) for i in range(repeats)]
        peer.call("set", "rate_limit_per_s", None)
        with this_process_as(tg.pipeline.env):
            queued_b, sent_b = record_bytes(tg, QUICK_RECORDS if quick else RECORDS)

    rows += _fanout_rows(sorted(pipeline_runs), pipeline_runs, baseline_runs, base_size)
    rows += _bare_rows(
        pipeline_runs[base_size], baseline_runs, bare_pipeline_runs, bare_baseline_runs, base_size
    )
    rows.append(_rate_row(rate_runs, rate_count))
    rows += _memory_rows(pipeline_runs[base_size], all_channels, base_size, queued_b, sent_b, quick)
    notes += PROFILE_NOTES
    notes.append(
        f"Load average (1 min) at the start: {load_at_start}, at the end: {load_average()}. "
        f"Everything shares this machine's "
        f"{cpu_count()} CPUs: the worker's processes, Redis, the peer and the client."
    )
    return Section("Telegram fan-out", _method(base_size, rate_count), HEADER, rows, notes)


RATIO_TARGETS = {"aiohttp": 0.7, "aiohttp-uvloop": 0.0, "ptb": 0.0, "apprise": 3.0}
FLAT = 0.9  # "flat": the largest size keeps at least this share of the 10,000 rate
MEMORY_TARGET_MB = 150
ALL_CHANNELS = ("telegram", "x", "email", "website")
RECORD_TARGET_B = 150


def _fanout_rows(
    sizes: list[int],
    pipeline_runs: dict[int, list[Delivered]],
    baseline_runs: dict[str, list[Baseline]],
    base_size: int,
) -> list[list[str]]:
    rows = []
    base_rate = statistics.median(d.rate for d in pipeline_runs[base_size])
    for size in sizes:
        target = ""
        if size > base_size:
            share = statistics.median(d.rate for d in pipeline_runs[size]) / base_rate
            target = _target(share >= FLAT, f"{share:.2f}× the {fmt_int(base_size)} rate")
        rows.append(_pipeline_row(size, pipeline_runs[size], target))
    for name, runs in baseline_runs.items():
        rates = [b.rate for b in runs]
        mid = sorted(runs, key=lambda b: b.rate)[len(runs) // 2]
        per_k = 1000 / base_size
        details = (
            f"{fmt_s(mid.elapsed_s)}; CPU s per 1,000: client {per_k * mid.client_cpu_s:.2f}, "
            f"peer {per_k * mid.peer_cpu_s:.2f}"
        )
        label = BASELINES[name][0]
        rows.append([f"baseline: {label}", fmt_int(base_size), _rate(statistics.median(rates)),
                     _spread(rates, _rate), str(len(runs)), details, "(baseline)"])  # fmt: skip
    for name, runs in baseline_runs.items():
        pairs = [p.rate / b.rate for p, b in zip(pipeline_runs[base_size], runs, strict=False)]
        ratio = statistics.median(pairs)
        want = RATIO_TARGETS[name]
        target = _target(ratio >= want, f"≥ {want:g}×") if want else ""
        rows.append([f"ratio: pipeline ÷ {name}", fmt_int(base_size), _ratio(ratio),
                     _spread(pairs, _ratio), str(len(pairs)),
                     "each pipeline run against the baseline run next to it", target])  # fmt: skip
    return rows


def _bare_rows(
    pipeline: list[Delivered],
    baselines: dict[str, list[Baseline]],
    bare_pipeline: list[Delivered],
    bare_baselines: dict[str, list[Baseline]],
    size: int,
) -> list[list[str]]:
    """Against the bare stand-in: the pipeline, the loops, and both stand-ins' ratios (rate and
    CPU per message), each pipeline run paired with the loop run next to it."""
    per_k = 1000 / size
    rows = [_pipeline_row(size, bare_pipeline, peer="bare stand-in")]
    for name, runs in bare_baselines.items():
        rates = [b.rate for b in runs]
        mid = sorted(runs, key=lambda b: b.rate)[len(runs) // 2]
        details = (
            f"{fmt_s(mid.elapsed_s)}; CPU ms per message: client {per_k * mid.client_cpu_s:.3f}, "
            f"peer {per_k * mid.peer_cpu_s:.3f}"
        )
        label = BASELINES[name][0]
        rows.append([f"baseline on the bare stand-in: {label}", fmt_int(size),
                     _rate(statistics.median(rates)), _spread(rates, _rate), str(len(runs)),
                     details, "(baseline)"])  # fmt: skip
    pairs = [
        p.rate / b.rate for p, b in zip(bare_pipeline, bare_baselines["aiohttp"], strict=False)
    ]
    ratio = statistics.median(pairs)
    rows.append(["ratio on the bare stand-in: pipeline ÷ aiohttp", fmt_int(size), _ratio(ratio),
                 _spread(pairs, _ratio), str(len(pairs)),
                 "each pipeline run against the baseline run next to it",
                 _target(ratio >= RATIO_TARGETS["aiohttp"], "≥ 0.7×")])  # fmt: skip
    for where, piped, loops in (
        ("FakeBotAPI", pipeline, baselines["aiohttp"]),
        ("the bare stand-in", bare_pipeline, bare_baselines["aiohttp"]),
    ):
        cpu = [(p.pool_cpu_s / p.recipients) / (b.client_cpu_s / b.sent) for p, b in
               zip(piped, loops, strict=False)]  # fmt: skip
        cpu_ratio = statistics.median(cpu)
        pool_ms = statistics.median(1000 * p.pool_cpu_s / p.recipients for p in piped)
        loop_ms = statistics.median(1000 * b.client_cpu_s / b.sent for b in loops)
        details = (
            f"worker pool processes {pool_ms:.3f} ms per message against the loop's "
            f"{loop_ms:.3f} (medians); each pipeline run against the loop run next to it"
        )
        rows.append([f"CPU per message on {where}: worker pool ÷ aiohttp loop", fmt_int(size),
                     _ratio(cpu_ratio), _spread(cpu, _ratio), str(len(cpu)), details,
                     _target(cpu_ratio <= CPU_TARGET, f"≤ {CPU_TARGET:g}×")])  # fmt: skip
    return rows


def _rate_row(runs: list[RateRun], count: int) -> list[str]:
    rates = [r.rate for r in runs]
    rate = statistics.median(rates)
    refused = sum(r.rate_limited for r in runs)
    most = max(r.max_in_window for r in runs)
    share = rate / RATE_LIMIT
    details = (
        f"{share:.1%} of {RATE_LIMIT}/s over the middle 80% of arrivals (whole run "
        f"{statistics.median(r.overall for r in runs):.1f}/s); 429 answers: {refused}; most "
        f"requests in any sliding 1 s: {most}"
    )
    ok = share >= 0.97 and refused == 0 and most <= RATE_LIMIT
    return ["rate limit: default 30/s, peer refuses the 31st request in any 1 s", fmt_int(count),
            _rate(rate), _spread(rates, _rate), str(len(runs)), details,
            _target(ok, "≥ 97% of the limit, no 429")]  # fmt: skip


def _memory_rows(
    runs: list[Delivered],
    all_channels: Delivered,
    size: int,
    queued_b: float,
    sent_b: float,
    quick: bool,
) -> list[list[str]]:
    limit_mib = MEMORY_TARGET_MB * 1e6 / 2**20
    target = f"< {MEMORY_TARGET_MB} MB = {limit_mib:.0f} MiB"
    records = QUICK_RECORDS if quick else RECORDS
    rows = []
    kinds = [
        ("worker peak PSS, summed over its processes (main with beat, 2 pool)", "peak_pss_mib",
         f"sampled every 50 ms during the fan-out; {runs[0].processes} processes; pages the "
         "forked processes share are split between them: the memory the worker takes", True),
        ("worker peak RSS, summed over its processes", "peak_sum_mib",
         "the same samples; pages the forked processes share are counted in each", False),
        ("worker peak RSS, largest single process", "largest_mib",
         "the larger of the samples and VmHWM", False),
    ]  # fmt: skip
    for label, attribute, details, judged in kinds:
        values = [getattr(d, attribute) for d in runs]
        value = statistics.median(values)
        verdict = _target(value < limit_mib, target) if judged else "(context)"
        rows.append([label, fmt_int(size), fmt_mb(value), _spread(values, fmt_mb),
                     str(len(runs)), details, verdict])  # fmt: skip
    pss = all_channels.peak_pss_mib
    rows.append(
        ["worker peak PSS, summed, a release to all four channels", fmt_int(size), fmt_mb(pss),
         "–", "1", f"the same release also to X and email (dry runs: the outbox sender, so not "
         f"tweepy) and the website (built: a pool process loads the render stack and the site "
         f"builder); RSS summed "
         f"{fmt_mb(all_channels.peak_sum_mib)}, largest {fmt_mb(all_channels.largest_mib)}",
         _target(pss < limit_mib, target)]
    )  # fmt: skip
    per_record = f"< {RECORD_TARGET_B} B"
    return rows + [
        ["Redis bytes per delivery record, as created (queued)", fmt_int(records),
         f"{queued_b:.0f} B", "–", "1", "`used_memory` after `Store.create_records` minus "
         "before, ÷ records: the record in the release's hash and its id in its batch's list",
         _target(queued_b < RECORD_TARGET_B, per_record)],
        ["Redis bytes per delivery record, sent", fmt_int(records), f"{sent_b:.0f} B", "–", "1",
         "after claim → start → finish(sent) of every record, as a batch task does (the "
         "batches and lease entries are gone)", _target(sent_b < RECORD_TARGET_B, per_record)],
    ]  # fmt: skip


def _method(base_size: int, rate_count: int) -> str:
    return f"""
Every figure comes from one run of this section, against one loopback Bot API (`FakeBotAPI` of
tests/peers, in its own process so it never shares a GIL with the client measured; it parses
each request, checks the HTML and stores the message). Redis is the embedded server
(`publisher.redis_server`) on a unix socket. Medians of {REPEATS} runs, with the spread.

*Pipeline*: a fresh Redis and a fresh real `publisher worker` (Celery prefork, the default
concurrency: one process per CPU, plus its main process, which runs beat as a thread) per run,
warmed up with a {WARM_UP}-subscriber release (not in --quick); then N subscribers are added
to the store and this process calls `publisher.publishing.submit` (as `publisher publish`
does); the time runs from that call until Redis counts every record done (`pending` 0), and
every subscriber is checked to have exactly one message at the peer. TELEGRAM_RATE_LIMIT=100000
keeps the shared limiter out of the way (it still runs: one Lua call per chunk of waiters, and
the per-chat scopes). One message of {TEXT_CHARS} characters (HTML parse mode), no photo. The
worker runs on uvloop with hiredis, as installed by the project.

*Baselines* (at {fmt_int(base_size)}, taking turns with the pipeline runs): the same
{TEXT_CHARS}-character sendMessage to the same chats from this process, {CONCURRENCY} in flight
(what the pipeline allows: 2 processes × PUBLISHER_MAX_IN_FLIGHT 32): a bare `aiohttp` session;
python-telegram-bot's `Bot` with its default `HTTPXRequest`, `asyncio.gather` under a semaphore;
Apprise's `NotifyTelegram`, subclassed only to set `notify_url` to the peer, in one `notify` with
every chat as a target (it sends them one after another, a new connection each). No baseline
records anything anywhere.

*The bare stand-in* (`BareBotAPI` in bench/peers.py, its own process): a raw asyncio protocol on
uvloop that reads a request up to its Content-Length, counts its chat_id and writes one prebuilt
sendMessage answer on the kept-alive connection, nothing else; against it the pipeline (the same
fresh worker, warm-up and check) and the two aiohttp loops run at {fmt_int(base_size)}, taking
turns with the runs above. python-telegram-bot's own loop needs getMe, which it does not answer.
CPU per message: the worker's pool processes (the ones that send; its main process, which runs
beat and hands out tasks, is shown beside) against the bare loop's process.

*Rate limit*: TELEGRAM_RATE_LIMIT unset (30/s) and the peer set to answer 429 to any request past
30 in a sliding second; {fmt_int(rate_count)} subscribers; the rate is counted at the peer from
arrival times. CPU seconds come from /proc (worker: all its processes), RSS from /proc every 50 ms.
"""
