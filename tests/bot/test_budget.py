"""The bot spends the token's one budget with the delivery workers: its requests take slots in
the workers' window in Redis, and a message to a group also in the group's own window."""

from __future__ import annotations

from publisher import services
from publisher.channels.telegram import TelegramChannel
from publisher.store import k_rate
from tests.peers.telegram_api import FakeBotAPI

from .conftest import RunningBot, say
from .test_groups import ADMIN, in_group


def test_the_bots_answers_take_slots_in_the_workers_window(
    peer: FakeBotAPI, bot: RunningBot, backend: services.Backend
) -> None:
    redis = backend.store.redis
    workers_key = k_rate(TelegramChannel.rate_limit_key(backend.settings))  # as runtime.py's
    before = redis.llen(workers_key)
    say(peer, bot, 4401, "/start")
    say(peer, bot, 4401, "/help")
    assert redis.llen(workers_key) >= before + 2
    # A private chat's own limit is only checked for consecutive parts: no scope log for it.
    assert not redis.exists(f"{workers_key}:chat:4401")

    peer.admins[-4402] = {ADMIN}
    assert in_group(peer, bot, -4402, "/help", user_id=ADMIN)
    assert redis.llen(f"{workers_key}:group:-4402") == 1  # the group's 20 a minute
