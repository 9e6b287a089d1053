"""`FakeXAPI`: a loopback X API v2 server that tweepy's `Client` can post to.

It checks OAuth 1.0a user-context requests (consumer key, access token and, by default, the
HMAC-SHA1 signature), applies X's rules to ``POST /2/tweets`` (280 weighted characters by the
twitter-text rules, no duplicate text, replies only to live posts) and answers with X's JSON,
including its errors (401, 403, 429 with ``x-rate-limit-*`` headers, 5xx). The account's
timeline (``GET /2/users/{id}/tweets``) lists its live posts newest first, as X does, but
with their text as posted (X shows links as t.co and escapes ``& < >``; no ``entities``).

Faults can be aimed at particular requests (`fail_when`, e.g. "the third post of this
thread"), and a request can be held unanswered until the test lets it go (`hold`), to kill a
client while its post is in flight.

tweepy hard-codes ``https://api.twitter.com``; `rebased_session()` gives a `requests.Session`
that sends those URLs to the peer instead:

    with FakeXAPI() as peer:
        client = tweepy.Client(**peer.credentials)
        client.session = rebased_session(peer.base_url)
        client.create_tweet(text="hello")
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import requests
from aiohttp import web
from oauthlib.oauth1.rfc5849 import signature as oauth_signature
from oauthlib.oauth1.rfc5849 import utils as oauth_utils
from twitter_text import parse_tweet

from ._aioserver import ThreadedAioServer

__all__ = ["FakeXAPI", "Hold", "Post", "RebasedSession", "XRequest", "rebased_session"]

TWEET_LIMIT = 280
X_HOSTS = ("https://api.twitter.com", "https://api.x.com")
_TWITTER_EPOCH_MS = 1288834974657
_TOO_LONG = (
    "Your Tweet text is too long. For more information on how Twitter determines text length "
    "see https://github.com/twitter/twitter-text."
)
_DUPLICATE = "You are not allowed to create a Tweet with duplicate content."
_GONE_PARENT = "You attempted to reply to a Tweet that is deleted or not visible to you."
_PHRASES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


@dataclass(slots=True)
class Post:
    """A post the peer accepted. `deleted` turns true after ``DELETE /2/tweets/{id}``."""

    id: str
    text: str
    in_reply_to: str | None
    t_monotonic: float
    body: dict[str, Any]
    deleted: bool = False


@dataclass(slots=True)
class XRequest:
    """One request as the peer saw it: arrival time, method, path, JSON body, answer status."""

    t_monotonic: float
    method: str
    path: str
    body: Any
    status: int = 0


@dataclass(slots=True)
class _Rule:
    """`fail_when`: answer matching requests with `status`, `times` times (None: until cleared)."""

    when: Callable[[XRequest], bool]
    status: int
    times: int | None
    reset_in_s: float
    accept: bool = False


class Hold:
    """A request the peer keeps unanswered (see `FakeXAPI.hold`).

    `arrived` is set once a matching request is held (`request` is that request); `release()`
    lets it go: with `accept=True` it is handled as usual (a post is created even if its
    client has gone away, as X would), with `accept=False` it is dropped (nothing is created;
    the answer, if anyone still listens, is a 503).
    """

    def __init__(self, when: Callable[[XRequest], bool]) -> None:
        self.when = when
        self.arrived = threading.Event()
        self.request: XRequest | None = None
        self.accept = True
        self._released = threading.Event()

    def release(self, accept: bool = True) -> None:
        self.accept = accept
        self._released.set()

    @property
    def released(self) -> bool:
        return self._released.is_set()


class _XError(Exception):
    def __init__(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None):
        super().__init__(payload.get("detail", ""))
        self.status = status
        self.payload = payload
        self.headers = headers or {}
        self.accepted = False  # the request was carried out before this error was answered


def _problem(status: int, detail: str | None = None) -> _XError:
    """An X "problem" answer: {"title", "detail", "type": "about:blank", "status"}."""
    title = _PHRASES.get(status, "Error")
    payload = {"title": title, "detail": detail or title, "type": "about:blank", "status": status}
    return _XError(status, payload)


def _invalid(message: str, parameters: dict[str, list[str]] | None = None) -> _XError:
    """X's 400 for a request whose parameters are refused."""
    error: dict[str, Any] = {"message": message}
    if parameters:
        error["parameters"] = parameters
    return _XError(
        400,
        {
            "errors": [error],
            "title": "Invalid Request",
            "detail": "One or more parameters to your request was invalid.",
            "type": "https://api.twitter.com/2/problems/invalid-request",
        },
    )


