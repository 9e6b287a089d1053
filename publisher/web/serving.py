"""Running the web app: one uvicorn process, or `--workers N` of them on one port.

With N workers every process binds the address itself with SO_REUSEPORT, so the kernel spreads
new connections among them. uvicorn's own `--workers` shares one listening socket instead, and
a burst of connections (a CMS's pool opening twenty at once) is accepted by whichever process
wakes first: measured here, all twenty went to one of them and the other sat idle.

The first worker to exit stops the others and `serve` exits with its code: the supervisor
(systemd, Docker's restart policy) starts it again, rather than this process hiding a crash
loop. SIGTERM or SIGINT stops every worker gracefully (uvicorn finishes the requests in flight);
on Linux a worker also gets SIGTERM when `serve` itself is killed, so none is left on the port.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import socket
import sys
from collections.abc import Callable
from multiprocessing.connection import wait
from typing import TYPE_CHECKING, Any

import uvicorn
from fastapi import FastAPI

from publisher.errors import PublisherError

if TYPE_CHECKING:
    from publisher.services import Queue

BACKLOG = 2048
PR_SET_PDEATHSIG = 1  # prctl(2)
STOP_TIMEOUT_S = 30.0
#: the same for one process and for N
UVICORN_OPTIONS: dict[str, Any] = {
    "access_log": False,  # tokens are in the paths: they stay out of the logs
    "proxy_headers": True,  # X-Forwarded-For from FORWARDED_ALLOW_IPS (default 127.0.0.1)
    "server_header": False,
    "log_config": None,  # our log format (setup_logging), not uvicorn's
}


class AddressUnavailable(PublisherError):
    """The host and port cannot be listened on (taken, or not an address of this machine)."""

    def __init__(self, host: str, port: int, reason: str) -> None:
        super().__init__(
            f"serve: {host}:{port}: {reason}; fix: choose another --port or --host, "
            "or stop what listens there"
        )


def default_workers() -> int:
    """One process per CPU this one may use, on Linux; elsewhere SO_REUSEPORT does not spread
    connections among the sockets, so one."""
    if sys.platform != "linux":
        return 1
    return max(1, len(os.sched_getaffinity(0)))


def run_one(app: FastAPI, host: str, port: int, loglevel: str) -> None:
    """The app in this process."""
    uvicorn.run(app, host=host, port=port, log_level=loglevel.lower(), **UVICORN_OPTIONS)


def run_many(
    workers: int, host: str, port: int, loglevel: str, make_queue: Callable[[], Queue] | None
) -> int:
    """`workers` processes, each with its own app and socket on host:port; their exit code.

    `make_queue` is what each one's backend queues publishing with (the command line's Celery
    queue), as `services.connect` takes it."""
    if not hasattr(socket, "SO_REUSEPORT"):
        raise AddressUnavailable(host, port, "--workers needs SO_REUSEPORT (Linux, BSD, macOS)")
    # SO_REUSEPORT lets a second `serve` of the same user bind the port too, and take half
    # of the connections: refuse to start where something answers already
    if _answers(host, port):
        raise AddressUnavailable(host, port, "something listens there already")
    _bind(host, port).close()  # taken or wrong: one line here, not N tracebacks
    # fork on Linux: the workers start at once, with what this process has imported
    if sys.platform == "linux":
        process = multiprocessing.get_context("fork").Process
    else:
        process = multiprocessing.get_context("spawn").Process  # type: ignore[assignment]
    children = [
        # daemon: should this process fail, multiprocessing still stops its workers at exit
        process(
            target=_worker,
            args=(host, port, loglevel, make_queue, os.getpid()),
            name=f"serve-{n}",
            daemon=True,
        )
        for n in range(1, workers + 1)
    ]
    stopping = False

    def terminate_all() -> None:
        for child in children:
            if child.is_alive():
                child.terminate()  # SIGTERM: uvicorn's graceful shutdown

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True
        terminate_all()

    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        for child in children:
            child.start()
        ended = wait([child.sentinel for child in children])
        # its sentinel closes a moment before it can be reaped: join it to read its exit code
        first = next(child for child in children if child.sentinel in ended)
        first.join()
        terminate_all()
        for child in children:
            child.join(STOP_TIMEOUT_S)
            if child.is_alive():
                child.kill()
                child.join()
        code = first.exitcode or 0
        if stopping and code in (0, -signal.SIGTERM):
            return 0  # asked to stop, and stopped
        if code == 0:
            return 1  # a worker stopped on its own: serving did not go on as asked
        return 128 - code if code < 0 else code  # killed by a signal: 128 + its number, as sh
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _answers(host: str, port: int) -> bool:
    """Whether something accepts connections on host:port (a wildcard: on loopback)."""
    target = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(host, host)
    try:
        with socket.create_connection((target, port), timeout=1.0):
            return True
    except OSError:
        return False


def _end_with(parent: int) -> None:
    """On Linux, be sent SIGTERM when `serve` itself dies, even by SIGKILL: a worker left
    behind would go on holding the port."""
    if sys.platform != "linux":
        return
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # it died before prctl: nobody would send the signal
        sys.exit(1)


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise AddressUnavailable(host, port, exc.strerror or str(exc)) from None
    return sock


def _worker(
    host: str, port: int, loglevel: str, make_queue: Callable[[], Queue] | None, parent: int
) -> None:
    """One worker process: its own store connection, app and socket."""
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, signal.SIG_DFL)  # not the parent's handler: uvicorn sets its own
    _end_with(parent)
    from publisher import services
    from publisher.logs import setup_logging
    from publisher.web.app import create_app

    setup_logging(loglevel)
    app = create_app(services.connect(make_queue))
    sock = _bind(host, port)
    sock.listen(BACKLOG)
    config = uvicorn.Config(
        app, host=host, port=port, log_level=loglevel.lower(), **UVICORN_OPTIONS
    )
    server = uvicorn.Server(config)
    server.run(sockets=[sock])
    if not server.started:
        sys.exit(3)  # as uvicorn.run does when the app cannot start
