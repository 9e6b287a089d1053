"""The bot's commands, fed through getUpdates to the real Application: what it answers (text,
language, keyboard) and what it stores."""

from __future__ import annotations

import pytest

from publisher import services
from publisher.bot.i18n import RLM
from publisher.services import subscribers
from tests.peers.telegram_api import FakeBotAPI

from .conftest import ORGANISATION, RunningBot, publish, say, state, texts


def test_start_subscribes_in_english_and_the_menu_is_set_per_language(
    peer: FakeBotAPI, bot: RunningBot, backend: services.Backend
) -> None:
    answer = say(peer, bot, 42, "/start", language_code="en-GB")
    assert answer.splitlines() == [
        f"Welcome! {ORGANISATION}'s press releases will come to this chat.",
        "Language: English",
        "Categories: all",
        "Change them with /settings; stop with /stop.",
    ]
    found = state(backend, 42)
    assert found is not None
    assert (found.state, found.type, found.language, found.categories, found.source) == (
        "subscribed",
        "private",
        "en",
        (),
        "bot",
    )
    # The person did it in their own chat: "self", the event's address saying who.
    event = backend.store.recipient_events("telegram")[-1]
    assert (event["type"], event["who"], event["address"]) == ("subscribed", "self", "42")
    calls = peer.calls("setMyCommands")
    assert [c.params.get("language_code") for c in calls] == ["en", "ar", None]
    assert [c["command"] for c in peer.commands_for("")] == [
        "start",
        "settings",
        "latest",
        "stop",
        "help",
    ]
    assert peer.commands_for("ar")[0]["description"] == "الاشتراك في البيانات الصحفية"
    assert peer.commands_for("en")[0]["description"] == "Subscribe to the press releases"
    assert peer.calls("getUpdates")[0].params["allowed_updates"] == [
        "message",
        "edited_message",
        "callback_query",
        "my_chat_member",
    ]


def test_an_arabic_user_is_answered_in_arabic_right_to_left(
    peer: FakeBotAPI, bot: RunningBot, backend: services.Backend
) -> None:
    answer = say(peer, bot, 43, "/start", language_code="ar")
    lines = answer.splitlines()
    assert all(line.startswith(RLM) for line in lines), lines
    assert (
        lines[0]
        == RLM + f"أهلًا بك! ستصلك البيانات الصحفية الصادرة عن {ORGANISATION} في هذه المحادثة."
    )
    # Each command is marked left to right, or Arabic text shows it as "settings/".
    assert lines[-1] == RLM + "يمكنك تغييرها عبر \u200e/settings، وإيقاف الاشتراك عبر \u200e/stop."
    assert state(backend, 43).language == "ar"  # type: ignore[union-attr]
    help_lines = say(peer, bot, 43, "/help").splitlines()
    assert RLM + "\u200e/stop – إلغاء الاشتراك" in help_lines
    # The stored choice decides from then on, not the app's language.
    subscribers.choose(backend, "43", "test", language="en")
    assert say(peer, bot, 43, "/help", language_code="ar").startswith("This bot sends")


DEEP_LINKS = [
    # payload, language stored, categories stored, understood
    ("ar", "ar", (), True),
    ("both", "both", (), True),
    ("local-news", "en", ("local-news",), True),
    ("ar-local-news", "ar", ("local-news",), True),
    ("EN_local_news", "en", ("local-news",), True),
    ("sports", "en", (), False),  # no such category on the website
    ("ar-sports", "ar", (), False),  # the language is understood, the category is not
    ("bad!chars", "en", (), False),
    ("x" * 65, "en", (), False),  # deep links are at most 64 characters
    ("two words", "en", (), False),
]


NOT_UNDERSTOOD = (
    "I did not understand the link you followed, so you get the defaults.",
    "لم أفهم الرابط الذي فتحته، لذلك اخترت لك الإعدادات الافتراضية.",
)


def test_deep_links_preselect_and_an_unknown_one_says_so(
    peer: FakeBotAPI, bot: RunningBot, backend: services.Backend
) -> None:
    subscribers.note_category(backend, "Local News", "en")
    subscribers.note_category(backend, "أخبار محلية", "ar", original="Local News")
    for chat, (payload, language, categories, understood) in enumerate(DEEP_LINKS, 100):
        answer = say(peer, bot, chat, f"/start {payload}", language_code="en")
        found = state(backend, chat)
        assert found is not None and found.subscribed, payload
        assert (found.language, found.categories) == (language, categories), payload
        said = any(note in answer for note in NOT_UNDERSTOOD)
        assert said is not understood, (payload, answer)
    chosen = texts(peer, 103)[0]  # ar-local-news: in Arabic, with the category's Arabic name
    assert RLM + "التصنيفات: أخبار محلية" in chosen.splitlines()


def test_stop_says_how_to_come_back_and_start_restores_the_choices(
    peer: FakeBotAPI, bot: RunningBot, backend: services.Backend
) -> None:
    subscribers.note_category(backend, "Local News", "en")
    say(peer, bot, 44, "/start local-news")
    assert say(peer, bot, 44, "/stop").splitlines() == [
        "You are unsubscribed: no more press releases will come to this chat.",
        "Send /start to subscribe again.",
    ]
    assert state(backend, 44).state == "stopped"  # type: ignore[union-attr]
    assert say(peer, bot, 44, "/stop").startswith("You are not subscribed.")
    again = say(peer, bot, 44, "/start")
    assert again.startswith("Welcome back!")
    assert "Categories: Local News" in again
    found = state(backend, 44)
    assert found is not None and found.subscribed and found.categories == ("local-news",)
    assert say(peer, bot, 44, "/start").startswith("You are already subscribed")


