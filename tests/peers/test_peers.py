"""The loopback peers, driven by the real clients: python-telegram-bot, tweepy and smtplib."""

from __future__ import annotations

import asyncio
import datetime as dtm
import smtplib
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any, TypeVar

import pytest
import requests
import telegram
import tweepy
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter

from . import telegram_html
from .smtp import SMTPPeer
from .telegram_api import FakeBotAPI
from .telegram_html import Entity, TelegramHTMLError, parse, utf16_len
from .x_api import FakeXAPI, rebased_session

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run one coroutine on a fresh event loop (no pytest-asyncio here)."""
    return asyncio.run(coro)


ignore_ptb_deprecations = pytest.mark.filterwarnings(
    "ignore::telegram.warnings.PTBDeprecationWarning"
)


def seconds(value: int | dtm.timedelta) -> float:
    """PTB's RetryAfter.retry_after is an int or a timedelta depending on its settings."""
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


@pytest.fixture
def no_leaked_threads() -> Iterator[None]:
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        extra = [t for t in set(threading.enumerate()) - before if t.is_alive()]
        if not extra:
            return
        time.sleep(0.01)
    raise AssertionError(f"threads left running: {extra}")


# -- telegram_html ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("html", "text", "entities"),
    [
        ("plain", "plain", []),
        ("<b>bold</b> <strong>s</strong>", "bold s", [("bold", 0, 4), ("bold", 5, 1)]),
        (
            "<i>a</i><em>b</em><u>c</u><ins>d</ins>",
            "abcd",
            [("italic", 0, 1), ("italic", 1, 1), ("underline", 2, 1), ("underline", 3, 1)],
        ),
        (
            "<s>a</s><strike>b</strike><del>c</del>",
            "abc",
            [("strikethrough", 0, 1), ("strikethrough", 1, 1), ("strikethrough", 2, 1)],
        ),
        (
            '<span class="tg-spoiler">x</span><tg-spoiler>y</tg-spoiler>',
            "xy",
            [("spoiler", 0, 1), ("spoiler", 1, 1)],
        ),
        ("<b>a <i>b</i></b>", "a b", [("bold", 0, 3), ("italic", 2, 1)]),
        ("1 &lt; 2 &gt; 0 &amp; &quot;q&quot;", '1 < 2 > 0 & "q"', []),
        ("&#65;&#x1F600;&#X41;", "A😀A", []),
        ("<code>x = 1</code>", "x = 1", [("code", 0, 5)]),
        ("<pre>block</pre>", "block", [("pre", 0, 5)]),
        ("<blockquote>q</blockquote>", "q", [("blockquote", 0, 1)]),
        ("<blockquote expandable>q</blockquote>", "q", [("expandable_blockquote", 0, 1)]),
        ("  \n<b>trimmed</b>\n\n", "trimmed", [("bold", 0, 7)]),
        ("<b>  both  </b>", "both", [("bold", 0, 4)]),
        ("<b></b>empty", "empty", []),
        ("<B>upper</b>", "upper", [("bold", 0, 5)]),
        ("<b>x</>", "x", [("bold", 0, 1)]),
        ("a > b", "a > b", []),
    ],
)
def test_html_valid(html: str, text: str, entities: list[tuple[str, int, int]]) -> None:
    visible, found = parse(html)
    assert visible == text
    assert [(e.type, e.offset, e.length) for e in found] == entities


def test_html_offsets_are_utf16_code_units() -> None:
    visible, ents = parse("😀 <b>é日本</b> 👍🏽<i>x</i>")
    assert visible == "😀 é日本 👍🏽x"
    assert [(e.type, e.offset, e.length) for e in ents] == [("bold", 3, 3), ("italic", 11, 1)]
    assert utf16_len("😀") == 2 and utf16_len("é") == 1 and utf16_len("👍🏽") == 4
    assert utf16_len(visible) == 12