class FakeXAPI(ThreadedAioServer):
    """Loopback X API v2: ``POST /2/tweets``, ``DELETE /2/tweets/{id}``, ``GET /2/tweets/{id}``,
    ``GET /2/users/me``, ``GET /2/users/{id}/tweets``.

    Knobs (plain attributes): `consumer_key`, `consumer_secret`, `access_token`,
    `access_token_secret`, `verify_signature`, `latency_s`; and `fail_next()`, `fail_when()`,
    `clear_failures()`, `hold()`.
    Records: `posts` (accepted, in order), `requests` (everything), `live_posts()`.
    """

    def __init__(
        self,
        consumer_key: str = "x-consumer-key",
        consumer_secret: str = "x-consumer-secret",
        access_token: str = "1500000000000000001-x-access-token",
        access_token_secret: str = "x-access-token-secret",
        *,
        verify_signature: bool = True,
        latency_s: float = 0.0,
        username: str = "press_office",
    ) -> None:
        super().__init__()
        self.consumer_key = consumer_key
        self.consumer_secret = consumer_secret
        self.access_token = access_token
        self.access_token_secret = access_token_secret
        #: check the HMAC-SHA1 signature, not only the keys
        self.verify_signature = verify_signature
        #: seconds to wait before each answer
        self.latency_s = latency_s
        self.username = username
        self.user_id = access_token.split("-", 1)[0] if access_token[:1].isdigit() else "1"
        #: accepted posts, in order (deleted ones stay, flagged)
        self.posts: list[Post] = []
        #: every request, in arrival order
        self.requests: list[XRequest] = []
        self._lock = threading.Lock()
        self._failures: deque[tuple[int, float]] = deque()
        self._rules: list[_Rule] = []
        self._holds: list[Hold] = []
        self._by_id: dict[str, Post] = {}
        self._live_texts: dict[str, str] = {}
        self._last_id = 0

    @property
    def credentials(self) -> dict[str, str]:
        """Keyword arguments for `tweepy.Client` that this peer accepts."""
        return {
            "consumer_key": self.consumer_key,
            "consumer_secret": self.consumer_secret,
            "access_token": self.access_token,
            "access_token_secret": self.access_token_secret,
        }

    def fail_next(self, n: int = 1, status: int = 429, reset_in_s: float = 1.0) -> None:
        """Answer the next `n` authenticated requests with `status`.

        429 carries ``x-rate-limit-limit/remaining/reset`` (reset = now + `reset_in_s`, epoch
        seconds); 5xx carry X's problem JSON.
        """
        with self._lock:
            self._failures.extend([(status, reset_in_s)] * n)

    def fail_when(
        self,
        when: Callable[[XRequest], bool],
        status: int = 503,
        *,
        times: int | None = 1,
        reset_in_s: float = 1.0,
        accept: bool = False,
    ) -> None:
        """Answer the authenticated requests for which `when(request)` is true with `status`,
        the first `times` of them (None: every one until `clear_failures()`). With `accept`,
        carry the request out first (the post is made) and answer the error anyway, as X does
        when it fails after taking a post.

        Checked before `fail_next()`'s queue, which such a request does not use up. `when` sees
        the `XRequest` (method, path, JSON body) and runs on the peer's thread.
        """
        with self._lock:
            self._rules.append(_Rule(when, status, times, reset_in_s, accept))

    def clear_failures(self) -> None:
        """Drop every pending failure: `fail_next()`'s and `fail_when()`'s."""
        with self._lock:
            self._failures.clear()
            self._rules.clear()

    def hold(self, when: Callable[[XRequest], bool]) -> Hold:
        """Keep the next authenticated request for which `when(request)` is true unanswered
        until `Hold.release()` (or until the peer stops, which drops it)."""
        held = Hold(when)
        with self._lock:
            self._holds.append(held)
        return held

    def live_posts(self) -> list[Post]:
        """Accepted posts not deleted since."""
        return [p for p in list(self.posts) if not p.deleted]

    def reset(self) -> None:
        """Forget posts, requests, pending failures and holds (knobs stay; held requests are
        dropped)."""
        with self._lock:
            self.posts = []
            self.requests = []
            self._failures.clear()
            self._rules.clear()
            holds, self._holds = self._holds, []
            for held in holds:
                if not held.released:
                    held.release(accept=False)
            self._by_id.clear()
            self._live_texts.clear()

    # -- server plumbing -----------------------------------------------------------------------
    def on_stopping(self) -> None:
        with self._lock:
            holds = list(self._holds)
        for held in holds:
            if not held.released:
                held.release(accept=False)

    def make_app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        return app

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        t = time.monotonic()
        body: Any = None
        if request.can_read_body:
            raw = await request.read()
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode("utf-8", "replace")
        rec = XRequest(t, request.method, request.path, body)
        self.requests.append(rec)
        if self.latency_s > 0:
            await asyncio.sleep(self.latency_s)
        try:
            if not self._authorized(request):
                raise _problem(401)
            held = self._take_hold(rec)
            if held is not None:
                held.request = rec
                held.arrived.set()
                while not held.released:
                    await asyncio.sleep(0.01)
                if not held.accept:
                    raise _problem(503)
            failure = self._take_failure(rec)
            if failure is not None:
                if failure.accepted:
                    self._route(request.method, request.path, body, t, request.query)
                raise failure
            status, payload = self._route(request.method, request.path, body, t, request.query)
        except _XError as err:
            rec.status = err.status
            return self._json(err.status, err.payload, err.headers)
        rec.status = status
        return self._json(status, payload)

    @staticmethod
    def _json(
        status: int, payload: dict[str, Any], headers: dict[str, str] | None = None
    ) -> web.Response:
        data = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        return web.Response(
            status=status, body=data, content_type="application/json", headers=headers
        )

    def _authorized(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        if not header.startswith("OAuth "):
            return False
        try:
            fields = dict(oauth_utils.parse_authorization_header(header))
        except (ValueError, TypeError):
            return False
        if fields.get("oauth_consumer_key") != self.consumer_key:
            return False
        if fields.get("oauth_token") != self.access_token:
            return False
        signature = fields.get("oauth_signature")
        if not signature or fields.get("oauth_signature_method") != "HMAC-SHA1":
            return False
        if not self.verify_signature:
            return True
        params = oauth_signature.collect_parameters(
            uri_query=request.query_string,
            headers={"Authorization": header},
            exclude_oauth_signature=True,
        )
        base = oauth_signature.signature_base_string(
            request.method,
            oauth_signature.base_string_uri(str(request.url)),
            oauth_signature.normalize_parameters(params),
        )
        secrets = (self.consumer_secret, self.access_token_secret)
        key = "&".join(oauth_utils.escape(s) for s in secrets)
        digest = hmac.new(key.encode(), base.encode(), hashlib.sha1).digest()
        expected = base64.b64encode(digest).decode()
        return hmac.compare_digest(expected, oauth_utils.unescape(signature))

    def _take_hold(self, rec: XRequest) -> Hold | None:
        if not self._holds:
            return None
        with self._lock:
            for held in self._holds:
                if not held.arrived.is_set() and held.when(rec):
                    self._holds.remove(held)
                    return held
        return None

    def _take_rule(self, rec: XRequest) -> tuple[int, float, bool] | None:
        with self._lock:
            for rule in self._rules:
                if rule.when(rec):
                    if rule.times is not None:
                        rule.times -= 1
                        if rule.times <= 0:
                            self._rules.remove(rule)
                    return rule.status, rule.reset_in_s, rule.accept
        return None

    def _take_failure(self, rec: XRequest) -> _XError | None:
        if not self._failures and not self._rules:
            return None
        failure = self._take_rule(rec) if self._rules else None
        if failure is None:
            with self._lock:
                if not self._failures:
                    return None
                status, reset_in_s = self._failures.popleft()
                failure = (status, reset_in_s, False)
        status, reset_in_s, accepted = failure
        err = _problem(status)
        err.accepted = accepted
        if status == 429:
            err.headers = {
                "x-rate-limit-limit": "100",
                "x-rate-limit-remaining": "0",
                "x-rate-limit-reset": str(int(time.time() + reset_in_s + 0.999)),
            }
        return err

    def _route(
        self, method: str, path: str, body: Any, t: float, query: Mapping[str, str]
    ) -> tuple[int, dict[str, Any]]:
        parts = path.rstrip("/").split("/")
        if parts[:3] == ["", "2", "tweets"]:
            if len(parts) == 3 and method == "POST":
                return self._create(body, t)
            if len(parts) == 4 and method == "DELETE":
                return self._delete(parts[3])
            if len(parts) == 4 and method == "GET":
                return self._lookup(parts[3])
        if path == "/2/users/me" and method == "GET":
            return 200, {
                "data": {"id": self.user_id, "name": "Press Office", "username": self.username}
            }
        if len(parts) == 5 and parts[:3] == ["", "2", "users"] and parts[4] == "tweets":
            if method == "GET":
                return self._timeline(parts[3], query)
        raise _problem(404, "The requested resource could not be found.")

    def _timeline(self, user_id: str, query: Mapping[str, str]) -> tuple[int, dict[str, Any]]:
        """``GET /2/users/{id}/tweets``: the account's live posts, newest first, `max_results`
        (5 to 100, default 10) a page; `since_id`, `until_id`, `pagination_token` and
        ``tweet.fields=referenced_tweets`` as X takes them."""
        if not user_id.isdigit():
            raise _invalid(
                f"The `id` query parameter value [{user_id}] does not match ^[0-9]{{1,19}}$",
                {"id": [user_id]},
            )
        raw_max = query.get("max_results", "10")
        if not raw_max.isdigit() or not 5 <= int(raw_max) <= 100:
            raise _invalid(
                f"The `max_results` query parameter value [{raw_max}] is not between 5 and 100",
                {"max_results": [raw_max]},
            )
        bounds = {}
        for name in ("since_id", "until_id", "pagination_token"):
            value = query.get(name)
            if value is not None:
                if not value.isdigit():
                    raise _invalid(
                        f"The `{name}` query parameter value [{value}] is not valid",
                        {name: [value]},
                    )
                bounds[name] = int(value)
        if user_id != self.user_id:
            return 200, {
                "errors": [
                    {
                        "value": user_id,
                        "detail": f"Could not find user with id: [{user_id}].",
                        "title": "Not Found Error",
                        "resource_type": "user",
                        "parameter": "id",
                        "resource_id": user_id,
                        "type": "https://api.twitter.com/2/problems/resource-not-found",
                    }
                ]
            }
        fields = set(query.get("tweet.fields", "").split(","))
        with self._lock:
            live = [p for p in reversed(self.posts) if not p.deleted]
        if "since_id" in bounds:
            live = [p for p in live if int(p.id) > bounds["since_id"]]
        for name in ("until_id", "pagination_token"):  # a page token: the last id shown before
            if name in bounds:
                live = [p for p in live if int(p.id) < bounds[name]]
        page, rest = live[: int(raw_max)], live[int(raw_max) :]
        if not page:
            return 200, {"meta": {"result_count": 0}}
        data = []
        for post in page:
            item: dict[str, Any] = {
                "id": post.id,
                "text": post.text,
                "edit_history_tweet_ids": [post.id],
            }
            if "referenced_tweets" in fields and post.in_reply_to is not None:
                item["referenced_tweets"] = [{"type": "replied_to", "id": post.in_reply_to}]
            data.append(item)
        meta: dict[str, Any] = {
            "result_count": len(page),
            "newest_id": page[0].id,
            "oldest_id": page[-1].id,
        }
        if rest:
            meta["next_token"] = page[-1].id
        return 200, {"data": data, "meta": meta}

    def _create(self, body: Any, t: float) -> tuple[int, dict[str, Any]]:
        if not isinstance(body, dict):
            raise _invalid("The request body must be a JSON object.")
        text = body.get("text")
        if text is not None and not isinstance(text, str):
            raise _invalid("`text` must be a string.", {"text": [str(text)]})
        if not text and not body.get("media"):
            raise _invalid("Post text is empty and no media is attached.", {"text": [""]})
        text = text or ""
        if parse_tweet(text).weightedLength > TWEET_LIMIT:
            raise _invalid(_TOO_LONG)
        parent: str | None = None
        reply = body.get("reply")
        if reply is not None:
            parent = str(reply.get("in_reply_to_tweet_id", "")) if isinstance(reply, dict) else ""
            if not parent.isdigit():
                raise _invalid(
                    "The `reply.in_reply_to_tweet_id` query parameter value "
                    f"[{parent}] is not valid",
                    {"reply.in_reply_to_tweet_id": [parent]},
                )
        with self._lock:
            if parent is not None:
                known = self._by_id.get(parent)
                if known is None or known.deleted:
                    raise _problem(403, _GONE_PARENT)
            if text and text in self._live_texts:
                raise _problem(403, _DUPLICATE)
            now_id = (int(time.time() * 1000) - _TWITTER_EPOCH_MS) << 22
            self._last_id = max(self._last_id + 1, now_id)
            post_id = str(self._last_id)
            post = Post(post_id, text, parent, t, body)
            self.posts.append(post)
            self._by_id[post_id] = post
            if text:
                self._live_texts[text] = post_id
        return 201, {"data": {"id": post_id, "text": text, "edit_history_tweet_ids": [post_id]}}

    def _delete(self, post_id: str) -> tuple[int, dict[str, Any]]:
        with self._lock:
            post = self._by_id.get(post_id)
            if post is None or post.deleted:
                return 200, {"data": {"deleted": False}}
            post.deleted = True
            if self._live_texts.get(post.text) == post_id:
                del self._live_texts[post.text]
        return 200, {"data": {"deleted": True}}

    def _lookup(self, post_id: str) -> tuple[int, dict[str, Any]]:
        post = self._by_id.get(post_id)
        if post is None or post.deleted:
            return 200, {
                "errors": [
                    {
                        "value": post_id,
                        "detail": f"Could not find tweet with id: [{post_id}].",
                        "title": "Not Found Error",
                        "resource_type": "tweet",
                        "parameter": "id",
                        "resource_id": post_id,
                        "type": "https://api.twitter.com/2/problems/resource-not-found",
                    }
                ]
            }
        return 200, {
            "data": {"id": post.id, "text": post.text, "edit_history_tweet_ids": [post.id]}
        }


class RebasedSession(requests.Session):
    """A `requests.Session` that sends X API URLs (api.twitter.com, api.x.com) to `base_url`."""

    def __init__(self, base_url: str, hosts: tuple[str, ...] = X_HOSTS) -> None:
        super().__init__()
        self.base_url = base_url.rstrip("/")
        self.hosts = hosts

    def request(
        self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any
    ) -> requests.Response:
        """Send the request, to `base_url` if `url` starts with one of `hosts`."""
        target = url.decode() if isinstance(url, bytes) else url
        for host in self.hosts:
            if target.startswith(host):
                target = self.base_url + target[len(host) :]
                break
        verb = method.decode() if isinstance(method, bytes) else method
        return super().request(verb, target, *args, **kwargs)


def rebased_session(base_url: str) -> RebasedSession:
    """Session for ``tweepy.Client.session`` that points tweepy at a peer (or any X API root)."""
    return RebasedSession(base_url)
