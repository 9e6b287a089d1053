"""The whole newsroom as an office runs it: `publisher serve` and `publisher worker` as
processes of their own over the session's Redis, every channel configured against its loopback
peer (the Bot API and X API stand-ins, a real SMTP server), and staff added with
`publisher users add`, as an administrator would."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.conftest import PUBLISHER, ROOT, Worker, run_cli
from tests.peers.smtp import SMTPPeer
from tests.peers.telegram_api import FakeBotAPI
from tests.peers.x_api import FakeXAPI
from tests.test_pipeline import live_env

PASSWORD = "correct horse battery staple"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Stack:
    """The served app, its worker, its peers and how to reach them."""

    base: str
    env: dict[str, str]
    data_dir: Path
    bot: FakeBotAPI
    x: FakeXAPI
    smtp: SMTPPeer
    worker: Worker

    def add_user(self, name: str, role: str) -> None:
        done = run_cli("users", "add", name, "--role", role, env=self.env, stdin=PASSWORD + "\n")
        assert done.returncode == 0, done.stderr

    def cli(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return run_cli(*args, env=self.env, stdin=stdin)


def _wait_healthy(base: str, process: subprocess.Popen[bytes], timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"publisher serve exited with {process.returncode}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError("publisher serve did not answer /healthz")


@contextmanager
def running_stack(data_dir: Path, log: Path, **extra: str) -> Iterator[Stack]:
    """Serve and a worker against fresh peers; `extra` sets more of the environment."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with FakeBotAPI() as bot, FakeXAPI() as x, SMTPPeer() as smtp:
        env = live_env(data_dir, bot, x, smtp, PUBLIC_URL=base, **extra)
        with log.open("ab") as out:
            serve = subprocess.Popen(
                [*PUBLISHER, "serve", "--port", str(port), "--loglevel", "WARNING"],
                env=env,
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        worker = Worker(env, concurrency=2, log=log).start()
        try:
            _wait_healthy(base, serve)
            yield Stack(base, env, data_dir, bot, x, smtp, worker)
        finally:
            serve.terminate()
            try:
                serve.wait(timeout=20)
            except subprocess.TimeoutExpired:
                serve.kill()
            worker.stop()