def test_html_links_pre_code_and_emoji() -> None:
    visible, ents = parse(
        "<a href=\"https://example.org/?a=1&amp;b=2\">site</a> <a href='tg://user?id=42'>me</a> "
        '<pre><code class="language-python">print(1)</code></pre> '
        '<code class="language-x">inline</code> '
        '<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji> <a>https://bare.org</a>'
    )
    assert visible == "site me print(1) inline 👍 https://bare.org"
    assert ents == [
        Entity("text_link", 0, 4, url="https://example.org/?a=1&b=2"),
        Entity("text_mention", 5, 2, user_id=42),
        Entity("pre", 8, 8, language="python"),
        Entity("code", 17, 6),
        Entity("custom_emoji", 24, 2, custom_emoji_id="5368324170671202286"),
        Entity("text_link", 27, 16, url="https://bare.org"),
    ]
    assert ents[0].to_dict() == {
        "offset": 0,
        "length": 4,
        "type": "text_link",
        "url": "https://example.org/?a=1&b=2",
    }


@pytest.mark.parametrize(
    ("html", "detail"),
    [
        ("ab<div>x</div>", 'Unsupported start tag "div" at byte offset 2'),
        ("é<br/>", 'Unsupported start tag "br/" at byte offset 2'),
        ("a < b", 'Unsupported start tag "" at byte offset 2'),
        ("a <b", "Unclosed start tag at byte offset 2"),
        ("<b>x", 'Can\'t find end tag corresponding to start tag "b"'),
        (
            "<b><i>x</b></i>",
            'Unmatched end tag at byte offset 7, expected "</i>", found "</b>"',
        ),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("<b>x</b", "Unclosed end tag at byte offset 4"),
        ("<span>x</span>", 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
        ('<span class="x">x</span>', 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
        ("<tg-emoji>x</tg-emoji>", "Invalid custom emoji identifier specified"),
        ("<a href=x!>y</a>", "Unexpected end of name token at byte offset 8"),
        ('<a href="x', "Unclosed start tag at byte offset 0"),
        ("<a =x>y</a>", 'Empty attribute name in the tag "a" at byte offset 0'),
    ],
)
def test_html_refused_like_telegram(html: str, detail: str) -> None:
    with pytest.raises(TelegramHTMLError) as info:
        parse(html)
    assert info.value.detail == detail
    assert str(info.value) == f"Can't parse entities: {detail}"
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("html", "lenient"),
    [
        ("a&nbsp;b", "a&nbsp;b"),
        ("AT&T", "AT&T"),
        ("fish & chips", "fish & chips"),
        ("&amp no semicolon", "& no semicolon"),
        ("&#0;", "&#0;"),
        ("&#xD800;", "&#xD800;"),
        ("&copy;", "&copy;"),
    ],
)
def test_html_strict_entities(html: str, lenient: str) -> None:
    with pytest.raises(TelegramHTMLError):
        parse(html)
    assert parse(html, strict=False)[0] == lenient  # what Telegram itself would show


def test_html_module_has_no_third_party_imports() -> None:
    source = Path(telegram_html.__file__).read_text(encoding="utf-8")
    imports = {
        line.split()[1].split(".")[0]
        for line in source.splitlines()
        if line.startswith(("import ", "from "))
    }
    assert imports <= {"__future__", "re", "dataclasses", "typing"}


# -- Telegram Bot API ---------------------------------------------------------------------------


@pytest.fixture
def tg(no_leaked_threads: None) -> Iterator[FakeBotAPI]:
    with FakeBotAPI() as peer:
        yield peer


def make_bot(peer: FakeBotAPI, token: str | None = None) -> telegram.Bot:
    return telegram.Bot(
        token or peer.token, base_url=f"{peer.base_url}/bot", base_file_url=peer.file_url
    )


def with_bot(peer: FakeBotAPI, body: Callable[[telegram.Bot], Coroutine[Any, Any, T]]) -> T:
    async def go() -> T:
        async with make_bot(peer) as bot:
            return await body(bot)

    return run(go())


def test_send_message_html(tg: FakeBotAPI) -> None:
    async def body(bot: telegram.Bot) -> list[telegram.Message]:
        assert (await bot.get_me()).username == "publisher_test_bot"
        return [
            await bot.send_message(42, "<b>Hi</b> &amp; welcome 😀 <i>x</i>", parse_mode="HTML"),
            await bot.send_message(42, "second"),
            await bot.send_message("-1001234567890", "to a channel"),
            await bot.send_message("@press_channel", "by name"),
        ]

    first, second, channel, named = with_bot(tg, body)
    assert first.message_id == 1 and second.message_id == 2 and channel.message_id == 1
    assert first.text == "Hi & welcome 😀 x"
    assert [(e.type, e.offset, e.length) for e in first.entities] == [
        ("bold", 0, 2),
        ("italic", 16, 1),
    ]
    assert first.chat.id == 42 and first.chat.type == "private"
    assert first.from_user is not None and first.from_user.is_bot
    assert abs(first.date.timestamp() - time.time()) < 5
    assert channel.chat.type == "channel" and channel.sender_chat is not None
    assert named.chat.username == "press_channel"
    assert [m["text"] for m in tg.sent_to(42)] == ["Hi & welcome 😀 x", "second"]
    assert set(tg.messages_by_chat()) == {42, -1001234567890, "@press_channel"}
    sends = tg.calls("sendMessage")
    assert [(r.chat_id, r.status) for r in sends] == [
        (42, 200),
        (42, 200),
        (-1001234567890, 200),
        ("@press_channel", 200),
    ]
    assert sends[0].params["parse_mode"] == "HTML"
    assert sends[0].params["text"].startswith("<b>Hi</b>")
    assert tg.requests[0].method == "getMe"
    assert all(
        r.t_monotonic <= s.t_monotonic for r, s in zip(tg.requests, tg.requests[1:], strict=False)
    )


def test_bad_token_is_invalid_token(tg: FakeBotAPI) -> None:
    async def go() -> None:
        async with make_bot(tg, "999:wrong"):
            pass

    with pytest.raises(InvalidToken):
        run(go())
    assert tg.requests[-1].status == 401
    answer = requests.post(f"{tg.base_url}/bot999:wrong/getMe", timeout=5)
    assert answer.status_code == 401
    assert answer.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}


