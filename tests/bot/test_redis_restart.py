"""The bot process when Redis goes away and comes back: it stays up, tells whoever writes in
the meantime to try again, and handles the next updates as before."""

from __future__ import annotations

import subprocess
from pathlib import Path

from publisher import services
from publisher.bot.i18n import RLM
from publisher.settings import Settings
from tests.conftest import PUBLISHER, ROOT, publisher_env, wait_until
from tests.peers.telegram_api import FakeBotAPI
from tests.redis_fixtures import short_dir

SORRY_AR = "عذرًا، حدث خطأ من جهتنا. يُرجى المحاولة مرة أخرى بعد بضع دقائق."


def test_the_bot_survives_a_redis_restart(peer: FakeBotAPI, tmp_path: Path) -> None:
    from publisher.redis_server import restart_embedded, stop_embedded, uses_embedded

    data_dir = short_dir(tmp_path / "v")
    env = publisher_env(data_dir, TELEGRAM_BOT_TOKEN=peer.token, TELEGRAM_API_URL=peer.base_url)
    env.pop("REDIS_URL", None)  # this test's own embedded Redis, which it stops and restarts
    settings = Settings(publisher_data_dir=data_dir, redis_url=None)
    assert uses_embedded(settings)
    process = subprocess.Popen([*PUBLISHER, "bot"], env=env, cwd=ROOT, stderr=subprocess.PIPE)
    try:
        peer.user_message(95, "/start")
        assert wait_until(lambda: peer.sent_to(95), 30, 0.02), process.poll()

        stop_embedded(settings)
        peer.user_message(96, "/start", language_code="ar")
        assert wait_until(lambda: peer.sent_to(96), 30, 0.05), "nobody answered without Redis"
        [sorry] = peer.sent_to(96)
        assert sorry["text"] == RLM + SORRY_AR
        assert process.poll() is None, "the bot died with Redis"

        restart_embedded(settings)
        peer.user_message(97, "/start")
        assert wait_until(lambda: peer.sent_to(97), 30, 0.05), "the bot did not come back"
        assert peer.sent_to(97)[0]["text"].startswith("Welcome!")
        backend = services.connect(settings=settings)
        assert services.subscribers.find(backend, "97") is not None
        assert process.poll() is None
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
        stop_embedded(settings)
