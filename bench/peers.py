"""What the delivery benchmarks run against: loopback peers, Redis and `publisher worker`.

Each loopback peer (tests/peers: `FakeBotAPI`, `SMTPPeer`; and `BareBotAPI` here, a Bot API
stand-in that spends as little as it can on a request) runs in its OWN process, so it never
shares a GIL with the client being measured; the benchmark drives it over a pipe (`call`) and
reads back what it recorded. Redis is the embedded server of `publisher.redis_server` in a short
temp dir (a unix socket path must stay under 108 bytes); the worker is a real `publisher worker`
process group, started and stopped by the benchmark. Every process started here is stopped by
the object that started it (context managers), never by name.
"""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from bench.common import REPO_ROOT

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024
BENCH_SECRET = "bench-secret-key-not-for-production"
PUBLIC_URL = "https://press.example.org"

# -- loopback peers in their own process -------------------------------------------------------


def _telegram_ops(peer: Any) -> dict[str, Callable[..., Any]]:
    def sends() -> list[Any]:
        return [r for r in list(peer.requests) if r.method.lower() == "sendmessage"]

    def summary() -> dict[str, Any]:
        records = sends()
        ok = [r for r in records if r.ok]
        per_chat = Counter(r.chat_id for r in ok)
        return {
            "requests": len(peer.requests),
            "send_requests": len(records),
            "sent": len(ok),
            "chats": len(per_chat),
            "doubled": sum(n - 1 for n in per_chat.values()),
            "statuses": dict(Counter(r.status for r in records)),
            "rate_limited": peer.rate_limited,
            "first_t": min((r.t for r in records), default=0.0),
            "last_t": max((r.t for r in records), default=0.0),
            "texts": len({r.params.get("text") for r in ok}),
            "text_len": max((len(r.params.get("text") or "") for r in ok), default=0),
        }

    pushed: dict[int, float] = {}  # chat -> when its /start became available (monotonic)

    def push_starts(count: int, base: int, rate_per_s: float) -> None:
        """Queue `count` /start messages from new users for getUpdates: all at once (rate 0)
        or paced at `rate_per_s` in a thread, so the benchmark can wait meanwhile."""

        def push() -> None:
            t0 = time.monotonic()
            for n in range(count):
                if rate_per_s:
                    delay = t0 + n / rate_per_s - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                chat = base + n
                pushed[chat] = time.monotonic()
                peer.user_message(chat, "/start", language_code="ar" if n % 3 == 0 else "en")

        if rate_per_s:
            threading.Thread(target=push, daemon=True).start()
        else:
            push()

    def reply_latencies() -> dict[str, Any]:
        """From each /start becoming available to the first reply reaching this peer."""
        first: dict[int, float] = {}
        for r in sends():
            if r.ok and isinstance(r.chat_id, int) and r.chat_id in pushed:
                first.setdefault(r.chat_id, r.t)
        lat = sorted(first[c] - pushed[c] for c in first)
        return {
            "answered": len(first),
            "pushed": len(pushed),
            "latencies": lat,
            "first_push": min(pushed.values(), default=0.0),
            "last_reply": max(first.values(), default=0.0),
            "replies": sum(1 for r in sends() if r.ok),
        }

    def reset_all() -> None:
        pushed.clear()
        peer.reset()

    return {
        "push_starts": push_starts,
        "reply_latencies": reply_latencies,
        "reset_all": reset_all,
        "count": lambda: sum(1 for r in list(peer.requests) if r.ok),
        "summary": summary,
        "send_times": lambda: sorted(r.t for r in sends()),
        "first_arrival": lambda: {
            str(r.chat_id): r.t
            for r in reversed(sends())  # earliest wins
        },
        "max_in_window": peer.max_in_window,
        "reset": peer.reset,
        "set": lambda name, value: setattr(peer, name, value),
    }


