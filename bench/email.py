"""Email to journalists through the real pipeline, against bare SMTP clients on the same peer.

Measured in one run: the seed example release by email to 10,000 journalists through a real
`publisher worker` (SMTP_URL set to a loopback aiosmtpd in its own process), each message with its
own To and its own signed unsubscribe link; the same count sent by a bare smtplib loop on one
connection (one prebuilt message, only the envelope recipient changes) and by Apprise's email
plugin (one notify, every journalist a target).

Targets: >= 0.9x the bare smtplib loop and >= 1.8x Apprise.
"""

from __future__ import annotations

import dataclasses
import smtplib
import statistics
import time
from email.utils import formatdate, make_msgid
from typing import Any

from bench.common import REPO_ROOT, Section, cpu_count, fmt_int, fmt_mb, fmt_s, load_average
from bench.fanout import Baseline
from bench.peers import (
    BenchRedis,
    Delivered,
    PeerProcess,
    Pipeline,
    publisher_env,
    self_cpu_s,
    this_process_as,
)

SIZE = 10_000
QUICK_SIZE = 300
REPEATS = 3
WARM_UP = 600  # more than one batch (500): both pool processes open their connections
MAIL_FROM = "Press Office <press@example.org>"
SENDER = "press@example.org"
SEED_EXAMPLE = (
    REPO_ROOT
    / "examples"
    / "releases"
    / "2020-02-11-the-assad-regime-forces-on-tuesday-launched-a-deadly-attack.md"
)
TARGETS = {"smtplib": 0.9, "apprise": 1.8}
HEADER = ["Measurement", "Size", "Median", "Spread (min – max)", "Runs", "Details", "Target met"]


def email_release(release_id: str) -> Any:
    """The seed example release, email only, under another id."""
    from publisher.release import load_release

    return dataclasses.replace(load_release(SEED_EXAMPLE), id=release_id, channels=("email",))


def journalists(count: int, prefix: str = "j") -> dict[str, dict[str, Any]]:
    """`count` journalists, as `publisher journalists import` stores them."""
    return {
        f"{prefix}{i}@example.org": {"name": f"Journalist {i}", "language": "en", "beats": []}
        for i in range(count)
    }


class Email:
    """The Redis, the SMTP peer and this process's settings shared by the pipeline runs."""

    def __init__(self, redis: BenchRedis, peer: PeerProcess, warm_up: int) -> None:
        env = publisher_env(redis, SMTP_URL=peer.info["url"], MAIL_FROM=MAIL_FROM)
        self.peer = peer
        self.pipeline = Pipeline(redis, env)
        self.warm_up = warm_up
        self.serial = 0

    def send(self, count: int, timeout_s: float = 1800) -> Delivered:
        """A fresh Redis and worker; warm the worker up; then time one release to `count`."""
        from publisher.services import render_all

        self.serial += 1
        self.pipeline.reset()
        store = self.pipeline.store()
        with self.pipeline.worker() as worker:
            if self.warm_up:
                warm = email_release(f"warm-up-{self.serial}")
                people = journalists(self.warm_up, "warm")
                self.pipeline.warm_up(store, "email", warm, render_all(warm), people)
            store.add_recipients("email", journalists(count))
            measured = email_release(f"email-{self.serial}")
            done = self.pipeline.deliver(
                store, worker, self.peer, measured, render_all(measured), "email", count, timeout_s
            )
        peer = done.peer
        if not (
            done.counts["sent"] == count
            and peer["messages"] == peer["recipients"] == count
            and peer["personalised"] == peer["unsubscribe_links"] == count
        ):
            raise RuntimeError(f"pipeline: {count} journalists, records {done.counts}, peer {peer}")
        return done


