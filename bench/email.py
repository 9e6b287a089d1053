"""Email to journalists through the real pipeline, DKIM signing off and on, against bare SMTP
clients on the same peer.

Measured in one run: the seed example release by email to 10,000 journalists through a real
`publisher worker` (SMTP_URL set to a loopback aiosmtpd in its own process), each message with its
own To, its own signed unsubscribe and preferences links, unsigned, and then the same with
DKIM_PRIVATE_KEY set (RSA 2048, dkimpy with OpenSSL's RSA); the same count sent by a bare smtplib
loop on one connection (one prebuilt message, only the envelope recipient changes) and by
Apprise's email plugin (one notify, every journalist a target). Where a signed message's time
goes is measured in this process, part by part.

Targets: unsigned >= 1.32x the bare smtplib loop (as before signing existed) and >= 1.8x
Apprise; signed >= 0.5x unsigned.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import shutil
import smtplib
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from email.utils import formatdate, make_msgid
from pathlib import Path
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
TARGETS = {"smtplib": 1.32, "apprise": 1.8}
SIGNED_TARGET = 0.5  # signed >= 0.5x unsigned
DKIM_SELECTOR = "bench"
DKIM_BITS = 2048
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


def dkim_key(folder: Path) -> Path:
    """A fresh RSA private key (PEM), made by openssl as an operator would."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError("the email benchmark needs the openssl command to make a DKIM key")
    path = folder / "dkim.pem"
    subprocess.run([openssl, "genrsa", "-out", str(path), str(DKIM_BITS)], check=True,
                   capture_output=True)  # fmt: skip
    return path


class Email:
    """The Redis, the SMTP peer and this process's settings shared by the pipeline runs."""

    def __init__(
        self, redis: BenchRedis, peer: PeerProcess, warm_up: int, key: Path | None = None
    ) -> None:
        dkim = {"DKIM_PRIVATE_KEY": str(key), "DKIM_SELECTOR": DKIM_SELECTOR} if key else {}
        env = publisher_env(redis, SMTP_URL=peer.info["url"], MAIL_FROM=MAIL_FROM, **dkim)
        self.signed = key is not None
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
    from publisher.links import link, unsubscribe_url

    return personalize(
        rendered["channels"]["email"]["mime"],
        to="Journalist 0 <j0@example.org>",
        unsubscribe_url=unsubscribe_url("email", "j0@example.org"),
        message_id=make_msgid(domain="example.org"),
        date=formatdate(),
        preferences_url=link("preferences", "email", "j0@example.org"),
    )


