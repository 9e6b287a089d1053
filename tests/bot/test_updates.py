"""Updates handled once and in order: duplicates, two bot processes, many chats at once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from telegram import Update

from publisher import services
from publisher.bot.limits import BoundedIntake, PerChatUpdateProcessor
from publisher.store.keys import k_recipient_events
from tests.peers.telegram_api import FakeBotAPI

from .conftest import RunningBot, state, texts


def test_the_same_update_delivered_twice_is_handled_once(
    peer: FakeBotAPI, bot: RunningBot, backend: services.Backend
) -> None:
    update = {"update_id": 7001, "message": peer.user_message(71, "/start", push=False)}
    peer.push_updates([update, update])  # one getUpdates answer with both copies
    bot.settle()
    assert len(texts(peer, 71)) == 1
    assert state(backend, 71).subscribed  # type: ignore[union-attr]
    events = backend.store.redis.xlen(k_recipient_events("telegram"))
    assert events == 1


def test_two_bot_processes_on_one_redis_answer_each_update_once(
    peer: FakeBotAPI, bots: Callable[..., RunningBot], backend: services.Backend
) -> None:
    first, second = bots(), bots()
    # Both long polls wait on the same peer: each update reaches whichever asks first, often
    # both (neither has confirmed it yet); the copies are also put straight into both queues.
    updates = [
        {"update_id": 7100 + n, "message": peer.user_message(800 + n, "/start", push=False)}
        for n in range(20)
    ]
    peer.push_updates(updates)
    for bot in (first, second):
        assert bot.application is not None and bot._loop is not None
        for update in updates[:5]:
            parsed = Update.de_json(update, bot.application.bot)
            bot._loop.call_soon_threadsafe(bot.application.update_queue.put_nowait, parsed)
    first.settle()
    second.settle()
    for n in range(20):
        assert len(texts(peer, 800 + n)) == 1, n
        assert state(backend, 800 + n).subscribed  # type: ignore[union-attr]


def test_one_chats_updates_are_handled_in_order_many_chats_at_once(
    peer: FakeBotAPI, bot: RunningBot, backend: services.Backend
) -> None:
    chats = range(900, 960)
    batch = []
    for chat in chats:
        for text in ("/start", "/stop", "/start ar", "/stop"):
            batch.append({"message": peer.user_message(chat, text, push=False)})
    peer.push_updates(batch)
    bot.settle()
    for chat in chats:
        found = state(backend, chat)
        assert found is not None and found.state == "stopped" and found.language == "ar", chat
        answers = texts(peer, chat)
        assert [a.split()[0].strip("\u200f") for a in answers] == [
            "Welcome!",
            "You",
            "أهلًا",
            "أُلغي",
        ], answers
    assert bot.application is not None
    processor = bot.application.update_processor
    assert isinstance(processor, PerChatUpdateProcessor)
    assert processor.waited > 0  # the chats' later updates did wait for their first
    assert processor.current_concurrent_updates == 0


def test_the_intake_hands_out_no_more_updates_than_are_handled_at_once() -> None:
    async def go() -> tuple[int, bool]:
        intake = BoundedIntake(in_flight=3, maxsize=5)
        for n in range(5):
            await intake.put(n)
        putting = asyncio.ensure_future(intake.put(5))  # full: the poller waits
        taken = [await intake.get() for _ in range(3)]
        getting = asyncio.ensure_future(intake.get())  # 3 not done: the application waits
        await asyncio.sleep(0.01)
        waited = not getting.done()
        intake.task_done()
        assert await asyncio.wait_for(getting, 1) == 3
        await asyncio.wait_for(putting, 1)
        return len(taken), waited

    assert asyncio.run(go()) == (3, True)