def test_refusals_map_to_ptb_errors(tg: FakeBotAPI) -> None:
    tg.blocked.add(7)
    tg.missing.add(8)
    tg.blocked.add(-1009999999999)

    async def body(bot: telegram.Bot) -> dict[str, Exception]:
        errors: dict[str, Exception] = {}
        cases: dict[str, Coroutine[Any, Any, Any]] = {
            "blocked": bot.send_message(7, "x"),
            "channel": bot.send_message(-1009999999999, "x"),
            "missing": bot.send_message(8, "x"),
            "tag": bot.send_message(9, "a <div>b</div>", parse_mode="HTML"),
            "entity": bot.send_message(9, "a&nbsp;b", parse_mode="HTML"),
            "long": bot.send_message(9, "<b>" + "x" * 4097 + "</b>", parse_mode="HTML"),
            "empty": bot.send_message(9, "<b> </b>", parse_mode="HTML"),
            "caption": bot.send_photo(9, "https://e.org/p.jpg", caption="c" * 1025),
            "file_id": bot.send_photo(9, "no-such-file-id"),
        }
        for name, call in cases.items():
            try:
                await call
            except Exception as exc:  # noqa: BLE001 - collected for the asserts
                errors[name] = exc
        return errors

    errors = with_bot(tg, body)
    assert isinstance(errors["blocked"], Forbidden)
    assert errors["blocked"].message == "Forbidden: bot was blocked by the user"
    assert isinstance(errors["channel"], Forbidden)
    assert "not a member of the channel" in errors["channel"].message
    assert isinstance(errors["missing"], BadRequest)
    assert errors["missing"].message == "Chat not found"
    assert isinstance(errors["tag"], BadRequest)
    assert errors["tag"].message == (
        'Can\'t parse entities: unsupported start tag "div" at byte offset 2'
    )
    assert isinstance(errors["entity"], BadRequest)
    assert "&nbsp;" in errors["entity"].message
    assert isinstance(errors["long"], BadRequest)
    assert errors["long"].message == "Message is too long"
    assert isinstance(errors["empty"], BadRequest)
    assert errors["empty"].message == "Message text is empty"
    assert isinstance(errors["caption"], BadRequest)
    assert errors["caption"].message == "Message caption is too long"
    assert isinstance(errors["file_id"], BadRequest)
    assert "wrong file identifier" in errors["file_id"].message.lower()
    assert tg.sent_to(9) == []