class BareBotAPI:
    """The cheapest Bot API stand-in: a raw asyncio protocol (uvloop where installed) that
    answers every request on a kept-alive connection with one prebuilt sendMessage answer.

    It reads only what it needs to count: the request's end (Content-Length) and its chat_id
    (form-encoded or JSON). No routing, no HTML check, nothing stored but a count per chat: what
    is left of a send's cost at the client is the client's own.
    """

    token = "123456789:AAF4bX-bare-token-for-the-loopback-peer"
    ANSWER = (
        b'{"ok":true,"result":{"message_id":1,"date":1700000000,'
        b'"chat":{"id":1,"type":"private"},"text":"."}}'
    )
    RESPONSE = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
        + str(len(ANSWER)).encode()
        + b"\r\nConnection: keep-alive\r\n\r\n"
        + ANSWER
    )

    def __init__(self) -> None:
        self.port = 0
        self.per_chat: Counter[bytes] = Counter()
        self.requests = 0
        self.first_t = 0.0
        self.last_t = 0.0
        self._loop: Any = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        import asyncio

        try:
            import uvloop

            loop: Any = uvloop.new_event_loop()
        except ImportError:
            loop = asyncio.new_event_loop()
        self._loop = loop
        server = loop.run_until_complete(
            loop.create_server(lambda: _BareProtocol(self), "127.0.0.1", 0, backlog=1024)
        )
        self.port = server.sockets[0].getsockname()[1]
        self._thread = threading.Thread(target=loop.run_forever, name="bare-bot-api", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)

    def note(self, body: bytes) -> None:
        """One request: count its chat."""
        now = time.monotonic()
        if not self.requests:
            self.first_t = now
        self.last_t = now
        self.requests += 1
        at = body.find(b"chat_id=")
        if at >= 0:
            end = body.find(b"&", at)
            chat = body[at + 8 : end if end >= 0 else len(body)]
        else:  # JSON (Apprise): "chat_id": "123" or 123
            at = body.find(b'"chat_id"')
            chat = body[at + 9 : at + 40].split(b",")[0].strip(b' :"}') if at >= 0 else b""
        self.per_chat[chat] += 1

    def reset(self) -> None:
        self.per_chat = Counter()
        self.requests = 0
        self.first_t = self.last_t = 0.0


class _BareProtocol:
    """HTTP/1.1 requests in, the prebuilt answer out, as many per connection as it sends."""

    def __init__(self, peer: BareBotAPI) -> None:
        self.peer = peer
        self.buffer = b""
        self.transport: Any = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def connection_lost(self, exc: BaseException | None) -> None:
        self.transport = None

    def eof_received(self) -> None:
        pass

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer + data if self.buffer else data
        while (end := buffer.find(b"\r\n\r\n")) >= 0:
            head = buffer[:end]
            at = head.find(b"Content-Length:")
            if at < 0:
                head = head.lower()
                at = head.find(b"content-length:")
            length = int(head[at + 15 : head.find(b"\r\n", at)]) if at >= 0 else 0
            total = end + 4 + length
            if len(buffer) < total:
                break
            self.peer.note(buffer[end + 4 : total])
            buffer = buffer[total:]
            self.transport.write(BareBotAPI.RESPONSE)
        self.buffer = buffer


def _bare_ops(peer: BareBotAPI) -> dict[str, Callable[..., Any]]:
    def summary() -> dict[str, Any]:
        per_chat = dict(peer.per_chat)
        return {
            "requests": peer.requests,
            "send_requests": peer.requests,
            "sent": peer.requests,
            "chats": len(per_chat),
            "doubled": sum(n - 1 for n in per_chat.values()),
            "statuses": {200: peer.requests},
            "rate_limited": 0,
            "first_t": peer.first_t,
            "last_t": peer.last_t,
        }

    return {
        "count": lambda: peer.requests,
        "summary": summary,
        "reset": peer.reset,
        "set": lambda name, value: None,
    }


_TO = re.compile(rb"^To: ?(.*)$", re.MULTILINE | re.IGNORECASE)
_UNSUBSCRIBE = re.compile(rb"^List-Unsubscribe: ?<([^>]*)>", re.MULTILINE | re.IGNORECASE)


