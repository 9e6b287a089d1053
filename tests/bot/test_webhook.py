"""`publisher bot --webhook`: real HTTP POSTs to the aiohttp endpoint, the secret checked."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from publisher import services
from publisher.bot.app import ALLOWED_UPDATES
from tests.conftest import publisher_env, run_cli
from tests.peers.telegram_api import FakeBotAPI

from .conftest import SECRET, RunningBot, state, texts

HEADER = "X-Telegram-Bot-Api-Secret-Token"


@pytest.fixture
def hook(bots: Callable[..., RunningBot]) -> RunningBot:
    return bots(webhook=True)


def post(bot: RunningBot, body: Any, secret: str | None = SECRET) -> requests.Response:
    headers = {HEADER: secret} if secret is not None else {}
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers["Content-Type"] = "application/json"
    return requests.post(bot.url, data=data, headers=headers, timeout=10)


def start_update(peer: FakeBotAPI, update_id: int, chat: int, text: str = "/start") -> Any:
    return {"update_id": update_id, "message": peer.user_message(chat, text, push=False)}


def test_an_update_with_the_secret_is_handled_and_the_webhook_registered(
    peer: FakeBotAPI, hook: RunningBot, backend: services.Backend
) -> None:
    assert peer.webhook == {
        "url": "https://press.example.org/telegram/webhook",
        "secret_token": SECRET,
        "allowed_updates": ALLOWED_UPDATES,
    }
    response = post(hook, start_update(peer, 5001, 81, "/start ar"))
    assert response.status_code == 200
    hook.settle()
    assert texts(peer, 81)[0].startswith("\u200fأهلًا بك!")
    assert state(backend, 81).language == "ar"  # type: ignore[union-attr]
    assert not peer.calls("getUpdates")  # a webhook bot never polls


@pytest.mark.parametrize("secret", [None, "", "wrong", SECRET + "x", SECRET[:-1]])
def test_a_missing_or_wrong_secret_is_refused_and_nothing_is_stored(
    peer: FakeBotAPI, hook: RunningBot, backend: services.Backend, secret: str | None
) -> None:
    response = post(hook, start_update(peer, 5002, 82), secret)
    assert response.status_code == 403
    assert response.headers["Content-Type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["status"] == 403 and HEADER in problem["detail"]
    hook.settle()
    assert state(backend, 82) is None
    assert texts(peer, 82) == []
    # Not even claimed: a refused request is not looked at.
    assert backend.store.claim_inbound(f"telegram-{peer.bot_id}", 5002)


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[1, 2]", b'{"message": {}}', b"", b'{"update_id": 1, "message": "x"}'],
)
def test_a_body_that_is_not_an_update_is_a_bad_request(hook: RunningBot, body: bytes) -> None:
    assert post(hook, body).status_code == 400


def test_only_post_to_the_webhook_path_is_served(hook: RunningBot) -> None:
    assert requests.get(hook.url, timeout=5).status_code == 405
    other = hook.url.replace("/telegram/webhook", "/other")
    assert requests.post(other, headers={HEADER: SECRET}, timeout=5).status_code == 404


def test_the_same_update_posted_twice_is_handled_once(
    peer: FakeBotAPI, hook: RunningBot, backend: services.Backend
) -> None:
    update = start_update(peer, 5003, 83)
    assert post(hook, update).status_code == 200
    assert post(hook, update).status_code == 200  # Telegram retries when it saw no answer
    hook.settle()
    assert len(texts(peer, 83)) == 1


def test_the_webhook_refuses_to_start_without_its_secret_or_a_token(data_dir: Path) -> None:
    env = publisher_env(data_dir, TELEGRAM_BOT_TOKEN="123:abc")
    result = run_cli("bot", "--webhook", "--port", "8443", env=env, timeout_s=60)
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert "TELEGRAM_WEBHOOK_SECRET" in line and "fix:" in line

    env["TELEGRAM_WEBHOOK_SECRET"] = "has spaces!"
    result = run_cli("bot", "--webhook", env=env, timeout_s=60)
    assert result.returncode == 2 and "TELEGRAM_WEBHOOK_SECRET" in result.stderr

    result = run_cli("bot", "--webhook", env=publisher_env(data_dir), timeout_s=60)
    assert result.returncode == 2
    assert "TELEGRAM_BOT_TOKEN" in result.stderr and len(result.stderr.splitlines()) == 1