def test_length_is_counted_after_parsing_in_utf16(tg: FakeBotAPI) -> None:
    async def body(bot: telegram.Bot) -> None:
        await bot.send_message(1, "<b>" + "x" * 4096 + "</b>", parse_mode="HTML")
        await bot.send_message(1, "😀" * 2048)
        with pytest.raises(BadRequest, match="too long"):
            await bot.send_message(1, "😀" * 2048 + "x")
        await bot.send_photo(1, "https://e.org/p.jpg", caption="é" * 1024)

    with_bot(tg, body)
    assert len(tg.sent_to(1)) == 3


@ignore_ptb_deprecations
def test_retry_after_and_server_errors(tg: FakeBotAPI) -> None:
    async def body(bot: telegram.Bot) -> None:
        tg.fail_next(1, 429, retry_after=3)
        with pytest.raises(RetryAfter) as info:
            await bot.send_message(5, "x")
        assert seconds(info.value.retry_after) == 3
        tg.fail_next(1, 502)
        with pytest.raises(NetworkError) as bad_gateway:
            await bot.send_message(5, "x")
        assert "Bad Gateway" in str(bad_gateway.value)
        tg.fail_next(1, 500)
        with pytest.raises(NetworkError):
            await bot.send_message(5, "x")
        tg.fail_next(1, 429, methods=["sendPhoto"])
        await bot.send_message(5, "not a photo, not failed")
        with pytest.raises(RetryAfter):
            await bot.send_photo(5, "https://e.org/p.jpg")
        assert (await bot.send_message(5, "recovered")).message_id == 2

    with_bot(tg, body)
    statuses = [r.status for r in tg.requests[1:]]
    assert statuses == [429, 502, 500, 200, 429, 200]
    raw = requests.post(f"{tg.base_url}/bot{tg.token}/sendMessage", timeout=5)
    assert raw.status_code == 400  # no chat_id
    tg.fail_next(1, 429, retry_after=7)
    raw = requests.post(f"{tg.base_url}/bot{tg.token}/sendMessage", timeout=5)
    assert raw.json() == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 7",
        "parameters": {"retry_after": 7},
    }


@ignore_ptb_deprecations
def test_sliding_window_rate_limit(tg: FakeBotAPI) -> None:
    tg.rate_limit_per_s = 5

    async def body(bot: telegram.Bot) -> list[Any]:
        tg.reset()
        return await asyncio.gather(
            *(bot.send_message(100 + i, f"m{i}") for i in range(8)), return_exceptions=True
        )

    results = with_bot(tg, body)
    limited = [r for r in results if isinstance(r, RetryAfter)]
    assert len(limited) == 3 and tg.rate_limited == 3
    assert sum(isinstance(r, telegram.Message) for r in results) == 5
    assert tg.max_in_window(1.0) == 8  # every request counts, answered or not
    assert seconds(limited[0].retry_after) == 1


def test_latency(tg: FakeBotAPI) -> None:
    tg.latency_s = 0.15
    started = time.monotonic()
    assert requests.get(f"{tg.base_url}/bot{tg.token}/getMe", timeout=5).json()["ok"]
    assert time.monotonic() - started >= 0.15


def test_photo_upload_once_then_file_id(tg: FakeBotAPI) -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 2000

    async def body(bot: telegram.Bot) -> tuple[telegram.Message, ...]:
        first = await bot.send_photo(
            10, png, caption="<b>Caption</b> 1", parse_mode="HTML", filename="p.png"
        )
        again = await bot.send_photo(11, first.photo[-1].file_id, caption="2")
        by_url = await bot.send_photo(12, "https://example.org/a.jpg")
        return first, again, by_url

    first, again, by_url = with_bot(tg, body)
    assert first.caption == "Caption 1"
    assert first.caption_entities[0].type == "bold"
    assert len(first.photo) == 2 and first.photo[-1].width == 1280
    assert again.photo[-1].file_unique_id == first.photo[-1].file_unique_id
    assert by_url.photo[-1].file_id != first.photo[-1].file_id
    uploads = tg.uploads()
    assert len(uploads) == 1 and uploads[0].size == len(png) and uploads[0].data == png
    assert uploads[0].filename == "p.png"
    assert tg.calls("sendPhoto")[1].params["photo"] == first.photo[-1].file_id