def openssl_rsa_sign_us() -> float | None:
    """What one RSA-2048 signature costs in OpenSSL on this machine (`openssl speed`), in µs."""
    openssl = shutil.which("openssl")
    if openssl is None:
        return None
    done = subprocess.run([openssl, "speed", "-seconds", "2", "rsa2048"], capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    found = re.search(r"^rsa 2048 bits\s+([\d.]+)s", done.stdout, re.MULTILINE)
    return float(found.group(1)) * 1e6 if found else None


def per_message_costs(rendered: dict[str, Any], key: Path, repeats: int = 200) -> dict[str, float]:
    """Where one signed message's time goes in a sender, in microseconds (medians), measured in
    this process: personalize, the two links, and the signature, split into the parts it is
    made of (dkimpy's body hash and header work, and OpenSSL's RSA private-key operation), with
    what that operation costs in dkimpy's pure Python for comparison."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, utils
    from dkim import crypto

    from publisher.channels.email_mime import personalize
    from publisher.links import link, unsubscribe_url
    from publisher.senders.dkim import DkimSigner

    mime = rendered["channels"]["email"]["mime"].encode("ascii")
    signer = DkimSigner.from_file(key, DKIM_SELECTOR, "example.org")
    parsed = crypto.parse_pem_private_key(key.read_bytes())
    data = prebuilt_message(rendered)

    def links() -> None:
        unsubscribe_url("email", "j1@example.org")
        link("preferences", "email", "j1@example.org")

    def fill() -> None:
        personalize(mime, to="Journalist 1 <j1@example.org>",
                    unsubscribe_url="https://press.example.org/unsubscribe/abc",
                    message_id="<1.2@example.org>", date=formatdate(),
                    preferences_url="https://press.example.org/preferences/abc")  # fmt: skip

    class NoRSA:
        def sign(self, digest: bytes, pad: object, algorithm: object) -> bytes:
            return bytes(256)

    without_rsa = dataclasses.replace(signer, key=NoRSA())
    digest = hashlib.sha256(b"x").digest()

    parts: dict[str, Callable[[], object]] = {
        "links (unsubscribe + preferences tokens)": links,
        "personalize": fill,
        "DKIM sign, whole": lambda: signer.sign(data),
        "of which the RSA-2048 private-key operation (OpenSSL, through cryptography)": (
            lambda: signer.key.sign(digest, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))
        ),
        "of which the rest (dkimpy: parse, canonicalise, hash, fold)": (
            lambda: without_rsa.sign(data)
        ),
        "for comparison: the same RSA operation in dkimpy's pure Python": (
            lambda: crypto.RSASSA_PKCS1_v1_5_sign(hashlib.sha256(b"x"), parsed)
        ),
    }
    costs = {}
    for name, call in parts.items():
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            call()
            times.append(time.perf_counter() - t0)
        costs[name] = statistics.median(times) * 1e6
    openssl = openssl_rsa_sign_us()
    if openssl is not None:
        costs["for comparison: RSA-2048 sign in OpenSSL (openssl speed)"] = openssl
    return costs


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
    """Measure email through the pipeline, unsigned and signed, and the two baselines."""
    from publisher.services import render_all

    size = QUICK_SIZE if quick else SIZE
    repeats = 1 if quick else REPEATS
    addresses = list(journalists(size))
    unsigned_runs: list[Delivered] = []
    signed_runs: list[Delivered] = []
    baseline_runs: dict[str, list[Baseline]] = {"smtplib": [], "apprise": []}
    with (
        tempfile.TemporaryDirectory(prefix="bench-dkim-") as keys,
        BenchRedis() as redis,
        PeerProcess("smtp") as peer,
    ):
        key = dkim_key(Path(keys))
        mail = Email(redis, peer, 0 if quick else WARM_UP)
        signed_mail = Email(redis, peer, 0 if quick else WARM_UP, key)
        with this_process_as(mail.pipeline.env):
            rendered = render_all(email_release("baseline"))
            data = prebuilt_message(rendered)
            costs = per_message_costs(rendered, key)
            subject = rendered["channels"]["email"]["subject"]
            html = rendered["channels"]["email"]["html"]
            for _ in range(repeats):  # taking turns, so that load drift hits them alike
                unsigned_runs.append(mail.send(size))
                signed_runs.append(signed_mail.send(size))
                baseline_runs["smtplib"].append(
                    measure_smtp(peer, size, lambda: bare_smtplib(peer, addresses, data))
                )
                baseline_runs["apprise"].append(
                    measure_smtp(peer, size, lambda: bare_apprise(peer, addresses, subject, html))
                )
    unsigned_size = max(d.peer["size"] for d in unsigned_runs)
    signed_size = min(d.peer["size"] for d in signed_runs)
    if signed_size <= unsigned_size:  # every signed message carries its DKIM-Signature
        raise RuntimeError(f"signed messages ({signed_size} B) are no larger than unsigned")
    rows = [
        _pipeline_row(size, unsigned_runs, "unsigned"),
        _pipeline_row(size, signed_runs, f"DKIM-signed (RSA {DKIM_BITS}, dkimpy + OpenSSL)"),
    ]
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
        pairs = [p.rate / b.rate for p, b in zip(unsigned_runs, runs, strict=True)]
        rows.append(_ratio_row(f"ratio: unsigned pipeline ÷ {name}", size, pairs, TARGETS[name],
                               "each pipeline run against the baseline runs after it"))  # fmt: skip
    pairs = [s.rate / u.rate for s, u in zip(signed_runs, unsigned_runs, strict=True)]
    rows.append(_ratio_row("ratio: signed ÷ unsigned pipeline", size, pairs, SIGNED_TARGET,
                           "each signed run against the unsigned run before it"))  # fmt: skip
    cost_text = "; ".join(f"{name} {value:,.0f} µs" for name, value in costs.items())
    notes = [
        f"Message: the seed example release ({len(data):,} bytes as sent unsigned, "
        f"{signed_size:,} signed; multipart/alternative text + HTML); the pipeline's copies "
        "differ per journalist in To, Date, Message-ID and the unsubscribe and preferences "
        "links (header and both bodies), checked at the peer for every message.",
        f"Where a signed message's time goes (one process, medians of 200): {cost_text}. "
        "dkimpy does all of the signature but its RSA private-key operation, which "
        "`publisher.senders.dkim` has OpenSSL do through the `cryptography` package; dkimpy's "
        "own, in pure Python (`pow` with CRT over two 1,024-bit primes), would be nearly all "
        "of the signing cost and holds the GIL (a worker process would sign at most ~1 / that "
        "time messages a second). `openssl speed` gives that operation's floor on this "
        "machine.",
        f"Load average (1 min) at the end: {load_average()}. Everything shares this machine's "
        f"{cpu_count()} CPUs: the worker's processes, Redis, the peer and the client.",
    ]
    return Section("Email to journalists", _method(size), HEADER, rows, notes)


def _ratio_row(label: str, size: int, pairs: list[float], want: float, how: str) -> list[str]:
    ratio = statistics.median(pairs)
    verdict = f"yes (≥ {want:g}×)" if ratio >= want else f"NO (≥ {want:g}×)"
    return [label, fmt_int(size), f"{ratio:.2f}×", _spread(pairs, lambda v: f"{v:.2f}×"),
            str(len(pairs)), how, verdict]  # fmt: skip


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


def _pipeline_row(size: int, runs: list[Delivered], kind: str) -> list[str]:
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
    label = f"pipeline, {kind}: `submit` → `publisher worker` ({cpu_count()} processes) → peer"
    return [label, fmt_int(size),
            _rate(statistics.median(rates)), _spread(rates, _rate), str(len(runs)), details,
            ""]  # fmt: skip


def _method(size: int) -> str:
    return f"""
Every figure comes from one run of this section, against one loopback SMTP server (`SMTPPeer` of
tests/peers: aiosmtpd, in its own process so it never shares a GIL with the client measured; it
keeps every message). Medians of {REPEATS} runs, with the spread; the four take turns.

*Pipeline*: a fresh Redis (embedded, unix socket) and a fresh real `publisher worker` (Celery
prefork, default concurrency: one process per CPU) per run, with SMTP_URL set to the peer,
warmed up with a {WARM_UP}-journalist release (not in --quick); then {fmt_int(size)} journalists
are added to the store and this process calls `publisher.publishing.submit`; the time runs from
that call until Redis counts every record done (`pending` 0). The signed runs are the same with
DKIM_PRIVATE_KEY (a fresh RSA {DKIM_BITS} key) and DKIM_SELECTOR set: each message is signed over
its final bytes by `publisher.senders.dkim` (dkimpy, relaxed/relaxed; the RSA step in OpenSSL).

*Baselines*, from this process to the same peer: smtplib on one connection sending one prebuilt
message (the same rendered email, filled in once) with only the envelope recipient changed; and
Apprise's `NotifyEmail` (`mailto://` in insecure mode, i.e. plain SMTP as here) with every
journalist as a target of one notify (one connection; it builds each recipient's message).
"""
