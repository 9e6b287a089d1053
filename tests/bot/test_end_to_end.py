"""People subscribe through the real bot with different choices; an English release with an
Arabic translation (and another English release) go out through a real worker; each subscriber
gets exactly the versions their choices call for, once, and nobody who stopped or blocked the
bot gets anything."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from publisher import services
from publisher.services import subscribers
from tests.conftest import Worker, publisher_env, run_cli
from tests.peers.telegram_api import FakeBotAPI

from .conftest import RunningBot, say, state

RELEASES = {
    "envoy": ("Envoy meets delegation", "Local News", "en", None),
    "envoy-ar": ("المبعوث يلتقي الوفد", "أخبار محلية", "ar", "envoy"),
    "aid": ("Statement on aid", "Press Releases", "en", None),
}


def write(folder: Path, release_id: str) -> Path:
    title, category, language, original = RELEASES[release_id]
    front = {"id": release_id, "title": title, "category": category, "language": language,
             "date": "2024-05-01T09:00:00+03:00", "channels": ["telegram"]}  # fmt: skip
    if original:
        front["translation_of"] = original
    path = folder / f"{release_id}.md"
    lines = "".join(f"{k}: {json.dumps(v, ensure_ascii=False)}\n" for k, v in front.items())
    path.write_text(f"---\n{lines}---\nA paragraph.\n", encoding="utf-8")
    return path


def test_each_subscriber_gets_the_versions_their_choices_call_for_once(
    tmp_path: Path,
    data_dir: Path,
    redis_server: str,
    peer: FakeBotAPI,
    bot: RunningBot,
    backend: services.Backend,
    workers: list[Worker],
) -> None:
    subscribers.note_category(backend, "Local News", "en")  # an earlier release used it
    say(peer, bot, 101, "/start", language_code="en")
    say(peer, bot, 102, "/start", language_code="ar")
    say(peer, bot, 103, "/start both")
    say(peer, bot, 104, "/start ar-local-news")
    say(peer, bot, 105, "/start local-news", language_code="en")
    say(peer, bot, 106, "/start")
    say(peer, bot, 106, "/stop")
    say(peer, bot, 107, "/start ar")
    peer.block(107)  # the user blocks the bot: Telegram sends my_chat_member
    bot.settle()
    assert state(backend, 106).state == "stopped"  # type: ignore[union-attr]
    assert state(backend, 107).state == "blocked"  # type: ignore[union-attr]

    env = publisher_env(
        data_dir, TELEGRAM_BOT_TOKEN=peer.token, TELEGRAM_API_URL=peer.base_url,
        REDIS_URL=redis_server,
    )  # fmt: skip
    workers.append(Worker(env, log=tmp_path / "worker.log").start())
    for release_id in RELEASES:
        result = run_cli("publish", str(write(tmp_path, release_id)), "--wait", env=env)
        assert result.returncode == 0, result.stdout + result.stderr

    got: dict[int, Counter[str]] = {}
    for chat in range(101, 108):
        texts = [m.get("text", "") for m in peer.sent_to(chat)]
        got[chat] = Counter(
            release_id for release_id, (title, *_) in RELEASES.items() for t in texts if title in t
        )
    assert got == {
        101: Counter({"envoy": 1, "aid": 1}),
        102: Counter({"envoy-ar": 1}),  # Arabic: the translation, nothing without one
        103: Counter({"envoy": 1, "envoy-ar": 1, "aid": 1}),  # both languages
        104: Counter({"envoy-ar": 1}),  # Arabic, Local News: the translation counts there
        105: Counter({"envoy": 1}),  # English, Local News only
        106: Counter(),  # stopped
        107: Counter(),  # blocked
    }
    status = json.loads(run_cli("status", "envoy-ar", "--json", env=env).stdout)
    assert status["channels"]["telegram"]["sent"] == 3
    assert status["channels"]["telegram"]["audience"]["language"] == {"ar": 2, "both": 1}