def test_media_group(tg: FakeBotAPI) -> None:
    async def body(bot: telegram.Bot) -> tuple[telegram.Message, ...]:
        return await bot.send_media_group(
            20,
            [
                telegram.InputMediaPhoto(
                    "https://example.org/1.jpg", caption="<i>one</i>", parse_mode="HTML"
                ),
                telegram.InputMediaPhoto(b"\xff\xd8\xff" + b"\0" * 100, caption="two"),
            ],
        )

    one, two = with_bot(tg, body)
    assert one.media_group_id and one.media_group_id == two.media_group_id
    assert (one.caption, two.caption) == ("one", "two")
    assert (one.message_id, two.message_id) == (1, 2)
    assert len(tg.uploads()) == 1


def test_edit_and_delete(tg: FakeBotAPI) -> None:
    async def body(bot: telegram.Bot) -> None:
        text = await bot.send_message(30, "<b>v1</b>", parse_mode="HTML")
        photo = await bot.send_photo(30, "https://example.org/p.jpg", caption="c1")
        edited = await bot.edit_message_text("<b>v2</b>", 30, text.message_id, parse_mode="HTML")
        assert isinstance(edited, telegram.Message)
        assert edited.text == "v2" and edited.edit_date is not None
        with pytest.raises(BadRequest, match="not modified"):
            await bot.edit_message_text("<b>v2</b>", 30, text.message_id, parse_mode="HTML")
        with pytest.raises(BadRequest, match="no text in the message"):
            await bot.edit_message_text("x", 30, photo.message_id)
        recaptioned = await bot.edit_message_caption(30, photo.message_id, caption="c2")
        assert isinstance(recaptioned, telegram.Message) and recaptioned.caption == "c2"
        with pytest.raises(BadRequest, match="Message to edit not found"):
            await bot.edit_message_text("x", 30, 999)
        assert await bot.delete_message(30, text.message_id) is True
        with pytest.raises(BadRequest, match="Message to delete not found"):
            await bot.delete_message(30, text.message_id)

    with_bot(tg, body)
    (left,) = tg.sent_to(30)
    assert left["caption"] == "c2" and "photo" in left


def test_updates_commands_and_long_poll(tg: FakeBotAPI) -> None:
    start = tg.user_message(77, "/start", first_name="Ann", language_code="ar")

    async def body(bot: telegram.Bot) -> None:
        updates = await bot.get_updates()
        assert len(updates) == 1 and updates[0].message is not None
        assert updates[0].message.text == "/start"
        assert updates[0].message.from_user is not None
        assert updates[0].message.from_user.language_code == "ar"
        assert updates[0].message.entities[0].type == "bot_command"
        assert updates[0].message.message_id == start["message_id"]
        assert await bot.get_updates(offset=updates[0].update_id + 1) == ()

        threading.Timer(0.2, tg.block, args=(77,)).start()
        began = time.monotonic()
        polled = await bot.get_updates(offset=updates[0].update_id + 1, timeout=5)
        assert time.monotonic() - began < 3
        assert polled[0].my_chat_member is not None
        assert polled[0].my_chat_member.new_chat_member.status == "kicked"
        with pytest.raises(Forbidden):
            await bot.send_message(77, "after block")
        assert await bot.set_my_commands([("start", "Subscribe"), ("stop", "Unsubscribe")])
        assert [c.command for c in await bot.get_my_commands()] == ["start", "stop"]

    with_bot(tg, body)
    assert tg.calls("setMyCommands")[0].params["commands"][0] == {
        "command": "start",
        "description": "Subscribe",
    }


def test_json_and_query_bodies(tg: FakeBotAPI) -> None:
    url = f"{tg.base_url}/bot{tg.token}"
    by_json = requests.post(f"{url}/sendMessage", json={"chat_id": 5, "text": "j"}, timeout=5)
    by_query = requests.get(f"{url}/sendMessage", params={"chat_id": "5", "text": "q"}, timeout=5)
    assert by_json.json()["result"]["message_id"] == 1
    assert by_query.json()["result"]["message_id"] == 2
    assert requests.post(f"{url}/noSuchMethod", timeout=5).status_code == 404
    assert requests.post(f"{url}/SENDMESSAGE", data={"chat_id": 5, "text": "c"}, timeout=5).ok


