"""Groups subscribe through an administrator; membership changes and migrations."""

from __future__ import annotations

from publisher import services
from publisher.services import subscribers
from publisher.store.keys import k_recipient_events
from tests.peers.telegram_api import FakeBotAPI

from .conftest import RunningBot, say, state, texts

GROUP, SUPERGROUP = -4001, -1001234500001
ADMIN, MEMBER = 501, 502
REFUSED = "Sorry, only an administrator of this group can do that."


def in_group(
    peer: FakeBotAPI, bot: RunningBot, chat: int, text: str, **sender: object
) -> list[str]:
    before = len(peer.sent_to(chat))
    peer.group_message(chat, text, **sender)  # type: ignore[arg-type]
    bot.settle()
    return texts(peer, chat)[before:]


def test_a_member_who_is_not_an_administrator_is_refused_and_nothing_is_stored(
    peer: FakeBotAPI, bot: RunningBot, backend: services.Backend
) -> None:
    # One group per command: a group's own limit is one message a second.
    groups = {-4101: "/start", -4102: "/start ar", -4103: "/stop", -4104: "/settings"}
    for chat, command in groups.items():
        peer.admins[chat] = {ADMIN}
        assert in_group(peer, bot, chat, command, user_id=MEMBER) == [REFUSED]
        assert state(backend, chat) is None
    asked = peer.calls("getChatMember")
    assert {(r.chat_id, r.params["user_id"]) for r in asked} == {(c, MEMBER) for c in groups}
    # Anyone may read the help (and the latest releases).
    assert in_group(peer, bot, -4105, "/help", user_id=MEMBER)[0].startswith("This bot")


def test_an_administrator_subscribes_the_group_and_changes_its_settings(
    peer: FakeBotAPI, bot: RunningBot, backend: services.Backend
) -> None:
    subscribers.note_category(backend, "Local News", "en")
    peer.admins[SUPERGROUP] = {ADMIN}
    peer.creators[SUPERGROUP] = 503
    (answer,) = in_group(
        peer, bot, SUPERGROUP, "/start@publisher_test_bot ar", user_id=ADMIN, chat_type="supergroup"
    )
    assert answer.startswith("\u200fأهلًا بك!")
    found = state(backend, SUPERGROUP)
    assert found is not None and (found.type, found.language) == ("supergroup", "ar")
    assert in_group(peer, bot, SUPERGROUP, "/settings", user_id=503, chat_type="supergroup")

    keyboard = peer.sent_to(SUPERGROUP)[-1]
    peer.press(SUPERGROUP, keyboard["message_id"], "l:en", user_id=MEMBER)
    bot.settle()
    assert peer.callback_answers[-1]["show_alert"] is True
    assert state(backend, SUPERGROUP).language == "ar"  # type: ignore[union-attr]
    peer.press(SUPERGROUP, keyboard["message_id"], "l:en", user_id=ADMIN)
    bot.settle()
    assert state(backend, SUPERGROUP).language == "en"  # type: ignore[union-attr]
    assert peer.sent_to(SUPERGROUP)[-1]["text"].splitlines()[1] == "Language: English"


def test_an_anonymous_administrator_posting_as_the_group_is_accepted(
    peer: FakeBotAPI, bot: RunningBot, backend: services.Backend
) -> None:
    (answer,) = in_group(peer, bot, GROUP, "/start local-news", anonymous=True)
    assert answer.startswith("Welcome!")
    found = state(backend, GROUP)
    assert found is not None and found.subscribed and found.type == "group"
    assert not peer.calls("getChatMember")  # the group itself spoke: no need to ask
    events = backend.store.redis.xrange(k_recipient_events("telegram"))
    assert b"telegram:chat:-4001" in events[-1][1].values()
    peer.admins[-4011] = {ADMIN}
    (answer,) = in_group(peer, bot, -4011, "/start", user_id=ADMIN)
    assert answer.startswith("Welcome!")
    event = backend.store.recipient_events("telegram")[-1]
    assert (event["who"], event["address"]) == (f"telegram:{ADMIN}", "-4011")
    assert in_group(peer, bot, GROUP, "/stop", anonymous=True)[0].startswith("You are unsub")
    assert state(backend, GROUP).state == "stopped"  # type: ignore[union-attr]


def test_a_blocked_chat_is_suppressed_and_start_restores_its_choices(
    peer: FakeBotAPI, bot: RunningBot, backend: services.Backend
) -> None:
    subscribers.note_category(backend, "Local News", "en")
    say(peer, bot, 61, "/start ar-local-news")
    peer.block(61)
    bot.settle()
    blocked = state(backend, 61)
    assert blocked is not None and blocked.state == "blocked"
    peer.blocked.discard(61)  # unblocking sends the bot nothing it acts on; /start does
    answer = say(peer, bot, 61, "/start")
    assert answer.startswith("\u200fأهلًا بعودتك!")
    found = state(backend, 61)
    assert found is not None and found.subscribed
    assert (found.language, found.categories) == ("ar", ("local-news",))


def test_the_bot_removed_from_a_group_ends_its_subscription(
    peer: FakeBotAPI, bot: RunningBot, backend: services.Backend
) -> None:
    in_group(peer, bot, GROUP, "/start", anonymous=True)
    in_group(peer, bot, -4002, "/start", anonymous=True)
    peer.remove_from_group(GROUP, status="kicked")
    peer.remove_from_group(-4002, status="left")
    bot.settle()
    assert state(backend, GROUP).state == "blocked"  # type: ignore[union-attr]
    assert state(backend, -4002).state == "blocked"  # type: ignore[union-attr]


def test_a_group_that_became_a_supergroup_keeps_its_record_under_the_new_id(
    peer: FakeBotAPI, bot: RunningBot, backend: services.Backend
) -> None:
    subscribers.note_category(backend, "Local News", "en")
    in_group(peer, bot, GROUP, "/start ar-local-news", anonymous=True)
    peer.migrate_group(GROUP, SUPERGROUP)
    bot.settle()
    assert state(backend, GROUP) is None
    moved = state(backend, SUPERGROUP)
    assert moved is not None and moved.subscribed
    assert (moved.language, moved.categories) == ("ar", ("local-news",))
