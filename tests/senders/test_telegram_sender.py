"""The Telegram sender, with python-telegram-bot over aiohttp, against a loopback Bot API."""

from __future__ import annotations

import asyncio
import pickle
import warnings
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import telegram
import telegram.error
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    PassportDecryptionError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.warnings import PTBDeprecationWarning

from publisher.channels.base import Recipient, SendContext
from publisher.errors import (
    ChannelFault,
    DeliveryError,
    PermanentDeliveryError,
    RecipientMoved,
    TransientDeliveryError,
)
from publisher.senders.aiohttp_request import AiohttpRequest
from publisher.senders.telegram import TRANSLATIONS, TelegramSender, chat_id, translate
from publisher.settings import Settings
from tests.peers.telegram_api import FakeBotAPI

from . import DictMedia, PartLog, ThrottleLog

# PTB itself warns when it builds a RetryAfter (retry_after becomes a timedelta in v23).
pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8


@pytest.fixture(scope="module")
def server() -> Iterator[FakeBotAPI]:
    with FakeBotAPI() as peer:
        yield peer


@pytest.fixture
def peer(server: FakeBotAPI) -> FakeBotAPI:
    server.reset()
    server.blocked.clear()
    server.deactivated.clear()
    server.missing.clear()
    server.latency_s = 0.0
    return server


def settings_for(peer: FakeBotAPI, token: str | None = None) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        telegram_bot_token=token or peer.token,
        telegram_api_url=peer.base_url,
    )


def deliver(
    peer: FakeBotAPI,
    payload: dict[str, Any],
    address: str = "42",
    ctx: SendContext | None = None,
    token: str | None = None,
) -> list[str]:
    async def go() -> list[str]:
        sender = TelegramSender(settings_for(peer, token))
        await sender.start()
        try:
            return await sender.deliver(payload, Recipient(address), ctx or SendContext("rel-1"))
        finally:
            await sender.close()

    return asyncio.run(go())


def texts(*parts: str) -> dict[str, Any]:
    return {"messages": [{"text": p, "parse_mode": "HTML"} for p in parts]}


def test_a_three_part_release_reaches_the_chat_in_order(peer: FakeBotAPI) -> None:
    log = PartLog()
    ids = deliver(
        peer,
        texts("<b>Title</b>", "Second <i>part</i>", "Third"),
        ctx=SendContext("rel-1", on_part=log),
    )
    assert [m["text"] for m in peer.sent_to(42)] == ["Title", "Second part", "Third"]
    assert peer.sent_to(42)[0]["entities"][0]["type"] == "bold"
    assert ids == [str(m["message_id"]) for m in peer.sent_to(42)]
    assert log.parts == list(enumerate(ids))


def test_a_resumed_send_sends_only_the_parts_not_yet_sent(peer: FakeBotAPI) -> None:
    log = PartLog()
    ids = deliver(
        peer, texts("One", "Two", "Three"), ctx=SendContext("rel-1", ["900"], on_part=log)
    )
    assert [m["text"] for m in peer.sent_to(42)] == ["Two", "Three"]
    assert ids[0] == "900" and len(ids) == 3
    assert [index for index, _ in log.parts] == [1, 2]


def test_chat_ids_keep_their_kind() -> None:
    assert chat_id("-1001234567890") == -1001234567890
    assert chat_id("123") == 123
    assert chat_id("@press_channel") == "@press_channel"


def test_a_channel_username_receives_the_message(peer: FakeBotAPI) -> None:
    deliver(peer, texts("To the channel"), address="@press_channel")
    assert [m["text"] for m in peer.sent_to("@press_channel")] == ["To the channel"]