def test_long_poll_does_not_block_stop(no_leaked_threads: None) -> None:
    peer = FakeBotAPI().start()
    url = f"{peer.base_url}/bot{peer.token}/getUpdates"
    poller = threading.Thread(
        target=lambda: requests.post(url, data={"timeout": 30}, timeout=10), daemon=True
    )
    poller.start()
    time.sleep(0.1)
    began = time.monotonic()
    peer.stop()
    poller.join(5)
    assert time.monotonic() - began < 3 and not poller.is_alive()
    peer.stop()  # idempotent


# -- X API v2 -----------------------------------------------------------------------------------


@pytest.fixture
def x(no_leaked_threads: None) -> Iterator[FakeXAPI]:
    with FakeXAPI() as peer:
        yield peer


def x_client(peer: FakeXAPI, **overrides: str) -> tweepy.Client:
    client = tweepy.Client(**{**peer.credentials, **overrides})
    client.session = rebased_session(peer.base_url)
    return client


def test_post_thread_and_delete(x: FakeXAPI) -> None:
    client = x_client(x)
    first = client.create_tweet(text="Release: 1/2")
    second = client.create_tweet(
        text="2/2 https://example.org", in_reply_to_tweet_id=first.data["id"]
    )
    assert first.data["text"] == "Release: 1/2"
    assert first.data["edit_history_tweet_ids"] == [first.data["id"]]
    assert int(second.data["id"]) > int(first.data["id"]) > 10**18
    assert [(p.text, p.in_reply_to) for p in x.posts] == [
        ("Release: 1/2", None),
        ("2/2 https://example.org", first.data["id"]),
    ]
    assert client.delete_tweet(second.data["id"]).data == {"deleted": True}
    assert [p.id for p in x.live_posts()] == [first.data["id"]]
    assert client.get_me(user_auth=True).data.username == "press_office"
    assert [(r.method, r.status) for r in x.requests] == [
        ("POST", 201),
        ("POST", 201),
        ("DELETE", 200),
        ("GET", 200),
    ]
    assert x.requests[1].body == {
        "text": "2/2 https://example.org",
        "reply": {"in_reply_to_tweet_id": first.data["id"]},
    }


def test_me_and_the_accounts_posts_newest_first(x: FakeXAPI) -> None:
    client = x_client(x)
    client.return_type = dict  # X's JSON as it comes, as the sender reads it
    me = client.get_me(user_auth=True)
    assert me == {"data": {"id": x.user_id, "name": "Press Office", "username": "press_office"}}
    ids = [client.create_tweet(text="1/3 thread")["data"]["id"]]
    for text in ("2/3 thread", "3/3 thread"):
        ids.append(client.create_tweet(text=text, in_reply_to_tweet_id=ids[-1])["data"]["id"])
    extra = client.create_tweet(text="another release")["data"]["id"]
    client.delete_tweet(extra)
    for n in range(6):
        client.create_tweet(text=f"filler {n}")
    fields = ["referenced_tweets"]
    page = client.get_users_tweets(x.user_id, max_results=5, tweet_fields=fields, user_auth=True)
    assert [t["text"] for t in page["data"]] == [f"filler {n}" for n in (5, 4, 3, 2, 1)]
    assert "referenced_tweets" not in page["data"][0]
    assert page["meta"]["result_count"] == 5
    assert page["meta"]["newest_id"] == page["data"][0]["id"]
    assert page["meta"]["oldest_id"] == page["data"][-1]["id"]
    rest = client.get_users_tweets(
        x.user_id,
        max_results=100,
        tweet_fields=fields,
        pagination_token=page["meta"]["next_token"],
        user_auth=True,
    )
    assert "next_token" not in rest["meta"] and rest["meta"]["result_count"] == 4
    assert rest["data"][0]["text"] == "filler 0"
    assert rest["data"][1:] == [  # the deleted post is not listed
        {"id": ids[0], "text": "1/3 thread", "edit_history_tweet_ids": [ids[0]]},
        {"id": ids[1], "text": "2/3 thread", "edit_history_tweet_ids": [ids[1]],
         "referenced_tweets": [{"type": "replied_to", "id": ids[0]}]},
        {"id": ids[2], "text": "3/3 thread", "edit_history_tweet_ids": [ids[2]],
         "referenced_tweets": [{"type": "replied_to", "id": ids[1]}]},
    ][::-1]  # fmt: skip
    since = client.get_users_tweets(x.user_id, since_id=ids[1], max_results=10, user_auth=True)
    assert since["meta"]["oldest_id"] == ids[2] and since["meta"]["result_count"] == 7
    assert client.get_users_tweets(x.user_id, since_id=page["meta"]["newest_id"],
                                   user_auth=True) == {"meta": {"result_count": 0}}  # fmt: skip
    with pytest.raises(tweepy.BadRequest, match="not between 5 and 100"):
        client.get_users_tweets(x.user_id, max_results=101, user_auth=True)
    other = client.get_users_tweets("42", user_auth=True)
    assert other["errors"][0]["detail"] == "Could not find user with id: [42]."
    with pytest.raises(tweepy.Unauthorized):
        x_client(x, access_token_secret="forged").get_users_tweets(x.user_id, user_auth=True)
    with pytest.raises(tweepy.Unauthorized):
        x_client(x, consumer_secret="forged").get_me(user_auth=True)
    bare = requests.get(f"{x.base_url}/2/users/{x.user_id}/tweets", timeout=5)
    assert bare.status_code == 401