def _smtp_ops(peer: Any) -> dict[str, Callable[..., Any]]:
    def summary() -> dict[str, Any]:
        messages = list(peer.messages)
        personal = 0
        links: set[bytes] = set()
        for m in messages:
            head = m.data.split(b"\r\n\r\n", 1)[0]
            to = _TO.search(head)
            link = _UNSUBSCRIBE.search(head)
            if to and link and len(m.rcpt_tos) == 1 and m.rcpt_tos[0].encode() in to.group(1):
                personal += 1
                links.add(link.group(1))
        rcpts = Counter(r for m in messages for r in m.rcpt_tos)
        return {
            "messages": len(messages),
            "recipients": len(rcpts),
            "doubled": sum(n - 1 for n in rcpts.values()),
            "personalised": personal,
            "unsubscribe_links": len(links),
            "connections": peer.connections,
            "rejected": len(peer.rejected),
            "size": max((len(m.data) for m in messages), default=0),
            "first_t": min((m.t_monotonic for m in messages), default=0.0),
            "last_t": max((m.t_monotonic for m in messages), default=0.0),
        }

    return {
        "count": lambda: len(peer.messages),
        "summary": summary,
        "reset": peer.reset,
        "set": lambda name, value: setattr(peer, name, value),
    }


def _serve(conn: Connection, kind: str, options: dict[str, Any]) -> None:
    """The peer process: start the peer, report where it listens, answer calls until 'stop'."""
    sys.path.insert(0, str(REPO_ROOT))
    if kind == "telegram":
        from tests.peers.telegram_api import FakeBotAPI

        peer: Any = FakeBotAPI(**options)
        peer.start()
        info = {"port": peer.port, "base_url": peer.base_url, "token": peer.token}
        ops = _telegram_ops(peer)
    elif kind == "telegram-bare":
        peer = BareBotAPI()
        peer.start()
        info = {"port": peer.port, "base_url": peer.base_url, "token": peer.token}
        ops = _bare_ops(peer)
    elif kind == "smtp":
        from tests.peers.smtp import SMTPPeer

        peer = SMTPPeer(**options)
        peer.start()
        info = {"port": peer.port, "host": peer.host, "url": peer.url}
        ops = _smtp_ops(peer)
    else:
        raise ValueError(f"unknown peer kind {kind!r}")
    conn.send(("ready", info))
    try:
        while True:
            try:
                op, args = conn.recv()
            except EOFError:  # the benchmark process is gone
                break
            if op == "stop":
                conn.send(("ok", None))
                break
            try:
                conn.send(("ok", ops[op](*args)))
            except Exception as exc:  # noqa: BLE001 - handed back to the caller
                conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        peer.stop()


class PeerProcess:
    """A loopback peer ('telegram': FakeBotAPI, 'telegram-bare': BareBotAPI, 'smtp': SMTPPeer)
    in a process of its own.

    `info` has its port and URL (and the bot token); `call(op, *args)` runs one of the ops
    above in the peer process and returns the answer; `cpu_s()` is its CPU time so far.
    """

    def __init__(self, kind: str, **options: Any) -> None:
        self.kind = kind
        self.options = options
        self.info: dict[str, Any] = {}
        self._process: Any = None
        self._conn: Connection | None = None
        self._lock = threading.Lock()

    def start(self) -> Self:
        # A fresh interpreter (not a fork of this one, whatever its threads hold), talking over
        # a socket pair: a subprocess needs no `if __name__ == "__main__"` guard anywhere.
        ours, theirs = socket.socketpair()
        self._process = subprocess.Popen(
            [sys.executable, "-m", "bench.peers", self.kind, str(theirs.fileno()),
             json.dumps(self.options)],
            cwd=REPO_ROOT,
            pass_fds=[theirs.fileno()],
            env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        )  # fmt: skip
        theirs.close()
        self._conn = Connection(ours.detach())
        if not self._conn.poll(60):
            self.stop()
            raise RuntimeError(f"the {self.kind} peer did not start")
        status, info = self._conn.recv()
        self.info = info
        return self

    @property
    def pid(self) -> int:
        return int(self._process.pid)

    def call(self, op: str, *args: Any) -> Any:
        if self._conn is None:
            raise RuntimeError("peer not running")
        with self._lock:
            self._conn.send((op, args))
            status, value = self._conn.recv()
        if status == "error":
            raise RuntimeError(f"peer {op}: {value}")
        return value

    def cpu_s(self) -> float:
        return process_cpu_s(self.pid)

    def stop(self) -> None:
        conn, self._conn = self._conn, None
        process, self._process = self._process, None
        if conn is not None:
            try:
                conn.send(("stop", ()))
                conn.poll(15) and conn.recv()
            except (OSError, EOFError):
                pass
            conn.close()
        if process is not None:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def wait_count(peer: PeerProcess, want: int, timeout_s: float, interval_s: float = 0.05) -> int:
    """Poll the peer until it has recorded `want` successful sends (or the time is up)."""
    deadline = time.monotonic() + timeout_s
    while True:
        got = int(peer.call("count"))
        if got >= want or time.monotonic() > deadline:
            return got
        time.sleep(interval_s)


