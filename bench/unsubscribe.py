"""One-click unsubscribe (RFC 8058) against a real `publisher serve`.

`publisher serve` runs as a process of its own over an embedded Redis holding SIZE journalists;
this process makes each journalist's signed unsubscribe link (`publisher.links`) and sends the
one-click POST (`List-Unsubscribe=One-Click`, form-encoded, no cookie) to every link, over
CONNECTIONS keep-alive connections at once (a small hand-written HTTP/1.1 client on asyncio,
so the client spends little of the machine). Measured: requests a second for the first POST
to each link (read the token, look the address up, suppress it, write the event, render the
page) and for a second POST to each (idempotent: nothing more is written), and that every
journalist ends up unsubscribed.

Target: >= 300 one-click unsubscribes a second.
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

from bench.common import REPO_ROOT, Section, cpu_count, fmt_int, load_average
from bench.peers import BenchRedis, publisher_env, this_process_as

SIZE = 5_000
QUICK_SIZE = 600
CONNECTIONS = 16
TARGET_PER_S = 300.0
BODY = b"List-Unsubscribe=One-Click"
SERVE = [sys.executable, "-m", "publisher", "serve", "--loglevel", "WARNING"]


@dataclass(frozen=True)
class Pass:
    """One pass over every link: how many answered 200, and in how long."""

    ok: int
    total: int
    elapsed_s: float

    @property
    def rate(self) -> float:
        return self.total / self.elapsed_s if self.elapsed_s else 0.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_healthy(port: int, process: subprocess.Popen[bytes], timeout_s: float = 30) -> None:
    import httpx

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"publisher serve exited with {process.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError("publisher serve did not answer /healthz")


@contextmanager
def serving(env: dict[str, str], port: int, workers: int | None = None) -> Iterator[None]:
    """`publisher serve` on `port` (`--workers N` when given) until the block ends."""
    options = [] if workers is None else ["--workers", str(workers)]
    process = subprocess.Popen(
        [*SERVE, "--port", str(port), *options],
        env=env,
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_healthy(port, process)
        yield
    finally:
        process.terminate()
        process.wait(timeout=40)


async def _worker(port: int, paths: asyncio.Queue[str], counts: list[int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while True:
            try:
                path = paths.get_nowait()
            except asyncio.QueueEmpty:
                return
            writer.write(
                f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                "Content-Type: application/x-www-form-urlencoded\r\n"
                f"Content-Length: {len(BODY)}\r\n\r\n".encode()
                + BODY
            )
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            counts[0] += status == 200
            counts[1] += 1
    finally:
        writer.close()


async def _pass(port: int, paths: list[str]) -> Pass:
    queue: asyncio.Queue[str] = asyncio.Queue()
    for path in paths:
        queue.put_nowait(path)
    counts = [0, 0]
    started = time.perf_counter()
    await asyncio.gather(*(_worker(port, queue, counts) for _ in range(CONNECTIONS)))
    return Pass(counts[0], counts[1], time.perf_counter() - started)


def measure(size: int) -> tuple[Pass, Pass, Pass, int]:
    """(warm-up pass, first POST to each link, second POST to each, journalists unsubscribed)."""
    from publisher import links
    from publisher.settings import get_settings
    from publisher.store import Store

    with BenchRedis() as redis:
        env = publisher_env(redis)
        port = _free_port()
        with this_process_as(env):
            settings = get_settings()
            store = Store(redis.client())
            warm = [f"warm{i}@example.org" for i in range(200)]
            addresses = [f"j{i}@example.org" for i in range(size)]
            entry = {"name": "J", "language": "en", "beats": [], "cadence": "instant"}
            store.add_recipients("email", {a: dict(entry) for a in warm + addresses})
            paths = {
                a: urlsplit(links.unsubscribe_url("email", a, settings)).path
                for a in warm + addresses
            }
        with serving(env, port):
            warm_up = asyncio.run(_pass(port, [paths[a] for a in warm]))
            first = asyncio.run(_pass(port, [paths[a] for a in addresses]))
            second = asyncio.run(_pass(port, [paths[a] for a in addresses]))
        gone = sum(
            1
            for _, _, why in Store(redis.client()).iter_suppressed("email")
            if why.get("state") == "unsubscribed"
        )
    return warm_up, first, second, gone - len(warm)


def run(quick: bool) -> Section:
    """Measure one-click unsubscribes a second; see the module docstring."""
    size = QUICK_SIZE if quick else SIZE
    load = load_average()
    _, first, second, gone = measure(size)
    met = "yes" if first.rate >= TARGET_PER_S else "no"
    rows = [
        [
            "first one-click POST to each link (suppress + event)",
            fmt_int(size),
            f"{first.rate:,.0f}/s",
            f"{first.ok}/{first.total} answered 200",
            f"≥ {TARGET_PER_S:.0f}/s: {met}",
        ],
        [
            "second POST to each link (idempotent, nothing written)",
            fmt_int(size),
            f"{second.rate:,.0f}/s",
            f"{second.ok}/{second.total} answered 200",
            "",
        ],
    ]
    method = (
        "A real `publisher serve` (uvicorn, one process) over an embedded Redis holding the "
        f"journalists; {CONNECTIONS} keep-alive connections from this process send RFC 8058's "
        "one-click POST to each journalist's signed unsubscribe link, one request at a time "
        f"per connection. {cpu_count()} CPUs, load average {load} before the run."
    )
    notes = [f"journalists unsubscribed afterwards: {gone} of {size}"]
    return Section(
        "One-click unsubscribe",
        method,
        ["Measurement", "Links", "Rate", "Answers", "Target"],
        rows,
        notes,
    )


if __name__ == "__main__":
    section = run(quick="--quick" in sys.argv)
    print(section.to_markdown())
    print(json.dumps({"rows": section.rows}, ensure_ascii=False))