def test_weighted_length(x: FakeXAPI) -> None:
    client = x_client(x)
    client.create_tweet(text="日" * 140)  # CJK weighs 2: exactly 280
    client.create_tweet(text="a" * 256 + " https://example.org/" + "x" * 200)  # URL weighs 23
    with pytest.raises(tweepy.BadRequest, match="Your Tweet text is too long"):
        client.create_tweet(text="本" * 141)
    with pytest.raises(tweepy.BadRequest):
        client.create_tweet(text="b" * 281)
    assert len(x.posts) == 2


def test_duplicates_and_replies(x: FakeXAPI) -> None:
    client = x_client(x)
    first = client.create_tweet(text="same")
    with pytest.raises(tweepy.Forbidden) as dup:
        client.create_tweet(text="same")
    assert dup.value.api_messages == [
        "You are not allowed to create a Tweet with duplicate content."
    ]
    assert dup.value.response.json() == {
        "detail": "You are not allowed to create a Tweet with duplicate content.",
        "type": "about:blank",
        "title": "Forbidden",
        "status": 403,
    }
    with pytest.raises(tweepy.Forbidden, match="deleted or not visible"):
        client.create_tweet(text="reply", in_reply_to_tweet_id="123")
    with pytest.raises(tweepy.BadRequest):
        client.create_tweet(text="reply", in_reply_to_tweet_id="not-a-number")
    client.delete_tweet(first.data["id"])
    client.create_tweet(text="same")  # allowed again once the first is gone
    with pytest.raises(tweepy.Forbidden, match="deleted or not visible"):
        client.create_tweet(text="late reply", in_reply_to_tweet_id=first.data["id"])


def test_oauth_is_checked(x: FakeXAPI) -> None:
    with pytest.raises(tweepy.Unauthorized):
        x_client(x, consumer_key="other").create_tweet(text="a")
    with pytest.raises(tweepy.Unauthorized):
        x_client(x, consumer_secret="forged").create_tweet(text="b")
    with pytest.raises(tweepy.Unauthorized):
        x_client(x, access_token_secret="forged").create_tweet(text="c")
    bare = requests.post(f"{x.base_url}/2/tweets", json={"text": "d"}, timeout=5)
    assert bare.status_code == 401
    assert bare.json() == {
        "title": "Unauthorized",
        "type": "about:blank",
        "status": 401,
        "detail": "Unauthorized",
    }
    assert x.posts == []
    x.verify_signature = False
    x_client(x, consumer_secret="forged").create_tweet(text="e")
    assert len(x.posts) == 1


def test_rate_limit_and_server_errors(x: FakeXAPI) -> None:
    client = x_client(x)
    x.fail_next(1, 429, reset_in_s=5)
    with pytest.raises(tweepy.TooManyRequests) as info:
        client.create_tweet(text="a")
    assert info.value.reset_time is not None
    assert 4 <= info.value.reset_time - time.time() <= 7
    assert info.value.response.headers["x-rate-limit-remaining"] == "0"
    assert info.value.response.json()["title"] == "Too Many Requests"
    x.fail_next(1, 503)
    with pytest.raises(tweepy.TwitterServerError):
        client.create_tweet(text="a")
    x.fail_next(1, 500)
    with pytest.raises(tweepy.TwitterServerError):
        client.create_tweet(text="a")
    client.create_tweet(text="a")
    assert [r.status for r in x.requests] == [429, 503, 500, 201]