def prebuilt_message(rendered: dict[str, Any]) -> bytes:
    """The rendered email filled in once (for the first journalist), as bytes."""
    from publisher.channels.email_mime import personalize
    from publisher.links import unsubscribe_url

    return personalize(
        rendered["channels"]["email"]["mime"],
        to="Journalist 0 <j0@example.org>",
        unsubscribe_url=unsubscribe_url("email", "j0@example.org"),
        message_id=make_msgid(domain="example.org"),
        date=formatdate(),
    )


def bare_smtplib(peer: PeerProcess, addresses: list[str], data: bytes) -> None:
    """One connection, one prebuilt message; only the envelope recipient changes."""
    with smtplib.SMTP(peer.info["host"], peer.info["port"], timeout=30) as smtp:
        smtp.ehlo()
        for address in addresses:
            smtp.sendmail(SENDER, [address], data)


def bare_apprise(peer: PeerProcess, addresses: list[str], subject: str, html: str) -> None:
    """Apprise's email plugin, plain SMTP to the peer, one notify with every journalist."""
    import apprise
    from apprise.plugins.email import NotifyEmail

    url = f"mailto://{peer.info['host']}:{peer.info['port']}?mode=insecure&from={SENDER}"
    options = NotifyEmail.parse_url(url)  # type: ignore[no-untyped-call]
    options["targets"] = addresses
    notifier = apprise.Apprise()
    notifier.add(NotifyEmail(**options))  # type: ignore[no-untyped-call]
    if not notifier.notify(body=html, title=subject, body_format=apprise.NotifyFormat.HTML):
        raise RuntimeError("Apprise reported a failed notification")


def _rate(value: float) -> str:
    return f"{value:,.0f} msg/s"


def _spread(values: list[float], fmt: Any) -> str:
    return "–" if len(values) < 2 else f"{fmt(min(values))} – {fmt(max(values))}"