def test_a_local_photo_is_uploaded_once_then_reused_by_file_id(
    peer: FakeBotAPI, tmp_path: Path
) -> None:
    image = tmp_path / "rubble.png"
    image.write_bytes(PNG)
    payload = {
        "messages": [
            {"text": "<b>Title</b>", "parse_mode": "HTML"},
            {"photo": str(image), "caption": "Rubble in <i>Idlib</i>", "parse_mode": "HTML"},
        ]
    }
    media = DictMedia()

    async def go() -> None:
        first, second = TelegramSender(settings_for(peer)), TelegramSender(settings_for(peer))
        await first.start()
        await second.start()
        try:
            # Several recipients at once through one process, then another process.
            await asyncio.gather(
                *(
                    first.deliver(payload, Recipient(str(chat)), SendContext("rel-1", media=media))
                    for chat in (101, 102, 103)
                )
            )
            await second.deliver(payload, Recipient("104"), SendContext("rel-1", media=media))
        finally:
            await first.close()
            await second.close()

    asyncio.run(go())
    uploads = peer.uploads()
    assert len(uploads) == 1
    assert uploads[0].data == PNG and uploads[0].filename == "rubble.png"
    file_ids = {peer.sent_to(chat)[1]["photo"][-1]["file_id"] for chat in (101, 102, 103, 104)}
    assert file_ids == {media.values[str(image)]}
    assert peer.sent_to(104)[1]["caption"] == "Rubble in Idlib"


def test_a_photo_url_is_passed_to_telegram(peer: FakeBotAPI) -> None:
    url = "https://press.example.org/releases/r/photo.jpg"
    deliver(peer, {"messages": [{"photo": url, "caption": "A photo", "parse_mode": "HTML"}]})
    assert peer.calls("sendPhoto")[0].params["photo"] == url
    assert peer.uploads() == []


def test_a_missing_photo_file_pauses_the_channel(peer: FakeBotAPI, tmp_path: Path) -> None:
    payload = {"messages": [{"photo": str(tmp_path / "gone.png"), "caption": ""}]}
    with pytest.raises(ChannelFault, match="gone.png cannot be read"):
        deliver(peer, payload)


def test_the_throttle_is_asked_before_every_request(peer: FakeBotAPI) -> None:
    throttle = ThrottleLog()

    async def go() -> None:
        sender = TelegramSender(settings_for(peer), throttle)
        await sender.start()
        try:
            await sender.deliver(texts("a", "b", "c"), Recipient("-1001234567890"),
                                 SendContext("rel-1"))  # fmt: skip
        finally:
            await sender.close()

    asyncio.run(go())
    assert throttle.chats == ["-1001234567890"] * 3
    assert throttle.consecutive == [False, True, True]  # the per-chat limit binds parts 2 and 3
    assert len(peer.requests) == 3


def test_flood_control_is_transient_with_telegrams_delay(peer: FakeBotAPI) -> None:
    peer.fail_next(1, 429, retry_after=7)
    with pytest.raises(TransientDeliveryError) as caught:
        deliver(peer, texts("Hello"))
    assert caught.value.retry_after_s == 7
    assert isinstance(caught.value.__cause__, RetryAfter)


def test_a_user_who_blocked_the_bot_is_gone(peer: FakeBotAPI) -> None:
    peer.blocked.add(42)
    with pytest.raises(PermanentDeliveryError, match="blocked by the user") as caught:
        deliver(peer, texts("Hello"))
    assert caught.value.gone


def test_a_deactivated_user_is_gone(peer: FakeBotAPI) -> None:
    peer.deactivated.add(42)
    with pytest.raises(PermanentDeliveryError, match="deactivated") as caught:
        deliver(peer, texts("Hello"))
    assert caught.value.gone


def test_a_chat_that_does_not_exist_is_gone(peer: FakeBotAPI) -> None:
    peer.missing.add(77)
    with pytest.raises(PermanentDeliveryError, match="Chat not found") as caught:
        deliver(peer, texts("Hello"), address="77")
    assert caught.value.gone


def test_html_telegram_cannot_parse_fails_the_send_but_keeps_the_recipient(
    peer: FakeBotAPI,
) -> None:
    with pytest.raises(PermanentDeliveryError, match="parse entities") as caught:
        deliver(peer, texts("<b>unclosed"))
    assert not caught.value.gone
    assert "\n" not in str(caught.value)


def test_a_refused_token_pauses_the_channel(peer: FakeBotAPI) -> None:
    with pytest.raises(ChannelFault) as caught:
        deliver(peer, texts("Hello"), token="123456789:wrong-token")
    assert str(caught.value) == (
        "Telegram refused the bot token (401 Unauthorized); fix TELEGRAM_BOT_TOKEN, "
        "then run publisher resume rel-1"
    )
    assert "wrong-token" not in str(caught.value)