def test_x_latency(x: FakeXAPI) -> None:
    x.latency_s = 0.1
    began = time.monotonic()
    x_client(x).create_tweet(text="slow")
    assert time.monotonic() - began >= 0.1


# -- SMTP ---------------------------------------------------------------------------------------


def mail(to: str | list[str], subject: str = "Release") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "press@example.org"
    msg["To"] = to if isinstance(to, str) else ", ".join(to)
    msg["Subject"] = subject
    msg.set_content("بيان صحفي\nPress release body.")
    return msg


@pytest.fixture
def smtp_peer(no_leaked_threads: None) -> Iterator[SMTPPeer]:
    with SMTPPeer() as peer:
        yield peer


def test_smtp_delivery_on_one_connection(smtp_peer: SMTPPeer) -> None:
    with smtplib.SMTP(smtp_peer.host, smtp_peer.port, timeout=5) as client:
        client.send_message(mail("a@example.org", "Första"))
        client.send_message(mail(["b@example.org", "c@example.org"]))
    assert smtp_peer.connections == 1
    first, second = smtp_peer.messages
    assert first.mail_from == "press@example.org" and first.rcpt_tos == ["a@example.org"]
    assert first.message["Subject"] == "Första"
    assert "بيان صحفي" in first.message.get_content()
    assert second.rcpt_tos == ["b@example.org", "c@example.org"]
    with smtplib.SMTP(smtp_peer.host, smtp_peer.port, timeout=5) as client:
        client.noop()
    assert smtp_peer.connections == 2


def test_smtp_rejected_recipients(smtp_peer: SMTPPeer) -> None:
    smtp_peer.reject.add("Gone@Example.org")
    with smtplib.SMTP(smtp_peer.host, smtp_peer.port, timeout=5) as client:
        with pytest.raises(smtplib.SMTPRecipientsRefused) as info:
            client.send_message(mail("gone@example.org"))
        code, text = info.value.recipients["gone@example.org"]
        assert code == 550
        assert text.decode() == (
            "5.1.1 <gone@example.org>: Recipient address rejected: "
            "User unknown in virtual mailbox table"
        )
        refused = client.send_message(mail(["ok@example.org", "gone@example.org"]))
    assert set(refused) == {"gone@example.org"}
    (delivered,) = smtp_peer.messages
    assert delivered.rcpt_tos == ["ok@example.org"]
    assert smtp_peer.rejected == ["gone@example.org", "gone@example.org"]


def test_smtp_temporary_failure_at_data(smtp_peer: SMTPPeer) -> None:
    smtp_peer.fail_next(1)
    with smtplib.SMTP(smtp_peer.host, smtp_peer.port, timeout=5) as client:
        with pytest.raises(smtplib.SMTPDataError) as info:
            client.send_message(mail("a@example.org"))
        assert info.value.smtp_code == 451
        client.send_message(mail("a@example.org"))
    assert len(smtp_peer.messages) == 1


def test_smtp_auth(no_leaked_threads: None) -> None:
    with SMTPPeer(auth=("press", "s3cret")) as peer:
        assert peer.url == f"smtp://press:s3cret@127.0.0.1:{peer.port}"
        with smtplib.SMTP(peer.host, peer.port, timeout=5) as client:
            with pytest.raises(smtplib.SMTPAuthenticationError) as info:
                client.login("press", "wrong")
            assert info.value.smtp_code == 535
            assert b"5.7.8 Authentication credentials invalid" in info.value.smtp_error
        with smtplib.SMTP(peer.host, peer.port, timeout=5) as client:
            with pytest.raises(smtplib.SMTPSenderRefused) as refused:
                client.send_message(mail("a@example.org"))
            assert refused.value.smtp_code == 530
        for mechanism in ("PLAIN", "LOGIN"):
            with smtplib.SMTP(peer.host, peer.port, timeout=5) as client:
                client.ehlo()
                client.user, client.password = "press", "s3cret"
                client.auth(mechanism, getattr(client, f"auth_{mechanism.lower()}"))
                client.send_message(mail("a@example.org", mechanism))
        assert [m.login for m in peer.messages] == ["press", "press"]
        assert peer.auth_failures == 2  # smtplib.login tries PLAIN, then LOGIN
