"""`publisher bot` as a process: it starts, answers /start, and stops cleanly on SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

from publisher import services
from publisher.services import subscribers
from tests.conftest import PUBLISHER, ROOT, publisher_env, wait_until
from tests.peers.telegram_api import FakeBotAPI

from .conftest import bot_settings


def test_the_bot_process_answers_and_stops_on_sigterm(
    peer: FakeBotAPI, data_dir: Path, redis_server: str
) -> None:
    env = publisher_env(
        data_dir,
        TELEGRAM_BOT_TOKEN=peer.token,
        TELEGRAM_API_URL=peer.base_url,
        PUBLISHER_LOG_FORMAT="json",
    )
    process = subprocess.Popen(
        [*PUBLISHER, "bot"], env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        peer.user_message(91, "/start", language_code="ar")
        assert wait_until(lambda: peer.sent_to(91), 30, 0.02), process.poll()
        assert peer.sent_to(91)[0]["text"].startswith("\u200fأهلًا بك!")
        began = time.monotonic()
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err.decode()
    assert time.monotonic() - began < 10
    assert b"Traceback" not in err and peer.token.encode() not in err
    assert b'"event": "subscribed"' in err
    backend = services.connect(settings=bot_settings(peer, redis_server, data_dir))
    found = subscribers.find(backend, "91")
    assert found is not None and found.subscribed and found.language == "ar"
