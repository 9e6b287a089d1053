"""Every command that touches the store exits 3 with one line, never a traceback, when Redis
cannot be reached: before it starts, and when Redis goes away while the command runs."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import PUBLISHER, ROOT, Worker, publisher_env, run_cli, wait_until
from tests.peers.telegram_api import FakeBotAPI


def _release(folder: Path) -> Path:
    path = folder / "release.md"
    path.write_text(
        "---\ntitle: Redis went away\ndate: 2024-05-01T09:00:00+03:00\n"
        "channels: [telegram]\n---\nOne paragraph.\n",
        encoding="utf-8",
    )
    return path


def _commands(folder: Path) -> list[list[str]]:
    csv_file = folder / "journalists.csv"
    csv_file.write_text("email\nok@example.org\n")
    chats = folder / "chats.txt"
    chats.write_text("1001\n")
    release = str(_release(folder))
    return [
        ["publish", release],
        ["publish", release, "--wait"],
        ["publish", release, "--at", "2099-01-01T09:00"],
        ["status", "some-id"],
        ["status", "some-id", "--json"],
        ["deliveries", "some-id", "--json"],
        ["cancel", "some-id"],
        ["resume", "some-id"],
        ["subscribers", "import", "--channel", "telegram", str(chats)],
        ["subscribers", "list", "--channel", "telegram", "--json"],
        ["subscribers", "stats"],
        ["journalists", "import", str(csv_file)],
        ["journalists", "add", "new@example.org"],
        ["journalists", "remove", "ok@example.org"],
        ["journalists", "list", "--json"],
        ["worker"],
        ["beat"],
    ]


@pytest.mark.parametrize(
    "where",
    ["unix://{tmp}/no-such.sock", "redis://:s3cret-pass@127.0.0.1:1/0"],
    ids=["unix", "tcp"],
)
def test_every_store_command_exits_3_with_one_line(tmp_path: Path, where: str) -> None:
    env = publisher_env(tmp_path / "var", REDIS_URL=where.format(tmp=tmp_path))
    for args in _commands(tmp_path):
        result = run_cli(*args, env=env, timeout_s=60)
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 3, (args, result.stderr)
        assert len(lines) == 1 and lines[0].startswith("error: "), (args, result.stderr)
        assert "Redis" in lines[0] and "s3cret-pass" not in result.stderr, (args, lines)


def test_redis_going_away_during_publish_wait_exits_3(tmp_path: Path) -> None:
    """The embedded Redis is killed while `publish --wait` follows a slow broadcast."""
    from publisher.redis_server import embedded_pid, stop_embedded
    from publisher.settings import Settings
    from tests.redis_fixtures import short_dir

    data_dir = short_dir(tmp_path / "v")
    settings = Settings(publisher_data_dir=data_dir, redis_url=None)
    with FakeBotAPI() as bot:
        bot.latency_s = 0.05
        env = publisher_env(
            data_dir,
            TELEGRAM_BOT_TOKEN=bot.token,
            TELEGRAM_API_URL=bot.base_url,
            TELEGRAM_RATE_LIMIT="20",
        )
        env.pop("REDIS_URL", None)
        chats = tmp_path / "chats.txt"
        chats.write_text("".join(f"{3000 + i}\n" for i in range(400)))
        worker = Worker(env, concurrency=1, log=tmp_path / "worker.log")
        try:
            assert run_cli("subscribers", "import", str(chats), env=env).returncode == 0
            worker.start()
            waiting = subprocess.Popen(
                [*PUBLISHER, "publish", str(_release(tmp_path)), "--wait"],
                env=env,
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            assert wait_until(lambda: len(bot.requests) >= 20, 60), "the broadcast did not start"
            time.sleep(0.5)
            pid = embedded_pid(settings)
            assert pid
            import os

            os.kill(pid, signal.SIGKILL)
            _, stderr = waiting.communicate(timeout=120)
            lines = [line for line in stderr.splitlines() if line.startswith("error")]
            assert waiting.returncode == 3, stderr
            assert "Traceback" not in stderr and len(lines) == 1, stderr
        finally:
            worker.kill()
            stop_embedded(settings)
