"""Logs an operator can use: a worker names the release, channel and batch of what it delivers,
one line per event, in key=value or JSON, and never prints a secret."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from publisher.logs import EventFormatter, log_event
from tests.conftest import Worker, publisher_env, run_cli
from tests.peers.smtp import SMTPPeer
from tests.peers.telegram_api import FakeBotAPI

PASSWORD = "p4ss-w0rd-very-secret"


def _record(event: str, **fields: object) -> logging.LogRecord:
    logger = logging.getLogger("publisher.test")
    record = logger.makeRecord(logger.name, logging.INFO, __file__, 1, event, (), None)
    record.fields = fields
    return record


def test_a_line_carries_its_fields_and_blanks_every_secret() -> None:
    formatter = EventFormatter("text", ["123456:ABCDEF-secret", PASSWORD])
    line = formatter.format(
        _record("batch finished", release_id="r-1", channel="telegram", error="bad token "
                "123456:ABCDEF-secret at https://api/bot123456:ABCDEF-secret/send", sent=3)
    )  # fmt: skip
    assert "release_id=r-1 channel=telegram" in line and "sent=3" in line
    assert "ABCDEF-secret" not in line and "***" in line
    assert "\n" not in line
    as_json = json.loads(
        EventFormatter("json", [PASSWORD]).format(_record("retry", error=f"auth {PASSWORD}"))
    )
    assert as_json["event"] == "retry" and as_json["error"] == "auth ***"


def test_log_event_skips_work_below_the_level() -> None:
    logger = logging.getLogger("publisher.test.quiet")
    logger.setLevel(logging.WARNING)
    log_event(logger, logging.INFO, "ignored", value=object())  # nothing formatted, no error


def test_a_worker_logs_each_batch_with_release_and_channel_and_no_secret(
    tmp_path: Path, data_dir: Path
) -> None:
    with FakeBotAPI() as bot, SMTPPeer(auth=("press", PASSWORD)) as smtp:
        for log_format in ("text", "json"):
            env = publisher_env(
                data_dir,
                TELEGRAM_BOT_TOKEN=bot.token,
                TELEGRAM_API_URL=bot.base_url,
                SMTP_URL=smtp.url,
                MAIL_FROM="Press Office <press@example.org>",
                PUBLISHER_LOG_FORMAT=log_format,
            )
            chats = tmp_path / "chats.txt"
            chats.write_text("5001\n5002\n")
            journalists = tmp_path / "j.csv"
            journalists.write_text("email,name\nreporter@example.org,Reporter\n")
            assert run_cli("subscribers", "import", str(chats), env=env).returncode == 0
            assert run_cli("journalists", "import", str(journalists), env=env).returncode == 0
            release = tmp_path / f"{log_format}.md"
            release.write_text(
                f"---\ntitle: Logged {log_format}\ndate: 2024-05-01T09:00:00+03:00\n"
                "channels: [telegram, email]\n---\nA paragraph.\n",
                encoding="utf-8",
            )
            log = tmp_path / f"worker-{log_format}.log"
            worker = Worker(env, concurrency=1, log=log).start()
            try:
                done = run_cli("publish", str(release), "--wait", env=env)
            finally:
                worker.stop()
            assert done.returncode == 0, done.stderr
            release_id = done.stdout.splitlines()[0]
            text = log.read_text()
            assert bot.token not in text and PASSWORD not in text
            assert bot.token.split(":")[1] not in text
            ours = [line for line in text.splitlines() if release_id in line]
            if log_format == "json":
                events = [json.loads(line) for line in ours]
                finished = [e for e in events if e["event"] == "batch finished"]
                assert {e["channel"] for e in finished} == {"telegram", "email"}
                assert all(e["release_id"] == release_id and "seconds" in e for e in finished)
                assert sum(e.get("sent", 0) for e in finished) == 3
            else:
                for channel in ("telegram", "email"):
                    started = [line for line in ours if "batch started" in line]
                    assert any(f"channel={channel}" in line for line in started), ours
                    assert any(
                        "batch finished" in line and f"channel={channel}" in line
                        and "seconds=" in line for line in ours
                    ), ours  # fmt: skip
                assert any("fanned out" in line for line in ours), ours
