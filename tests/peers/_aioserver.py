"""A small aiohttp server run in a background thread on 127.0.0.1, shared by the HTTP peers."""

from __future__ import annotations

import asyncio
import socket
import threading
from types import TracebackType
from typing import Self

from aiohttp import web


class ThreadedAioServer:
    """Run an `aiohttp.web.Application` on its own event loop thread, on an OS-assigned port.

    Subclasses build the app in `make_app()`; `start()`/`stop()` or `with peer:` run it.
    """

    #: seconds `stop()` lets in-flight handlers finish before cutting them off
    shutdown_timeout: float = 1.0

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._sock: socket.socket | None = None
        self.port: int = 0

    # -- to override ---------------------------------------------------------------------------
    def make_app(self) -> web.Application:
        """Build the application (called once per `start()`)."""
        raise NotImplementedError

    async def on_loop_started(self) -> None:
        """Hook run on the server loop before it accepts connections."""

    def on_stopping(self) -> None:
        """Hook run on the server loop when `stop()` begins (wake long-polling handlers)."""

    # -- lifecycle -----------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:PORT`, without a trailing slash."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The server's event loop (only while running)."""
        if self._loop is None:
            raise RuntimeError(f"{type(self).__name__} is not running")
        return self._loop

    def start(self) -> Self:
        """Bind a free port and serve in a daemon thread; returns when connections are accepted."""
        if self._thread is not None:
            raise RuntimeError(f"{type(self).__name__} already running")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(1024)
        sock.setblocking(False)
        self._sock = sock
        self.port = sock.getsockname()[1]
        loop = asyncio.new_event_loop()
        self._loop = loop
        ready = threading.Event()
        failure: list[BaseException] = []

        async def setup() -> None:
            await self.on_loop_started()
            runner = web.AppRunner(
                self.make_app(),
                access_log=None,
                handle_signals=False,
                shutdown_timeout=self.shutdown_timeout,
            )
            await runner.setup()
            await web.SockSite(runner, sock).start()
            self._runner = runner

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(setup())
            except BaseException as exc:  # noqa: BLE001 - handed to the starting thread
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

        self._thread = threading.Thread(target=run, name=f"{type(self).__name__}", daemon=True)
        self._thread.start()
        if not ready.wait(10) and not failure:
            failure.append(TimeoutError(f"{type(self).__name__} did not start within 10 s"))
        if failure:
            self._thread.join()
            self._thread = None
            self._loop = None
            sock.close()
            raise failure[0]
        return self

    def stop(self) -> None:
        """Close connections, stop the loop and join the thread (idempotent)."""
        thread, loop = self._thread, self._loop
        if thread is None or loop is None:
            return

        async def teardown() -> None:
            self.on_stopping()
            if self._runner is not None:
                await self._runner.cleanup()
                self._runner = None

        try:
            asyncio.run_coroutine_threadsafe(teardown(), loop).result(self.shutdown_timeout + 10)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
            self._thread = None
            self._loop = None
            if self._sock is not None:
                self._sock.close()
                self._sock = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