def buttons(message: dict[str, object]) -> list[list[tuple[str, str]]]:
    rows = message["reply_markup"]["inline_keyboard"]  # type: ignore[index]
    return [[(b["text"], b["callback_data"]) for b in row] for row in rows]


def test_settings_buttons_edit_the_same_message_in_place(
    peer: FakeBotAPI, bot: RunningBot, backend: services.Backend
) -> None:
    subscribers.note_category(backend, "Local News", "en")
    subscribers.note_category(backend, "أخبار محلية", "ar", original="Local News")
    subscribers.note_category(backend, "Economy", "en")
    say(peer, bot, 45, "/start", language_code="en")
    say(peer, bot, 45, "/settings")
    message = peer.sent_to(45)[-1]
    assert message["text"].splitlines()[:3] == [
        "Your settings",
        "Language: English",
        "Categories: all",
    ]
    assert buttons(message) == [
        [("✅ English", "l:en"), ("العربية", "l:ar"), ("Both", "l:both")],
        [("✅ Economy", "c:economy")],
        [("✅ Local News", "c:local-news")],
    ]
    count = len(peer.sent_to(45))

    def press(button: str) -> dict[str, object]:
        peer.press(45, message["message_id"], button)  # type: ignore[arg-type]
        bot.settle()
        assert len(peer.sent_to(45)) == count  # edited, never a new message
        return next(m for m in peer.sent_to(45) if m["message_id"] == message["message_id"])

    edited = press("العربية")
    assert state(backend, 45).language == "ar"  # type: ignore[union-attr]
    assert edited["text"].splitlines()[1] == RLM + "اللغة: العربية"
    assert buttons(edited)[0] == [
        ("English", "l:en"),
        ("✅ العربية", "l:ar"),
        ("كلتاهما", "l:both"),
    ]
    assert buttons(edited)[2] == [("✅ أخبار محلية", "c:local-news")]
    assert peer.callback_answers[-1]["text"] == RLM + "تم الحفظ."

    edited = press("c:economy")  # switched off: only Local News is left on
    assert state(backend, 45).categories == ("local-news",)  # type: ignore[union-attr]
    assert buttons(edited)[1] == [("⬜ Economy", "c:economy")]

    press("c:local-news")  # the last one on stays on, and the presser is told why
    assert state(backend, 45).categories == ("local-news",)  # type: ignore[union-attr]
    assert peer.callback_answers[-1]["show_alert"] is True
    assert "/stop" in peer.callback_answers[-1]["text"]

    edited = press("c:economy")  # every category on again: stored as "all"
    assert state(backend, 45).categories == ()  # type: ignore[union-attr]
    assert [row[0][0] for row in buttons(edited)[1:]] == ["✅ Economy", "✅ أخبار محلية"]
    press("l:both")
    assert state(backend, 45).language == "both"  # type: ignore[union-attr]
    assert len(peer.callback_answers) == 5
    assert len(peer.calls("editMessageText")) == 4


def test_settings_before_start_says_to_start(peer: FakeBotAPI, bot: RunningBot) -> None:
    assert say(peer, bot, 46, "/settings") == "You are not subscribed yet. Send /start first."
    assert "reply_markup" not in peer.sent_to(46)[-1]


def test_latest_lists_the_last_five_in_the_readers_language(
    peer: FakeBotAPI, bot: RunningBot, backend: services.Backend
) -> None:
    say(peer, bot, 47, "/start", language_code="en")
    assert say(peer, bot, 47, "/latest") == "No press releases have been published yet."
    for n in range(1, 8):
        publish(backend, f"en-{n}", f"Release {n} <on> water & power", "en")
    publish(backend, "ar-1", "بيان عن المياه", "ar")
    answer = say(peer, bot, 47, "/latest")
    assert answer.splitlines() == ["The latest press releases:"] + [
        f"• Release {n} <on> water & power" for n in (7, 6, 5, 4, 3)
    ]
    sent = peer.sent_to(47)[-1]
    links = [e["url"] for e in sent["entities"] if e["type"] == "text_link"]
    assert links == [f"https://press.example.org/releases/en-{n}/" for n in (7, 6, 5, 4, 3)]
    assert peer.calls("sendMessage")[-1].params["parse_mode"] == "HTML"

    answer = say(peer, bot, 48, "/latest", language_code="ar")  # not subscribed: by language_code
    assert answer.splitlines() == [RLM + "أحدث البيانات الصحفية:", RLM + "• بيان عن المياه"]


def test_help_lists_the_commands(peer: FakeBotAPI, bot: RunningBot) -> None:
    lines = say(peer, bot, 49, "/help").splitlines()
    assert lines[0] == f"This bot sends {ORGANISATION}'s press releases."
    assert [line.split()[0] for line in lines[1:6]] == [
        "/start",
        "/settings",
        "/latest",
        "/stop",
        "/help",
    ]


@pytest.mark.parametrize("with_bot_name", [False, True])
def test_commands_addressed_to_the_bot_by_name_work(
    peer: FakeBotAPI, bot: RunningBot, with_bot_name: bool
) -> None:
    command = f"/help@{peer.bot_username}" if with_bot_name else "/help"
    assert say(peer, bot, 50, command).startswith("This bot sends")
