"""`FakeBotAPI`: a loopback Telegram Bot API server that python-telegram-bot can talk to.

It speaks the Bot API's wire format (JSON, form-urlencoded and multipart requests to
``/bot{token}/{method}``; ``{"ok": true, "result": ...}`` answers; errors with Telegram's status
codes and descriptions), records every request, and has knobs for the faults a sender must
handle: bad token, blocked users, missing chats, 429 flood control with ``retry_after``, 5xx
from the front proxy, latency, and Telegram's HTML and length rules.

    with FakeBotAPI() as peer:
        bot = telegram.Bot(peer.token, base_url=f"{peer.base_url}/bot")
        ...
        assert peer.sent_to(42)[0]["text"] == "hello"

For a bot it also plays the people on the other side: `user_message`, `group_message`,
`press` (a button of an inline keyboard the bot sent), `block`, `remove_from_group` and
`migrate_group` queue the updates Telegram would send; `admins` says who may administer a group
(`getChatMember`); `setWebhook`, `answerCallbackQuery` and `setMyCommands` are recorded.

It stays cheap per request (a benchmark pushes 100,000 messages through it): no access log,
cached HTML parsing, one small lock.
"""

from __future__ import annotations

import asyncio
import bisect
import hashlib
import itertools
import json
import threading
import time
import zlib
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from ._aioserver import ThreadedAioServer
from .telegram_html import TelegramHTMLError, utf16_len
from .telegram_html import parse as parse_html

__all__ = ["ANONYMOUS_ADMIN_ID", "DEFAULT_TOKEN", "FakeBotAPI", "Recorded", "Upload"]

DEFAULT_TOKEN = "123456789:AAF4bX-test-token-for-the-loopback-peer"
TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
_CHANNEL_MIN = 1_000_000_000_000  # -100xxxxxxxxxx ids are channels/supergroups
#: the user id Telegram puts in `from` when an anonymous administrator posts as the group
ANONYMOUS_ADMIN_ID = 1087968824
_ANONYMOUS_ADMIN = {
    "id": ANONYMOUS_ADMIN_ID,
    "is_bot": True,
    "first_name": "Group",
    "username": "GroupAnonymousBot",
}
_ADMIN_RIGHTS = {
    "can_be_edited": False,
    "is_anonymous": False,
    "can_manage_chat": True,
    "can_delete_messages": True,
    "can_manage_video_chats": True,
    "can_restrict_members": True,
    "can_promote_members": False,
    "can_change_info": True,
    "can_invite_users": True,
    "can_post_stories": False,
    "can_edit_stories": False,
    "can_delete_stories": False,
    "can_pin_messages": True,
}
_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
_NGINX_5XX = (
    "<html>\r\n<head><title>{code} {phrase}</title></head>\r\n<body>\r\n"
    "<center><h1>{code} {phrase}</h1></center>\r\n<hr><center>nginx/1.18.0</center>\r\n"
    "</body>\r\n</html>\r\n"
)
_PHRASES = {
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Time-out",
}
_JSON_FIELDS = frozenset(
    {
        "media",
        "reply_markup",
        "entities",
        "caption_entities",
        "link_preview_options",
        "reply_parameters",
        "commands",
        "allowed_updates",
        "scope",
    }
)
_INT_FIELDS = frozenset(
    {
        "message_id",
        "offset",
        "limit",
        "timeout",
        "message_thread_id",
        "reply_to_message_id",
        "user_id",
        "max_connections",
        "cache_time",
    }
)
_BOOL_FIELDS = frozenset(
    {
        "disable_notification",
        "protect_content",
        "disable_web_page_preview",
        "show_caption_above_media",
        "has_spoiler",
        "allow_sending_without_reply",
        "drop_pending_updates",
        "show_alert",
    }
)
_SEND_METHODS = frozenset({"sendmessage", "sendphoto", "sendmediagroup"})


@dataclass(slots=True)
class Recorded:
    """One request as the peer saw it.

    `t_monotonic` is `time.monotonic()` at arrival; `method` is as spelled in the URL;
    `chat_id` is normalised (numeric ids as `int`, ``"@name"`` as `str`, None if absent);
    `params` are the decoded parameters (uploads as `Upload`); `status` is the HTTP status
    answered (0 while the request is still being handled).
    """

    t_monotonic: float
    method: str
    chat_id: int | str | None
    params: dict[str, Any]
    status: int = 0

    @property
    def t(self) -> float:
        """Alias of `t_monotonic`."""
        return self.t_monotonic

    @property
    def ok(self) -> bool:
        """Whether the request was answered with HTTP 200."""
        return self.status == 200


@dataclass(frozen=True, slots=True)
class Upload:
    """A file sent as a multipart part."""

    filename: str | None
    content_type: str
    size: int
    sha256: str
    data: bytes = field(repr=False)