# -- /proc: CPU time and resident memory of a process tree -------------------------------------


def _stat_fields(pid: int) -> list[str]:
    with open(f"/proc/{pid}/stat", "rb") as handle:
        raw = handle.read().decode()
    return raw[raw.rindex(")") + 2 :].split()  # fields from the 3rd on (state, ppid, ...)


def self_cpu_s() -> float:
    """User + system CPU seconds of this process so far (all its threads)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a live process (0 if it is gone)."""
    try:
        fields = _stat_fields(pid)
    except (OSError, ValueError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def descendants(pid: int) -> list[int]:
    """`pid` and every live process below it."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(_stat_fields(int(entry))[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        todo.extend(children.get(current, []))
    return out


def rss_mib(pid: int) -> tuple[float, float]:
    """(current RSS, peak RSS VmHWM) of a process in MiB; zeros if it is gone."""
    rss = hwm = 0.0
    try:
        with open(f"/proc/{pid}/status", "rb") as handle:
            for line in handle:
                if line.startswith(b"VmRSS:"):
                    rss = int(line.split()[1]) / 1024
                elif line.startswith(b"VmHWM:"):
                    hwm = int(line.split()[1]) / 1024
    except OSError:
        pass
    return rss, hwm


def pss_mib(pid: int) -> float:
    """Proportional set size in MiB: resident memory with pages shared by N processes counted
    1/N in each (a forked pool shares its parent's pages until it writes to them)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as handle:
            for line in handle:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class RSSSampler:
    """Samples the resident memory of a process tree every `interval_s` in a thread.

    `peak_sum_mib`: the largest sum of RSS over the tree at one sample (shared pages counted in
    every process); `peak_pss_mib`: the same with PSS (shared pages split); `peak_each_mib`: per
    pid, the largest of its samples and its kernel-kept peak (VmHWM, which catches spikes between
    samples).
    """

    def __init__(self, root_pid: int, interval_s: float = 0.05) -> None:
        self.root_pid = root_pid
        self.interval_s = interval_s
        self.peak_sum_mib = 0.0
        self.peak_pss_mib = 0.0
        self.peak_each_mib: dict[int, float] = {}
        self.names: dict[int, str] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self._pids: list[int] = []
        self._last_scan = 0.0

    def _sample(self) -> None:
        now = time.monotonic()
        if now - self._last_scan > 1.0:  # the tree rarely changes; rescan once a second
            self._pids = descendants(self.root_pid)
            self._last_scan = now
        total = pss = 0.0
        for pid in self._pids:
            rss, hwm = rss_mib(pid)
            total += rss
            pss += pss_mib(pid)
            if rss or hwm:
                self.peak_each_mib[pid] = max(self.peak_each_mib.get(pid, 0.0), rss, hwm)
                if pid not in self.names:
                    self.names[pid] = _cmdline(pid)
        self.peak_sum_mib = max(self.peak_sum_mib, total)
        self.peak_pss_mib = max(self.peak_pss_mib, pss)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.interval_s)

    def __enter__(self) -> Self:
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    @property
    def largest_mib(self) -> float:
        return max(self.peak_each_mib.values(), default=0.0)

    @property
    def processes(self) -> int:
        return len(self.peak_each_mib)


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return "?"


# -- Redis and the worker ----------------------------------------------------------------------


class BenchRedis:
    """An embedded Redis (publisher.redis_server) under a short temp data dir of this process.

    The path depends only on the pid, so a second benchmark module of the same run gets the same
    URL (the Celery app of this process is made once, with that URL, on first import).
    """

    def __init__(self) -> None:
        self.data_dir = Path(f"/tmp/pb{os.getpid()}")
        self.url = ""

    def start(self) -> Self:
        from publisher.redis_server import redis_url
        from publisher.settings import Settings

        shutil.rmtree(self.data_dir, ignore_errors=True)
        self.data_dir.mkdir(mode=0o700)
        self.url = redis_url(Settings(publisher_data_dir=self.data_dir, redis_url=None))
        return self

    def client(self) -> Any:
        import redis

        return redis.Redis.from_url(self.url)

    def stop(self) -> None:
        from publisher.redis_server import stop_embedded
        from publisher.settings import Settings

        try:
            stop_embedded(Settings(publisher_data_dir=self.data_dir, redis_url=None))
        finally:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def publisher_env(redis: BenchRedis, **extra: str) -> dict[str, str]:
    """The environment of a benchmark's `publisher` processes (no credentials unless given)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TELEGRAM_", "X_", "SMTP_", "PUBLISHER_", "MAIL_", "REDIS_"))
    }
    env.update(
        PUBLISHER_DATA_DIR=str(redis.data_dir),
        REDIS_URL=redis.url,
        PYTHONPATH=str(REPO_ROOT),
        PUBLIC_URL=PUBLIC_URL,
        PUBLISHER_SECRET_KEY=BENCH_SECRET,
    )
    env.update(extra)
    return env


@contextmanager
def this_process_as(env: dict[str, str]) -> Iterator[None]:
    """Run this (benchmark) process with the publisher settings of `env`, then restore them."""
    from publisher.settings import reload_settings

    keys = [k for k in env if k.startswith(("TELEGRAM_", "SMTP_", "PUBLISHER_", "MAIL_"))]
    keys += ["REDIS_URL", "PUBLIC_URL"]
    saved = {k: os.environ.get(k) for k in keys}
    os.environ.update({k: env[k] for k in keys if k in env})
    reload_settings()
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        reload_settings()
        _drop_broker_connections()


def _drop_broker_connections() -> None:
    # The next Redis is a new server on the same socket: drop the broker connections (closed
    # pools cannot be reused, so they are forgotten, as Celery does after a fork).
    module = sys.modules.get("workers.app")
    if module is not None:
        import kombu.pools

        kombu.pools.reset()  # type: ignore[no-untyped-call]
        module.app._pool = None
        module.app.amqp._producer_pool = None


class Worker:
    """A real `publisher worker` process group (default concurrency: the machine's CPUs)."""

    def __init__(self, env: dict[str, str], log: Path, concurrency: int | None = None) -> None:
        self.env = env
        self.log = log
        self.concurrency = concurrency
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, ready_timeout_s: float = 60.0) -> Self:
        argv = [sys.executable, "-m", "publisher", "worker"]
        if self.concurrency:
            argv += ["--concurrency", str(self.concurrency)]
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                argv,
                env=self.env,
                cwd=REPO_ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + ready_timeout_s
        while b"ready." not in self.log.read_bytes():
            if self.process.poll() is not None or time.monotonic() > deadline:
                tail = self.log.read_bytes()[-2000:].decode(errors="replace")
                self.stop()
                raise RuntimeError(f"the worker did not start:\n{tail}")
            time.sleep(0.05)
        return self

    def pool_pids(self) -> list[int]:
        """The worker's processes: main, pool children, embedded beat."""
        return descendants(self.pid)

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        except ProcessLookupError:
            pass

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def wait_delivered(
    store: Any, release_id: str, channel: str, total: int, timeout_s: float, poll_s: float = 0.01
) -> tuple[float, dict[str, int]]:
    """Poll Redis until `total` records exist and none is pending; (monotonic time, counts)."""
    deadline = time.monotonic() + timeout_s
    while True:
        counts = store.counts(release_id, channel)
        now = time.monotonic()
        if counts["total"] >= total and counts["pending"] == 0:
            return now, counts
        if now > deadline:
            raise TimeoutError(f"{release_id}/{channel}: not done in {timeout_s:.0f} s: {counts}")
        time.sleep(poll_s)


# -- one release through the real pipeline ------------------------------------------------------


@dataclass
class Delivered:
    """One release delivered by the pipeline: from the submit call to the last outcome recorded."""

    recipients: int
    elapsed_s: float
    first_s: float  # submit call -> first message at the peer
    counts: dict[str, int]
    worker_cpu_s: float  # CPU of the worker's processes over the run
    pool_cpu_s: float  # of which its pool processes (the ones that send)
    peer_cpu_s: float
    redis_cpu_s: float
    peak_sum_mib: float  # worker processes' resident memory, summed at one sample
    peak_pss_mib: float  # the same in PSS: pages shared by the forked processes counted once
    largest_mib: float  # the largest single worker process (sampled peak or VmHWM)
    processes: int
    peer: dict[str, Any] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.recipients / self.elapsed_s


class Pipeline:
    """A Redis, the settings of a benchmark's `publisher` processes, and fresh workers.

    Use inside `this_process_as(pipeline.env)`: this process submits releases with
    `publisher.publishing.submit` (the Celery `queue_publish`), as `publisher publish` does.
    """

    def __init__(self, redis: BenchRedis, env: dict[str, str]) -> None:
        self.redis = redis
        self.env = env
        self.runs = 0

    def store(self) -> Any:
        from publisher.redis_server import connect
        from publisher.store import Store

        return Store(connect())

    def reset(self) -> None:
        """Empty Redis (before a worker starts: the worker declares its queue again)."""
        self.redis.client().flushall()

    def worker(self, concurrency: int | None = None) -> Worker:
        self.runs += 1
        return Worker(self.env, self.redis.data_dir / f"worker{self.runs}.log", concurrency)

    def redis_pid(self) -> int:
        from publisher.redis_server import embedded_pid
        from publisher.settings import Settings

        pid = embedded_pid(Settings(publisher_data_dir=self.redis.data_dir, redis_url=None))
        return pid or 0

    def submit(self, store: Any, release: Any, rendered: dict[str, Any]) -> None:
        from publisher.services import Backend, submit_rendered
        from publisher.settings import get_settings
        from workers.queue import CeleryQueue

        backend = Backend(store, get_settings(), CeleryQueue)
        result = submit_rendered(backend, release, rendered, "bench")
        if result.action != "queued":
            raise RuntimeError(f"{release.id}: {result.action}")

    def warm_up(
        self, store: Any, channel: str, release: Any, rendered: dict[str, Any],
        addresses: dict[str, dict[str, Any]], timeout_s: float = 120,
    ) -> None:  # fmt: skip
        """Send one release to `addresses` (more than a batch: every pool process gets work),
        then forget those recipients: the measured release goes only to the ones added next."""
        from publisher.store import k_recipients

        store.add_recipients(channel, addresses)
        self.submit(store, release, rendered)
        wait_delivered(store, release.id, channel, len(addresses), timeout_s)
        store.redis.delete(k_recipients(channel))

    def deliver(
        self, store: Any, worker: Worker, peer: PeerProcess, release: Any,
        rendered: dict[str, Any], channel: str, recipients: int, timeout_s: float,
    ) -> Delivered:  # fmt: skip
        """Submit, wait until every outcome is recorded, and say what it took."""
        peer.call("reset")
        redis_pid = self.redis_pid()
        with RSSSampler(worker.pid) as rss:
            before = {p: process_cpu_s(p) for p in worker.pool_pids()}
            peer0, redis0 = peer.cpu_s(), process_cpu_s(redis_pid)
            started = time.monotonic()
            self.submit(store, release, rendered)
            ended, counts = wait_delivered(store, release.id, channel, recipients, timeout_s)
            # A process that appeared meanwhile (a pool process forked late) counts from zero;
            # one that ended took its figure along (0, not less).
            used = {
                p: max(0.0, process_cpu_s(p) - before.get(p, 0.0))
                for p in {*before, *worker.pool_pids()}
            }
            peer1, redis1 = peer.cpu_s(), process_cpu_s(redis_pid)
            for other in release.channels:  # the memory sampled covers every channel's work
                if other != channel:
                    wait_delivered(store, release.id, other, 0, timeout_s)
        summary = peer.call("summary")
        return Delivered(
            recipients=recipients,
            elapsed_s=ended - started,
            first_s=summary["first_t"] - started if summary["first_t"] else 0.0,
            counts=counts,
            worker_cpu_s=sum(used.values()),
            pool_cpu_s=sum(cpu for p, cpu in used.items() if p != worker.pid),
            peer_cpu_s=peer1 - peer0,
            redis_cpu_s=redis1 - redis0,
            peak_sum_mib=rss.peak_sum_mib,
            peak_pss_mib=rss.peak_pss_mib,
            largest_mib=rss.largest_mib,
            processes=rss.processes,
            peer=summary,
        )


if __name__ == "__main__":  # the peer process: python -m bench.peers KIND FD OPTIONS_JSON
    _serve(Connection(int(sys.argv[2])), sys.argv[1], json.loads(sys.argv[3]))