@pytest.mark.parametrize(
    ("status", "shown"),
    [
        (502, "Bad Gateway (502)"),
        (503, "Service Unavailable (503)"),
        (500, "Internal Server Error"),
    ],
)
def test_a_server_error_is_transient_and_one_line(
    peer: FakeBotAPI, status: int, shown: str
) -> None:
    peer.fail_next(1, status)
    with pytest.raises(TransientDeliveryError) as caught:
        deliver(peer, texts("Hello"))
    assert str(caught.value) == f"Telegram unreachable: {shown}"
    assert "\n" not in str(caught.value) and "<html>" not in str(caught.value)


def test_a_slow_answer_times_out_as_transient(peer: FakeBotAPI) -> None:
    peer.latency_s = 0.5

    async def go() -> None:
        request = AiohttpRequest(read_timeout=0.1)
        bot = telegram.Bot(peer.token, base_url=f"{peer.base_url}/bot", request=request,
                           get_updates_request=request)  # fmt: skip
        await request.initialize()
        try:
            await bot.send_message(42, "Hello")
        finally:
            await request.shutdown()

    with pytest.raises(TimedOut) as caught:
        asyncio.run(go())
    assert isinstance(translate(caught.value), TransientDeliveryError)


def test_an_unreachable_server_is_transient() -> None:
    class Closed:
        token = "1:x"
        base_url = "http://127.0.0.1:9"  # discard port: nothing listens

    with pytest.raises(TransientDeliveryError, match="unreachable"):
        deliver(Closed(), texts("Hello"))  # type: ignore[arg-type]


# Every exception python-telegram-bot can raise, and what it must mean for one send.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", PTBDeprecationWarning)
    FLOOD = [RetryAfter(3), RetryAfter(timedelta(seconds=3))]

CASES: list[tuple[TelegramError, type[DeliveryError], bool | None]] = [
    (FLOOD[0], TransientDeliveryError, None),
    (FLOOD[1], TransientDeliveryError, None),
    (TimedOut(), TransientDeliveryError, None),
    (NetworkError("Bad Gateway (502)"), TransientDeliveryError, None),
    (Forbidden("Forbidden: bot was blocked by the user"), PermanentDeliveryError, True),
    (Forbidden("Forbidden: bot was kicked from the group chat"), PermanentDeliveryError, True),
    (BadRequest("Bad Request: chat not found"), PermanentDeliveryError, True),
    (BadRequest("Bad Request: user not found"), PermanentDeliveryError, True),
    (BadRequest("Bad Request: chat_id is empty"), PermanentDeliveryError, True),
    (BadRequest("Bad Request: message is too long"), PermanentDeliveryError, False),
    (BadRequest("Bad Request: can't parse entities: x"), PermanentDeliveryError, False),
    (ChatMigrated(-1009876543210), RecipientMoved, None),
    (InvalidToken("Unauthorized"), ChannelFault, None),
    (InvalidToken("Not Found"), ChannelFault, None),
    (EndPointNotFound("Endpoint 'sendFoo' not found"), ChannelFault, None),
    (Conflict("Conflict: terminated by other getUpdates request"), TransientDeliveryError, None),
    (PassportDecryptionError("bad key"), PermanentDeliveryError, False),
    (TelegramError("Invalid server response"), TransientDeliveryError, None),
]


def test_every_telegram_exception_has_a_translation() -> None:
    classes = {getattr(telegram.error, name) for name in telegram.error.__all__}
    assert classes <= set(TRANSLATIONS)
    assert classes <= {type(exc) for exc, _, _ in CASES}


@pytest.mark.parametrize(("exc", "expected", "gone"), CASES, ids=lambda v: repr(v)[:40])
def test_translation(exc: TelegramError, expected: type[DeliveryError], gone: bool | None) -> None:
    ours = translate(exc, "rel-9")
    assert type(ours) is expected
    if gone is not None:
        assert isinstance(ours, PermanentDeliveryError) and ours.gone is gone
    assert str(ours) and "\n" not in str(ours)
    assert pickle.loads(pickle.dumps(ours)).args == ours.args


def test_a_migrated_group_names_its_new_id() -> None:
    moved = translate(ChatMigrated(-1009876543210))
    assert isinstance(moved, RecipientMoved) and moved.new_address == "-1009876543210"
    assert "-1009876543210" in str(moved)


def test_retry_after_as_timedelta_gives_seconds() -> None:
    ours = translate(RetryAfter(timedelta(seconds=12)))
    assert isinstance(ours, TransientDeliveryError) and ours.retry_after_s == 12