def run(quick: bool) -> Section:
    """Measure email through the pipeline and the two baselines; see the module docstring."""
    from publisher.services import render_all

    size = QUICK_SIZE if quick else SIZE
    repeats = 1 if quick else REPEATS
    addresses = list(journalists(size))
    pipeline_runs: list[Delivered] = []
    baseline_runs: dict[str, list[Baseline]] = {"smtplib": [], "apprise": []}
    with BenchRedis() as redis, PeerProcess("smtp") as peer:
        mail = Email(redis, peer, 0 if quick else WARM_UP)
        with this_process_as(mail.pipeline.env):
            rendered = render_all(email_release("baseline"))
            data = prebuilt_message(rendered)
            subject = rendered["channels"]["email"]["subject"]
            html = rendered["channels"]["email"]["html"]
            for _ in range(repeats):  # taking turns, so that load drift hits them alike
                pipeline_runs.append(mail.send(size))
                baseline_runs["smtplib"].append(
                    measure_smtp(peer, size, lambda: bare_smtplib(peer, addresses, data))
                )
                baseline_runs["apprise"].append(
                    measure_smtp(peer, size, lambda: bare_apprise(peer, addresses, subject, html))
                )
    rows = [_pipeline_row(size, pipeline_runs)]
    labels = {
        "smtplib": "bare smtplib loop, one connection, prebuilt message",
        "apprise": "Apprise email plugin (one notify, every journalist a target)",
    }
    for name, runs in baseline_runs.items():
        rates = [b.rate for b in runs]
        mid = sorted(runs, key=lambda b: b.rate)[len(runs) // 2]
        details = (
            f"{fmt_s(mid.elapsed_s)}; CPU s per 1,000: client {1000 * mid.client_cpu_s / size:.2f}"
            f", peer {1000 * mid.peer_cpu_s / size:.2f}"
        )
        rows.append([f"baseline: {labels[name]}", fmt_int(size), _rate(statistics.median(rates)),
                     _spread(rates, _rate), str(len(runs)), details, "(baseline)"])  # fmt: skip
    for name, runs in baseline_runs.items():
        pairs = [p.rate / b.rate for p, b in zip(pipeline_runs, runs, strict=True)]
        ratio = statistics.median(pairs)
        want = TARGETS[name]
        verdict = f"yes (≥ {want:g}×)" if ratio >= want else f"NO (≥ {want:g}×)"
        rows.append([f"ratio: pipeline ÷ {name}", fmt_int(size), f"{ratio:.2f}×",
                     _spread(pairs, lambda v: f"{v:.2f}×"), str(len(pairs)),
                     "each pipeline run against the baseline runs after it", verdict])  # fmt: skip
    notes = [
        f"Message: the seed example release ({len(data):,} bytes as sent, multipart/alternative "
        "text + HTML); the pipeline's copies differ per journalist in To, Date, Message-ID and "
        "the unsubscribe link (header and both bodies), checked at the peer for every message.",
        f"Load average (1 min) at the end: {load_average()}. Everything shares this machine's "
        f"{cpu_count()} CPUs: the worker's processes, Redis, the peer and the client.",
    ]
    return Section("Email to journalists", _method(size), HEADER, rows, notes)


def measure_smtp(peer: PeerProcess, count: int, send: Any) -> Baseline:
    """One baseline run: wall time, CPU times, and every message at the peer."""
    peer.call("reset")
    cpu0, peer0 = self_cpu_s(), peer.cpu_s()
    started = time.perf_counter()
    send()
    elapsed = time.perf_counter() - started
    cpu1, peer1 = self_cpu_s(), peer.cpu_s()
    summary = peer.call("summary")
    if summary["messages"] != count or summary["recipients"] != count:
        raise RuntimeError(f"baseline delivered {summary['messages']} of {count}: {summary}")
    return Baseline(elapsed, cpu1 - cpu0, peer1 - peer0, summary["messages"])


def _pipeline_row(size: int, runs: list[Delivered]) -> list[str]:
    rates = [d.rate for d in runs]
    mid = sorted(runs, key=lambda d: d.rate)[len(runs) // 2]
    details = (
        f"{fmt_s(mid.elapsed_s)} submit → last outcome; first message after "
        f"{fmt_s(mid.first_s)}; CPU s per 1,000: worker {1000 * mid.worker_cpu_s / size:.2f}, "
        f"Redis {1000 * mid.redis_cpu_s / size:.2f}, peer {1000 * mid.peer_cpu_s / size:.2f}; "
        f"worker peak {fmt_mb(mid.peak_sum_mib)} RSS / {fmt_mb(mid.peak_pss_mib)} PSS summed, "
        f"largest {fmt_mb(mid.largest_mib)}; {mid.peer['connections']} SMTP connections opened "
        "during the run (a warm worker reuses its pooled ones)"
    )
    return ["pipeline: `submit` → `publisher worker` (2 processes) → SMTP peer", fmt_int(size),
            _rate(statistics.median(rates)), _spread(rates, _rate), str(len(runs)), details,
            ""]  # fmt: skip


def _method(size: int) -> str:
    return f"""
Every figure comes from one run of this section, against one loopback SMTP server (`SMTPPeer` of
tests/peers: aiosmtpd, in its own process so it never shares a GIL with the client measured; it
keeps every message). Medians of {REPEATS} runs, with the spread; the three take turns.

*Pipeline*: a fresh Redis (embedded, unix socket) and a fresh real `publisher worker` (Celery
prefork, default concurrency: one process per CPU) per run, with SMTP_URL set to the peer,
warmed up with a {WARM_UP}-journalist release (not in --quick); then {fmt_int(size)} journalists
are added to the store and this process calls `publisher.publishing.submit`; the time runs from
that call until Redis counts every record done (`pending` 0).

*Baselines*, from this process to the same peer: smtplib on one connection sending one prebuilt
message (the same rendered email, filled in once) with only the envelope recipient changed; and
Apprise's `NotifyEmail` (`mailto://` in insecure mode, i.e. plain SMTP as here) with every
journalist as a target of one notify (one connection; it builds each recipient's message).
"""
