"""A group that became a supergroup: Telegram answers a send with `migrate_to_chat_id`; the
subscriber record and its choices move to the new id and the send is retried there, once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.conftest import Worker, publisher_env, run_cli
from tests.peers import telegram_api
from tests.peers.telegram_api import FakeBotAPI


class MigratingBotAPI(FakeBotAPI):
    """Telegram's answer to a send to an upgraded group: 400 with the new chat id."""

    def __init__(self, migrated: dict[int, int]) -> None:
        super().__init__()
        self.migrated = migrated

    def _check_chat(self, key: Any) -> None:
        if key in self.migrated:
            raise telegram_api._ApiError(
                400,
                "Bad Request: group chat was upgraded to a supergroup chat",
                {"migrate_to_chat_id": self.migrated[key]},
            )
        super()._check_chat(key)


def test_a_send_to_an_upgraded_group_moves_the_record_and_goes_out_there_once(
    tmp_path: Path, data_dir: Path, workers: list[Worker]
) -> None:
    # -7 moved to -1007, which moved again: the second move is not followed.
    with MigratingBotAPI({-5: -1005, -7: -1007, -1007: -1008}) as bot:
        env = publisher_env(data_dir, TELEGRAM_BOT_TOKEN=bot.token, TELEGRAM_API_URL=bot.base_url)
        chats = tmp_path / "chats.txt"
        chats.write_text("-5,both,local-news\n-6\n-7\n")
        assert run_cli("subscribers", "import", str(chats), env=env).returncode == 0
        release = tmp_path / "r.md"
        release.write_text(
            "---\ntitle: Envoy meets delegation\ndate: 2024-05-01T09:00:00+03:00\n"
            "category: Local News\nchannels: [telegram]\n---\nA paragraph.\n"
        )
        workers.append(Worker(env, log=tmp_path / "worker.log").start())
        result = run_cli("publish", str(release), "--wait", env=env)
        assert result.returncode == 1, result.stderr  # the group that moved twice failed
        release_id = result.stdout.splitlines()[0]

        sends = [r for r in bot.calls("sendMessage") if r.ok]
        assert sorted(str(r.chat_id) for r in sends) == ["-1005", "-6"]
        status = json.loads(run_cli("status", release_id, "--json", env=env).stdout)
        telegram = status["channels"]["telegram"]
        assert (telegram["sent"], telegram["failed"], telegram["pending"]) == (2, 1, 0)
        assert any("after a move" in e["error"] for e in status["errors"])
        listed = json.loads(run_cli("subscribers", "list", "--json", env=env).stdout)
        rows = {row["chat_id"]: row for row in listed}
        assert "-5" not in rows and rows["-1005"]["language"] == "both"
        assert rows["-1005"]["categories"] == ["local-news"], "the choices moved along"
        deliveries = json.loads(run_cli("deliveries", release_id, "--json", env=env).stdout)
        moved = next(d for d in deliveries if d["recipient"] == "-5")
        assert moved["state"] == "sent" and moved["platform_ids"]