class _ApiError(Exception):
    """An error answer: HTTP status, Bot API description, optional parameters."""

    def __init__(self, status: int, description: str, parameters: dict[str, Any] | None = None):
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters


_Formatted = tuple[str, list[dict[str, Any]]]


def _chat_key(value: Any) -> int | str | None:
    """Normalise a chat_id as the bot sent it: numeric -> int, "@name" -> str."""
    if value is None or isinstance(value, int):
        return value
    s = str(value).strip()
    if s.lstrip("-").isdigit():
        return int(s)
    return s


def _coerce(name: str, value: str) -> Any:
    """Decode one form field the way the Bot API types it."""
    if name in _JSON_FIELDS:
        try:
            return json.loads(value)
        except ValueError:
            return value
    if name in _INT_FIELDS:
        try:
            return int(float(value))
        except ValueError:
            return value
    if name in _BOOL_FIELDS:
        return value.lower() in ("true", "1")
    if name == "chat_id":
        return _chat_key(value)
    return value


def _body(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


class FakeBotAPI(ThreadedAioServer):
    """Loopback Telegram Bot API. Point PTB at it with ``base_url=f"{peer.base_url}/bot"``.

    Knobs (plain attributes, change them any time): `token`, `blocked`, `deactivated`,
    `missing`, `bad_urls`, `rate_limit_per_s`, `latency_s`, `strict_html`, `admins`,
    `creators`; and `fail_next()`.
    Records: `requests`, `sent_to()`, `messages_by_chat()`, `uploads()`, `max_in_window()`,
    `webhook`, `callback_answers`, `commands_for()`, `pushed_at`, `pending()`.
    """

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        rate_limit_per_s: float | None = None,
        latency_s: float = 0.0,
        strict_html: bool = True,
        bot_username: str = "publisher_test_bot",
    ) -> None:
        super().__init__()
        #: the only token accepted; any other gets 401 Unauthorized
        self.token = token
        #: chat ids whose sends get 403 (blocked the bot / kicked it / removed it from channel)
        self.blocked: set[int | str] = set()
        #: chat ids whose sends get 403 "Forbidden: user is deactivated"
        self.deactivated: set[int | str] = set()
        #: chat ids that get 400 "Bad Request: chat not found"
        self.missing: set[int | str] = set()
        #: photo URLs that Telegram "fails to download" (400)
        self.bad_urls: set[str] = set()
        #: answer 429 when more than this many requests started in the last second (sliding)
        self.rate_limit_per_s = rate_limit_per_s
        #: seconds to wait before each answer
        self.latency_s = latency_s
        #: refuse sloppy HTML Telegram would show literally (see telegram_html), not only errors
        self.strict_html = strict_html
        self.bot_username = bot_username
        #: every request, in arrival order
        self.requests: list[Recorded] = []
        #: answers produced by the `rate_limit_per_s` limiter
        self.rate_limited = 0
        #: chat id -> user ids getChatMember calls administrators (everyone else: "member")
        self.admins: dict[int | str, set[int]] = {}
        #: chat id -> the user id getChatMember calls its creator
        self.creators: dict[int | str, int] = {}
        #: the parameters of the last setWebhook ({} before, and after deleteWebhook)
        self.webhook: dict[str, Any] = {}
        #: the parameters of every answerCallbackQuery, in order
        self.callback_answers: list[dict[str, Any]] = []
        #: update_id -> `time.monotonic()` when it was queued for getUpdates
        self.pushed_at: dict[int, float] = {}

        self._lock = threading.Lock()
        self._failures: deque[tuple[int, int, frozenset[str] | None]] = deque()
        self._window: deque[float] = deque()
        self._next_message_id: dict[int | str, int] = {}
        self._chats: dict[int | str, dict[int, dict[str, Any]]] = {}
        self._chat_objects: dict[int | str, dict[str, Any]] = {}
        self._files: dict[str, list[dict[str, Any]]] = {}
        self._file_counter = 0
        self._media_group_counter = 0
        self._updates: list[dict[str, Any]] = []
        self._next_update_id = 100_000_001
        self._update_event: asyncio.Event | None = None
        self._stopping = False
        self._format_cache: dict[tuple[str | None, str], _Formatted | _ApiError] = {}
        self._commands: dict[str, list[dict[str, Any]]] = {}
        self._callback_ids = itertools.count(1)
        self._handlers: dict[str, Callable[[Any, dict[str, Any]], Any]] = {
            "getme": lambda _k, _p: self.bot_user,
            "sendmessage": self._send_message,
            "sendphoto": self._send_photo,
            "sendmediagroup": self._send_media_group,
            "editmessagetext": self._edit_message_text,
            "editmessagecaption": self._edit_message_caption,
            "deletemessage": self._delete_message,
            "setmycommands": self._set_my_commands,
            "getmycommands": lambda _k, p: list(self._commands.get(_commands_key(p), [])),
            "deletemycommands": self._delete_my_commands,
            "getchatmember": self._get_chat_member,
            "setwebhook": self._set_webhook,
            "deletewebhook": self._delete_webhook,
            "answercallbackquery": self._answer_callback_query,
            "getwebhookinfo": lambda _k, _p: {
                "url": self.webhook.get("url", ""),
                "has_custom_certificate": False,
                "pending_update_count": len(self._updates),
                "allowed_updates": self.webhook.get("allowed_updates", []),
            },
        }
        for name in (
            "sendchataction",
            "setmydescription",
            "setmyshortdescription",
            "setchatmenubutton",
            "close",
            "logout",
        ):
            self._handlers[name] = lambda _k, _p: True

    # -- public helpers ------------------------------------------------------------------------
    @property
    def bot_id(self) -> int:
        """The bot's user id (the token's numeric prefix)."""
        head = self.token.split(":", 1)[0]
        return int(head) if head.isdigit() else 1

    @property
    def bot_user(self) -> dict[str, Any]:
        """The bot's User object, as getMe answers it."""
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "Publisher",
            "username": self.bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    @property
    def file_url(self) -> str:
        """Value for PTB's ``base_file_url``."""
        return f"{self.base_url}/file/bot"

    def fail_next(
        self,
        n: int = 1,
        status: int = 429,
        retry_after: int = 1,
        *,
        methods: Iterable[str] | None = None,
    ) -> None:
        """Answer the next `n` requests (of `methods` only, if given) with an error.

        429: ``Too Many Requests: retry after N`` with ``parameters.retry_after``;
        500: the Bot API's JSON Internal Server Error; 502/503/504: nginx's HTML page.
        Other statuses get a JSON error with that code.
        """
        only = frozenset(m.lower() for m in methods) if methods is not None else None
        with self._lock:
            self._failures.extend([(status, retry_after, only)] * n)

    def sent_to(self, chat_id: int | str) -> list[dict[str, Any]]:
        """The messages the bot has in `chat_id` now (edits applied, deleted ones gone)."""
        with self._lock:
            return list(self._chats.get(_chat_key(chat_id), {}).values())  # type: ignore[arg-type]

    def messages_by_chat(self) -> dict[int | str, list[dict[str, Any]]]:
        """Every chat's current messages, keyed by chat id as the bot sent it."""
        with self._lock:
            return {k: list(v.values()) for k, v in self._chats.items() if v}

    def uploads(self) -> list[Upload]:
        """Every file uploaded (multipart), in order."""
        out: list[Upload] = []
        for rec in list(self.requests):
            for value in rec.params.values():
                if isinstance(value, Upload):
                    out.append(value)
        return out

    def calls(self, method: str) -> list[Recorded]:
        """Requests to one method (case-insensitive)."""
        m = method.lower()
        return [r for r in list(self.requests) if r.method.lower() == m]

    def max_in_window(self, window_s: float = 1.0) -> int:
        """Most requests that started within any `window_s`-long sliding window."""
        times = sorted(r.t_monotonic for r in list(self.requests))
        best = lo = 0
        for hi, t in enumerate(times):
            while times[lo] <= t - window_s:
                lo += 1
            best = max(best, hi - lo + 1)
        return best

    def reset(self) -> None:
        """Forget recorded requests, messages, queued updates and pending failures (knobs
        stay)."""
        with self._lock:
            self.requests = []
            self._updates = []
            self.rate_limited = 0
            self._failures.clear()
            self._window.clear()
            self._chats.clear()
            self._next_message_id.clear()
            self.callback_answers = []
            self.pushed_at = {}
            self.webhook = {}

    def push_update(self, update: dict[str, Any]) -> int:
        """Queue an Update for getUpdates (an ``update_id`` is assigned if absent)."""
        return self.push_updates([update])[0]

    def push_updates(self, updates: Iterable[dict[str, Any]]) -> list[int]:
        """Queue several Updates at once (one getUpdates may then return them together: the
        same update twice, say); returns their ids."""
        ids = []
        now = time.monotonic()
        with self._lock:
            for update in updates:
                if "update_id" not in update:
                    update = {"update_id": self._next_update_id, **update}
                update_id = int(update["update_id"])
                self._next_update_id = max(self._next_update_id, update_id) + 1
                if self._updates and self._updates[-1]["update_id"] > update_id:
                    bisect.insort_right(self._updates, update, key=_update_id)
                else:
                    self._updates.append(update)
                self.pushed_at.setdefault(update_id, now)
                ids.append(update_id)
        self._wake_soon()
        return ids

    def pending(self) -> int:
        """How many queued updates the bot has not yet confirmed (getUpdates with an offset
        past them)."""
        with self._lock:
            return len(self._updates)

    def commands_for(self, language_code: str = "") -> list[dict[str, Any]]:
        """The commands setMyCommands gave for a language ("": the default list)."""
        with self._lock:
            return list(self._commands.get(language_code, []))

    def user_message(
        self,
        chat_id: int,
        text: str,
        *,
        first_name: str = "Reader",
        username: str | None = None,
        language_code: str | None = None,
        push: bool = True,
    ) -> dict[str, Any]:
        """Queue a private message from user `chat_id` to the bot (e.g. "/start"); returns it
        (with `push=False`, only returns it, for `push_updates` or a webhook POST)."""
        user = _user(chat_id, first_name, username, language_code)
        chat = {"id": chat_id, "type": "private", "first_name": first_name}
        if username:
            chat["username"] = username
        message = self._incoming(chat, user, text)
        if push:
            self.push_update({"message": message})
        return message

    def group_message(
        self,
        chat_id: int,
        text: str,
        *,
        user_id: int = 0,
        anonymous: bool = False,
        chat_type: str = "group",
        title: str = "Readers' group",
        language_code: str | None = None,
        push: bool = True,
    ) -> dict[str, Any]:
        """Queue a message in group `chat_id` from user `user_id`, or (`anonymous`) from an
        anonymous administrator posting as the group; returns it. The chat's type (group or
        supergroup) is also what the bot's messages to it will carry."""
        chat = {"id": chat_id, "type": chat_type, "title": title}
        with self._lock:
            self._chat_objects[chat_id] = chat
        if anonymous:
            message = self._incoming(chat, dict(_ANONYMOUS_ADMIN), text)
            message["sender_chat"] = chat
        else:
            message = self._incoming(chat, _user(user_id, "Member", None, language_code), text)
        if push:
            self.push_update({"message": message})
        return message

    def press(
        self,
        chat_id: int | str,
        message_id: int,
        button: str,
        *,
        user_id: int | None = None,
        language_code: str | None = None,
        push: bool = True,
    ) -> dict[str, Any]:
        """User `user_id` (default: the private chat's user) presses the inline button whose
        text or callback_data is `button` on a message the bot sent; queues the callback_query
        update and returns it. Raises KeyError for a message or button that is not there."""
        key = _chat_key(chat_id)
        with self._lock:
            message = self._chats.get(key, {}).get(message_id)  # type: ignore[arg-type]
        if message is None:
            raise KeyError(f"no message {message_id} from the bot in chat {chat_id}")
        rows = (message.get("reply_markup") or {}).get("inline_keyboard") or []
        data = next(
            (
                b["callback_data"]
                for row in rows
                for b in row
                if button in (b.get("text"), b.get("callback_data")) and "callback_data" in b
            ),
            None,
        )
        if data is None:
            raise KeyError(f"no button {button!r} on message {message_id} in chat {chat_id}")
        if user_id is None:
            if not isinstance(key, int) or key <= 0:
                raise ValueError("say which user presses a button in a group (user_id)")
            user_id = key
        query = {
            "id": str(next(self._callback_ids)),
            "from": _user(user_id, "Reader", None, language_code),
            "message": message,
            "chat_instance": str(zlib.crc32(str(chat_id).encode())),
            "data": data,
        }
        update = {"callback_query": query}
        if push:
            self.push_update(update)
        return update

    def migrate_group(self, old_chat_id: int, new_chat_id: int, *, user_id: int = 0) -> None:
        """Group `old_chat_id` becomes supergroup `new_chat_id`: queue the service message
        (`migrate_to_chat_id`) Telegram posts in the old group."""
        chat = {"id": old_chat_id, "type": "group", "title": "Readers' group"}
        user = _user(user_id or 1, "Member", None, None)
        with self._lock:
            self._chat_objects[new_chat_id] = {**chat, "id": new_chat_id, "type": "supergroup"}
        message = self._incoming(chat, user, None)
        message["migrate_to_chat_id"] = new_chat_id
        self.push_update({"message": message})

    def remove_from_group(
        self, chat_id: int, *, user_id: int = 1, status: str = "kicked", chat_type: str = "group"
    ) -> None:
        """User `user_id` removes the bot from group `chat_id` (status "kicked", or "left"):
        later sends get 403; queue the my_chat_member update."""
        self.blocked.add(chat_id)
        chat = {"id": chat_id, "type": chat_type, "title": "Readers' group"}
        with self._lock:
            self._chat_objects[chat_id] = chat
        new: dict[str, Any] = {"user": self.bot_user, "status": status}
        if status == "kicked":
            new["until_date"] = 0
        self.push_update(
            {
                "my_chat_member": {
                    "chat": chat,
                    "from": _user(user_id, "Member", None, None),
                    "date": int(time.time()),
                    "old_chat_member": {"user": self.bot_user, "status": "member"},
                    "new_chat_member": new,
                }
            }
        )

    def _incoming(
        self, chat: dict[str, Any], user: dict[str, Any], text: str | None
    ) -> dict[str, Any]:
        """A message from someone to the bot, numbered in its chat."""
        chat_id = chat["id"]
        with self._lock:
            mid = self._next_message_id.get(chat_id, 0) + 1
            self._next_message_id[chat_id] = mid
        message: dict[str, Any] = {
            "message_id": mid,
            "from": user,
            "chat": chat,
            "date": int(time.time()),
        }
        if text is not None:
            message["text"] = text
            if text.startswith("/"):
                command = text.split(maxsplit=1)[0]
                message["entities"] = [
                    {"offset": 0, "length": utf16_len(command), "type": "bot_command"}
                ]
        return message

    def block(self, chat_id: int, *, notify: bool = True) -> None:
        """User `chat_id` blocks the bot: later sends get 403; queue a my_chat_member update."""
        self.blocked.add(chat_id)
        if not notify:
            return
        user = {"id": chat_id, "is_bot": False, "first_name": "Reader"}
        self.push_update(
            {
                "my_chat_member": {
                    "chat": {"id": chat_id, "type": "private", "first_name": "Reader"},
                    "from": user,
                    "date": int(time.time()),
                    "old_chat_member": {"user": self.bot_user, "status": "member"},
                    "new_chat_member": {"user": self.bot_user, "status": "kicked", "until_date": 0},
                }
            }
        )

    # -- server plumbing -----------------------------------------------------------------------
    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        return app

    async def on_loop_started(self) -> None:
        self._stopping = False
        self._update_event = asyncio.Event()

    def on_stopping(self) -> None:
        self._stopping = True
        self._wake()

    def _wake(self) -> None:
        event = self._update_event
        self._update_event = asyncio.Event()
        if event is not None:
            event.set()

    def _wake_soon(self) -> None:
        loop = self._loop
        if loop is not None and loop.is_running():
            loop.call_soon_threadsafe(self._wake)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        t = time.monotonic()
        limit = self.rate_limit_per_s
        over_limit = False
        if limit is not None:
            window = self._window
            window.append(t)
            cutoff = t - 1.0
            while window[0] <= cutoff:
                window.popleft()
            over_limit = len(window) > limit

        path = request.path
        if not path.startswith("/bot"):
            return self._json(404, {"ok": False, "error_code": 404, "description": "Not Found"})
        token, _, method = path[4:].partition("/")
        try:
            params = await self._read_params(request)
        except ValueError:
            params = {}
        rec = Recorded(t, method, _chat_key(params.get("chat_id")), params)
        self.requests.append(rec)
        if self.latency_s > 0:
            await asyncio.sleep(self.latency_s)
        try:
            if token != self.token:
                raise _ApiError(401, "Unauthorized")
            name = method.lower()
            failure = self._take_failure(name)
            if failure is not None:
                response = self._failure_response(*failure)
                rec.status = response.status
                return response
            if over_limit:
                self.rate_limited += 1
                raise _ApiError(429, "Too Many Requests: retry after 1", {"retry_after": 1})
            if name == "getupdates":
                result = await self._get_updates(params)
            else:
                handler = self._handlers.get(name)
                if handler is None:
                    raise _ApiError(404, "Not Found")
                if name in _SEND_METHODS or "chat_id" in params:
                    self._check_chat(rec.chat_id)
                result = handler(rec.chat_id, params)
        except _ApiError as err:
            payload: dict[str, Any] = {
                "ok": False,
                "error_code": err.status,
                "description": err.description,
            }
            if err.parameters:
                payload["parameters"] = err.parameters
            rec.status = err.status
            return self._json(err.status, payload)
        rec.status = 200
        return self._json(200, {"ok": True, "result": result})

    @staticmethod
    def _json(status: int, payload: dict[str, Any]) -> web.Response:
        return web.Response(status=status, body=_body(payload), content_type="application/json")

    async def _read_params(self, request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = {}
        if request.query_string:
            for k, v in request.query.items():
                params[k] = _coerce(k, v)
        if not request.can_read_body:
            return params
        ctype = request.content_type
        if ctype == "application/json":
            data = await request.json()
            if isinstance(data, dict):
                params.update(data)
                if "chat_id" in data:
                    params["chat_id"] = _chat_key(data["chat_id"])
        elif ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            for k, part in form.items():
                if isinstance(part, web.FileField):
                    data_bytes = part.file.read()
                    params[k] = Upload(
                        part.filename,
                        part.content_type,
                        len(data_bytes),
                        hashlib.sha256(data_bytes).hexdigest(),
                        data_bytes,
                    )
                elif isinstance(part, str):
                    params[k] = _coerce(k, part)
        return params

    def _take_failure(self, method: str) -> tuple[int, int] | None:
        if not self._failures:
            return None
        with self._lock:
            if not self._failures:
                return None
            status, retry_after, only = self._failures[0]
            if only is not None and method not in only:
                return None
            self._failures.popleft()
            return status, retry_after

    def _failure_response(self, status: int, retry_after: int) -> web.Response:
        if status == 429:
            return self._json(
                429,
                {
                    "ok": False,
                    "error_code": 429,
                    "description": f"Too Many Requests: retry after {retry_after}",
                    "parameters": {"retry_after": retry_after},
                },
            )
        if status in (502, 503, 504):
            html = _NGINX_5XX.format(code=status, phrase=_PHRASES[status])
            return web.Response(status=status, text=html, content_type="text/html")
        phrase = _PHRASES.get(status, "Error")
        return self._json(status, {"ok": False, "error_code": status, "description": phrase})

    # -- chats and messages --------------------------------------------------------------------
    def _chat_object(self, key: int | str) -> dict[str, Any]:
        chat = self._chat_objects.get(key)
        if chat is not None:
            return chat
        if isinstance(key, str):
            name = key[1:]
            cid = -(_CHANNEL_MIN + zlib.crc32(name.encode()) % 1_000_000_000)
            chat = {"id": cid, "title": name, "username": name, "type": "channel"}
        elif key > 0:
            chat = {"id": key, "first_name": f"User {key}", "type": "private"}
        elif key <= -_CHANNEL_MIN:
            chat = {"id": key, "title": f"Channel {key}", "type": "channel"}
        else:
            chat = {"id": key, "title": f"Group {key}", "type": "group"}
        self._chat_objects[key] = chat
        return chat

    def _check_chat(self, key: int | str | None) -> None:
        if key is None or key == "":
            raise _ApiError(400, "Bad Request: chat_id is empty")
        if isinstance(key, str) and not key.startswith("@"):
            raise _ApiError(400, "Bad Request: chat not found")
        if key in self.missing:
            raise _ApiError(400, "Bad Request: chat not found")
        if key in self.blocked:
            kind = self._chat_object(key)["type"]
            if kind == "private":
                raise _ApiError(403, "Forbidden: bot was blocked by the user")
            if kind == "channel":
                raise _ApiError(403, "Forbidden: bot is not a member of the channel chat")
            raise _ApiError(403, "Forbidden: bot was kicked from the group chat")
        if key in self.deactivated:
            raise _ApiError(403, "Forbidden: user is deactivated")

    def _format(
        self, text: str, parse_mode: Any, entities: Any = None
    ) -> tuple[str, list[dict[str, Any]]]:
        """Visible text and entity dicts for `text` under `parse_mode` (cached)."""
        mode = parse_mode.lower() if isinstance(parse_mode, str) and parse_mode else None
        key = (mode, text)
        cached = self._format_cache.get(key)
        if cached is None:
            cached = self._format_uncached(text, mode)
            if len(self._format_cache) > 4096:
                self._format_cache.clear()
            self._format_cache[key] = cached
        if isinstance(cached, _ApiError):
            raise cached
        if mode is None and isinstance(entities, list) and entities:
            return cached[0], entities
        return cached

    def _format_uncached(
        self, text: str, mode: str | None
    ) -> tuple[str, list[dict[str, Any]]] | _ApiError:
        if mode == "html":
            try:
                visible, ents = parse_html(text, strict=self.strict_html)
            except TelegramHTMLError as exc:
                return _ApiError(400, f"Bad Request: can't parse entities: {exc.detail}")
            return visible, [e.to_dict() for e in ents]
        if mode in (None, "markdown", "markdownv2"):
            return text.strip(), []
        return _ApiError(400, "Bad Request: unsupported parse_mode")

    def _text_content(self, params: dict[str, Any]) -> dict[str, Any]:
        text = params.get("text")
        if not isinstance(text, str) or not text.strip():
            raise _ApiError(400, "Bad Request: message text is empty")
        visible, ents = self._format(text, params.get("parse_mode"), params.get("entities"))
        if not visible:
            raise _ApiError(400, "Bad Request: message text is empty")
        if utf16_len(visible) > TEXT_LIMIT:
            raise _ApiError(400, "Bad Request: message is too long")
        content: dict[str, Any] = {"text": visible}
        if ents:
            content["entities"] = ents
        return content

    def _caption_content(self, params: dict[str, Any]) -> dict[str, Any]:
        caption = params.get("caption")
        if not isinstance(caption, str) or not caption:
            return {}
        visible, ents = self._format(
            caption, params.get("parse_mode"), params.get("caption_entities")
        )
        if utf16_len(visible) > CAPTION_LIMIT:
            raise _ApiError(400, "Bad Request: message caption is too long")
        content: dict[str, Any] = {}
        if visible:
            content["caption"] = visible
            if ents:
                content["caption_entities"] = ents
        return content

    def _store(self, key: int | str, content: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat_object(key)
        with self._lock:
            mid = self._next_message_id.get(key, 0) + 1
            self._next_message_id[key] = mid
            message: dict[str, Any] = {"message_id": mid}
            if chat["type"] == "channel":
                message["sender_chat"] = chat
            else:
                message["from"] = self.bot_user
            message["chat"] = chat
            message["date"] = int(time.time())
            message.update(content)
            self._chats.setdefault(key, {})[mid] = message
        return message

    def _send_message(self, key: int | str, params: dict[str, Any]) -> dict[str, Any]:
        content = self._text_content(params)
        markup = params.get("reply_markup")
        if isinstance(markup, dict):
            content["reply_markup"] = markup
        return self._store(key, content)

    def _photo_sizes(self, value: Any, params: dict[str, Any]) -> list[dict[str, Any]]:
        if isinstance(value, str) and value.startswith("attach://"):
            value = params.get(value[len("attach://") :])
        if isinstance(value, Upload):
            return self._register_photo(value.sha256, value.size)
        if isinstance(value, str) and value:
            if value.startswith(("http://", "https://")):
                if value in self.bad_urls:
                    raise _ApiError(400, "Bad Request: failed to get HTTP URL content")
                return self._register_photo(hashlib.sha256(value.encode()).hexdigest(), 0)
            sizes = self._files.get(value)
            if sizes is not None:
                return sizes
            raise _ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
        raise _ApiError(400, "Bad Request: there is no photo in the request")

    def _register_photo(self, digest: str, size: int) -> list[dict[str, Any]]:
        with self._lock:
            self._file_counter += 1
            n = self._file_counter
        unique = "AQAD" + digest[:12]
        sizes: list[dict[str, Any]] = [
            {
                "file_id": f"AgACAgIAAxkBAAI{n:08d}s",
                "file_unique_id": unique + "s",
                "file_size": max(size // 20, 1),
                "width": 90,
                "height": 60,
            },
            {
                "file_id": f"AgACAgIAAxkBAAI{n:08d}x",
                "file_unique_id": unique + "x",
                "file_size": size or 100_000,
                "width": 1280,
                "height": 853,
            },
        ]
        for s in sizes:
            self._files[s["file_id"]] = sizes
        return sizes

    def _send_photo(self, key: int | str, params: dict[str, Any]) -> dict[str, Any]:
        caption = self._caption_content(params)
        sizes = self._photo_sizes(params.get("photo"), params)
        return self._store(key, {"photo": sizes, **caption})

    def _send_media_group(self, key: int | str, params: dict[str, Any]) -> list[dict[str, Any]]:
        media = params.get("media")
        if not isinstance(media, list) or not all(isinstance(m, dict) for m in media):
            raise _ApiError(400, "Bad Request: can't parse media JSON object")
        if not 2 <= len(media) <= 10:
            raise _ApiError(400, "Bad Request: wrong number of media in the group")
        prepared = []
        for item in media:
            if item.get("type") != "photo":
                raise _ApiError(400, "Bad Request: unsupported media type in the group")
            caption = self._caption_content(item)
            prepared.append((self._photo_sizes(item.get("media"), params), caption))
        with self._lock:
            self._media_group_counter += 1
            group = str(13_000_000_000_000_000 + self._media_group_counter)
        return [
            self._store(key, {"media_group_id": group, "photo": sizes, **caption})
            for sizes, caption in prepared
        ]

    def _existing(self, key: int | str, params: dict[str, Any], verb: str) -> dict[str, Any]:
        message_id = params.get("message_id")
        with self._lock:
            found = (
                self._chats.get(key, {}).get(message_id) if isinstance(message_id, int) else None
            )
        if found is None:
            raise _ApiError(400, f"Bad Request: message to {verb} not found")
        return found

    def _replace(self, key: int | str, message: dict[str, Any]) -> None:
        with self._lock:
            self._chats.setdefault(key, {})[message["message_id"]] = message

    def _edit_message_text(self, key: int | str, params: dict[str, Any]) -> dict[str, Any] | bool:
        if "inline_message_id" in params:
            return True
        old = self._existing(key, params, "edit")
        if "text" not in old:
            raise _ApiError(400, "Bad Request: there is no text in the message to edit")
        content = self._text_content(params)
        # An edit without reply_markup removes the message's inline keyboard, as Telegram does.
        markup = params.get("reply_markup")
        if isinstance(markup, dict):
            content["reply_markup"] = markup
        if (
            content["text"] == old["text"]
            and content.get("entities") == old.get("entities")
            and content.get("reply_markup") == old.get("reply_markup")
        ):
            raise _ApiError(400, _NOT_MODIFIED)
        new = {k: v for k, v in old.items() if k not in ("entities", "reply_markup")}
        new.update(content, edit_date=int(time.time()))
        self._replace(key, new)
        return new

    def _edit_message_caption(
        self, key: int | str, params: dict[str, Any]
    ) -> dict[str, Any] | bool:
        if "inline_message_id" in params:
            return True
        old = self._existing(key, params, "edit")
        if "photo" not in old:
            raise _ApiError(400, "Bad Request: there is no caption in the message to edit")
        content = self._caption_content(params)
        if content.get("caption") == old.get("caption") and content.get(
            "caption_entities"
        ) == old.get("caption_entities"):
            raise _ApiError(400, _NOT_MODIFIED)
        new = {k: v for k, v in old.items() if k not in ("caption", "caption_entities")}
        new.update(content, edit_date=int(time.time()))
        self._replace(key, new)
        return new

    def _delete_message(self, key: int | str, params: dict[str, Any]) -> bool:
        message = self._existing(key, params, "delete")
        with self._lock:
            self._chats.get(key, {}).pop(message["message_id"], None)
        return True

    def _set_my_commands(self, _key: int | str | None, params: dict[str, Any]) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise _ApiError(400, "Bad Request: can't parse commands JSON object")
        with self._lock:
            self._commands[_commands_key(params)] = commands
        return True

    def _delete_my_commands(self, _key: int | str | None, params: dict[str, Any]) -> bool:
        with self._lock:
            self._commands.pop(_commands_key(params), None)
        return True

    def _get_chat_member(self, key: int | str | None, params: dict[str, Any]) -> dict[str, Any]:
        user_id = params.get("user_id")
        if not isinstance(user_id, int):
            raise _ApiError(400, "Bad Request: invalid user_id specified")
        user = self.bot_user if user_id == self.bot_id else _user(user_id, "Member", None, None)
        assert key is not None  # _check_chat refused an empty chat_id
        if self.creators.get(key) == user_id:
            return {"user": user, "status": "creator", "is_anonymous": False}
        if user_id in self.admins.get(key, ()):
            return {"user": user, "status": "administrator", **_ADMIN_RIGHTS}
        return {"user": user, "status": "member"}

    def _set_webhook(self, _key: int | str | None, params: dict[str, Any]) -> bool:
        url = params.get("url")
        if not isinstance(url, str):
            raise _ApiError(400, "Bad Request: bad webhook: URL must be provided")
        self.webhook = dict(params)
        return True

    def _delete_webhook(self, _key: int | str | None, _params: dict[str, Any]) -> bool:
        self.webhook = {}
        return True

    def _answer_callback_query(self, _key: int | str | None, params: dict[str, Any]) -> bool:
        if not params.get("callback_query_id"):
            raise _ApiError(400, "Bad Request: query is too old and response timeout expired")
        with self._lock:
            self.callback_answers.append(dict(params))
        return True

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = params.get("offset")
        limit = params.get("limit") or 100
        timeout = float(params.get("timeout") or 0)
        deadline = time.monotonic() + min(timeout, 50.0)
        while True:
            with self._lock:
                if isinstance(offset, int) and offset > 0:
                    # Confirmed updates are gone for good (sorted by id: drop a prefix).
                    del self._updates[: bisect.bisect_left(self._updates, offset, key=_update_id)]
                    batch = self._updates[:limit]
                elif isinstance(offset, int) and offset < 0:
                    batch = self._updates[offset:][:limit]
                else:
                    batch = self._updates[:limit]
            remaining = deadline - time.monotonic()
            if batch or remaining <= 0 or self._stopping or self._update_event is None:
                return batch
            try:
                await asyncio.wait_for(self._update_event.wait(), remaining)
            except TimeoutError:
                pass


def _update_id(update: dict[str, Any]) -> int:
    return int(update["update_id"])


def _commands_key(params: dict[str, Any]) -> str:
    """Which command list a setMyCommands/getMyCommands means: by language_code ("" default)."""
    return str(params.get("language_code") or "")


def _user(
    user_id: int, first_name: str, username: str | None, language_code: str | None
) -> dict[str, Any]:
    user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
    if username:
        user["username"] = username
    if language_code:
        user["language_code"] = language_code
    return user
