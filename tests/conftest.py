"""Shared fixtures: a real Redis, the loopback peers, and helpers that run `publisher` itself."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.redis_fixtures import data_dir, redis_client, redis_server

__all__ = ["data_dir", "redis_client", "redis_server"]

ROOT = Path(__file__).resolve().parent.parent
PUBLISHER = [sys.executable, "-m", "publisher"]


def publisher_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment a test's `publisher` processes run with (credentials unset by default)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TELEGRAM_", "X_", "SMTP_", "PUBLISHER_", "MAIL_"))
    }
    env.update(
        PUBLISHER_DATA_DIR=str(data_dir),
        PYTHONPATH=str(ROOT),
        PUBLIC_URL="https://press.example.org",
    )
    env.update(extra)
    return env


def run_cli(
    *args: str, env: dict[str, str], timeout_s: float = 120, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `publisher ARGS` as a user would; returns the finished process."""
    return subprocess.run(
        [*PUBLISHER, *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        input=stdin,
    )


class Worker:
    """A real `publisher worker` process group, which tests may kill with SIGKILL."""

    def __init__(self, env: dict[str, str], concurrency: int = 2, log: Path | None = None) -> None:
        self.env = env
        self.concurrency = concurrency
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Worker:
        out = self.log.open("ab") if self.log else subprocess.DEVNULL
        self.process = subprocess.Popen(
            [*PUBLISHER, "worker", "--concurrency", str(self.concurrency), "--loglevel", "INFO"],
            env=self.env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def processes(self) -> list[int]:
        """The pids of the worker's process group (its main process and its pool)."""
        assert self.process is not None
        found = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == self.process.pid and fields[0] != "Z":  # pgrp, not a zombie
                found.append(int(entry))
        return found

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.process and self.process.poll() is None:
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                pass
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def workers() -> Iterator[list[Worker]]:
    """Workers a test starts; all are stopped (or killed) at the end."""
    started: list[Worker] = []
    yield started
    for worker in started:
        worker.kill()


def wait_until(predicate: object, timeout_s: float, interval_s: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if callable(predicate) and predicate():
            return True
        time.sleep(interval_s)
    return False
