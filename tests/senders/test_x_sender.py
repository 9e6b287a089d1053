"""The X sender, with tweepy's real Client, against a loopback X API v2 checking OAuth 1.0a."""

from __future__ import annotations

import asyncio
import json
import pickle
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import tweepy
import tweepy.errors

from publisher.channels.base import Recipient, SendContext
from publisher.errors import (
    ChannelFault,
    DeliveryError,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from publisher.senders.x import XSender, translate
from publisher.settings import Settings
from tests.peers.x_api import FakeXAPI

from . import PartLog, ThrottleLog


@pytest.fixture(scope="module")
def server() -> Iterator[FakeXAPI]:
    with FakeXAPI() as peer:
        yield peer


@pytest.fixture
def peer(server: FakeXAPI) -> FakeXAPI:
    server.reset()
    return server


def settings_for(peer: FakeXAPI, **changes: str) -> Settings:
    values: dict[str, Any] = {
        "x_consumer_key": peer.consumer_key,
        "x_consumer_secret": peer.consumer_secret,
        "x_access_token": peer.access_token,
        "x_access_token_secret": peer.access_token_secret,
        "x_api_url": peer.base_url,
        **changes,
    }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def deliver(sender: XSender, payload: dict[str, Any], ctx: SendContext | None = None) -> list[str]:
    return asyncio.run(sender.deliver(payload, Recipient("account"), ctx or SendContext("rel-1")))


def thread(*texts: str) -> dict[str, Any]:
    return {"posts": [{"text": t} for t in texts]}


POSTS = (
    "1/4 Assad regime kills dozens of civilians in Idlib",
    "2/4 Jets bombed residential neighborhoods.",
    "3/4 Civil defense teams rushed in.",
    "4/4 Read more: https://press.example.org/releases/idlib/",
)


def test_a_thread_is_posted_as_a_reply_chain(peer: FakeXAPI) -> None:
    log = PartLog()
    ids = deliver(XSender(settings_for(peer)), thread(*POSTS), SendContext("rel-1", on_part=log))
    posts = peer.live_posts()
    assert [p.text for p in posts] == list(POSTS)
    assert [p.id for p in posts] == ids
    assert [p.in_reply_to for p in posts] == [None, *ids[:-1]]
    assert log.parts == list(enumerate(ids))


def test_a_resumed_thread_continues_after_the_recorded_posts(peer: FakeXAPI) -> None:
    sender = XSender(settings_for(peer))
    first = deliver(sender, thread(*POSTS[:2]))
    ids = deliver(sender, thread(*POSTS), SendContext("rel-1", done_parts=first))
    posts = peer.live_posts()
    assert [p.text for p in posts] == list(POSTS)  # posts 1 and 2 were not sent again
    assert posts[2].in_reply_to == first[1]
    assert ids[:2] == first and ids[2:] == [posts[2].id, posts[3].id]


def test_the_throttle_is_asked_before_every_post(peer: FakeXAPI) -> None:
    throttle = ThrottleLog()
    deliver(XSender(settings_for(peer), throttle), thread(*POSTS[:3]))
    assert throttle.chats == ["account"] * 3


def test_a_rate_limit_is_transient_until_the_reset(peer: FakeXAPI) -> None:
    sender = XSender(settings_for(peer))
    peer.fail_next(1, 429, reset_in_s=30)
    with pytest.raises(TransientDeliveryError, match="rate limit") as caught:
        deliver(sender, thread(*POSTS))
    assert caught.value.retry_after_s is not None and 25 <= caught.value.retry_after_s <= 32
    # The retry posts the whole thread, once.
    deliver(sender, thread(*POSTS))
    assert [p.text for p in peer.live_posts()] == list(POSTS)


def test_a_rate_limit_already_reset_waits_at_least_a_second(peer: FakeXAPI) -> None:
    peer.fail_next(1, 429, reset_in_s=-5)
    with pytest.raises(TransientDeliveryError) as caught:
        deliver(XSender(settings_for(peer)), thread("hello"))
    assert caught.value.retry_after_s == 1.0


def test_a_server_error_is_transient(peer: FakeXAPI) -> None:
    peer.fail_next(1, 503)
    with pytest.raises(TransientDeliveryError, match="503"):
        deliver(XSender(settings_for(peer)), thread("hello"))


def test_bad_credentials_pause_the_channel(peer: FakeXAPI) -> None:
    sender = XSender(settings_for(peer, x_consumer_key="not-the-key"))
    with pytest.raises(ChannelFault) as caught:
        deliver(sender, thread("hello"))
    assert "X_CONSUMER_KEY" in str(caught.value)
    assert str(caught.value).endswith("then run publisher resume rel-1")
    assert peer.posts == []


def test_a_wrong_secret_fails_the_signature_and_pauses_the_channel(peer: FakeXAPI) -> None:
    sender = XSender(settings_for(peer, x_access_token_secret="wrong"))
    with pytest.raises(ChannelFault, match="401 Unauthorized"):
        deliver(sender, thread("hello"))


def test_a_duplicate_post_is_refused_with_xs_message(peer: FakeXAPI) -> None:
    sender = XSender(settings_for(peer))
    deliver(sender, thread("Same words"))
    with pytest.raises(PermanentDeliveryError) as caught:
        deliver(sender, thread("Same words"))
    assert not caught.value.gone
    assert str(caught.value) == (
        "X refused the post: You are not allowed to create a Tweet with duplicate content."
    )


def lookups(peer: FakeXAPI) -> list[str]:
    """The paths of the GET requests the peer saw (the sender's look-ups)."""
    return [r.path for r in peer.requests if r.method == "GET"]


def test_a_duplicate_refusal_of_a_part_that_may_not_have_been_sent_still_fails(
    peer: FakeXAPI,
) -> None:
    """Without `maybe_sent` (no worker died sending it), an identical post already on the
    account is not ours to adopt: the refusal fails the delivery, as before, unlooked-up."""
    sender = XSender(settings_for(peer))
    first = deliver(sender, thread(*POSTS[:3]))
    ctx = SendContext("rel-1", done_parts=first[:2], on_part=PartLog())
    with pytest.raises(PermanentDeliveryError, match="duplicate content") as caught:
        deliver(sender, thread(*POSTS), ctx)
    assert not caught.value.gone
    assert lookups(peer) == []
    assert ctx.done_parts == first[:2]
    assert [p.text for p in peer.live_posts()] == list(POSTS[:3])


def test_a_part_posted_by_a_worker_that_died_is_adopted_and_the_thread_goes_on(
    peer: FakeXAPI,
) -> None:
    """Post 3 went through, but its worker died before recording it (`maybe_sent`): its resend
    is refused as duplicate content, so its id is found on the account's timeline, reported
    like a fresh post, and post 4 replies to it."""
    sender = XSender(settings_for(peer))
    first = deliver(sender, thread(*POSTS[:3]))
    log = PartLog()
    ctx = SendContext("rel-1", done_parts=first[:2], on_part=log, maybe_sent=True)
    ids = deliver(sender, thread(*POSTS), ctx)
    posts = peer.live_posts()
    assert [p.text for p in posts] == list(POSTS)  # post 3 once on the account
    assert ids == [p.id for p in posts] and ids[:3] == first
    assert posts[3].in_reply_to == first[2]
    assert log.parts == [(2, first[2]), (3, ids[3])]
    assert lookups(peer) == ["/2/users/me", f"/2/users/{peer.user_id}/tweets"]
    # A first post (a reply to nothing) is found too; the account id is asked once.
    (single,) = deliver(sender, thread("A one-post release"))
    again = deliver(sender, thread("A one-post release"), SendContext("rel-2", maybe_sent=True))
    assert again == [single]
    assert lookups(peer)[2:] == [f"/2/users/{peer.user_id}/tweets"]


def test_an_identical_post_that_is_not_the_threads_next_is_not_adopted(peer: FakeXAPI) -> None:
    """The same text on the account, but not replying to the last recorded post (another
    thread's, or a post on its own): not this thread's part, so the refusal stands."""
    sender = XSender(settings_for(peer))
    deliver(sender, thread("Same words"))
    (head,) = deliver(sender, thread("Another head"))
    ctx = SendContext("rel-1", done_parts=[head], maybe_sent=True)
    with pytest.raises(PermanentDeliveryError, match="duplicate content"):
        deliver(sender, thread("Another head", "Same words"), ctx)
    deliver(sender, thread("Head 2", "Tail 2"))
    with pytest.raises(PermanentDeliveryError, match="duplicate content"):
        # a reply already on the account is not the first post of a thread
        deliver(sender, thread("Tail 2"), SendContext("rel-3", maybe_sent=True))
    assert len(lookups(peer)) == 3  # me once, then one look-up per refusal


def test_a_failed_look_up_is_translated(peer: FakeXAPI) -> None:
    sender = XSender(settings_for(peer))
    deliver(sender, thread("Posted once"))
    peer.fail_when(lambda r: r.method == "GET" and r.path.endswith("/tweets"), 429)
    with pytest.raises(TransientDeliveryError, match="rate limit"):
        deliver(sender, thread("Posted once"), SendContext("rel-1", maybe_sent=True))
    assert deliver(sender, thread("Posted once"), SendContext("rel-1", maybe_sent=True)) == [
        peer.posts[0].id
    ]


def test_a_post_too_long_is_refused(peer: FakeXAPI) -> None:
    with pytest.raises(PermanentDeliveryError, match="too long") as caught:
        deliver(XSender(settings_for(peer)), thread("x" * 281))
    assert not caught.value.gone


def test_an_unreachable_api_is_transient() -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        x_consumer_key="k",
        x_consumer_secret="s",
        x_access_token="t",
        x_access_token_secret="ts",
        x_api_url="http://127.0.0.1:9",
    )
    started = time.monotonic()
    with pytest.raises(TransientDeliveryError, match="unreachable"):
        deliver(XSender(settings), thread("hello"))
    assert time.monotonic() - started < 10


def x_answer(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
    response = requests.Response()
    response.status_code = status
    response.reason = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
                       404: "Not Found", 429: "Too Many Requests", 409: "Conflict",
                       503: "Service Unavailable"}[status]  # fmt: skip
    response._content = json.dumps(body).encode()
    response.headers.update(headers or {})
    return response


def problem(status: int, detail: str) -> Any:
    return x_answer(status, {"title": "t", "detail": detail, "type": "about:blank"})


RESET = {"x-rate-limit-reset": str(int(time.time()) + 60)}
# Every exception tweepy raises, and what it must mean for the post.
X_CASES: list[tuple[Exception, type[DeliveryError]]] = [
    (tweepy.TooManyRequests(x_answer(429, {"title": "Too Many Requests"}, RESET)),
     TransientDeliveryError),
    (tweepy.TwitterServerError(problem(503, "Service Unavailable")), TransientDeliveryError),
    (tweepy.Unauthorized(problem(401, "Unauthorized")), ChannelFault),
    (tweepy.NotFound(problem(404, "Not Found")), ChannelFault),
    (tweepy.Forbidden(problem(403, "You are not allowed to create a Tweet with duplicate "
                                   "content.")), PermanentDeliveryError),
    (tweepy.BadRequest(x_answer(400, {"errors": [{"message": "Your Tweet text is too long."}]})),
     PermanentDeliveryError),
    (tweepy.HTTPException(problem(409, "Conflict")), PermanentDeliveryError),
    (tweepy.TweepyException("Expected ID"), TransientDeliveryError),
    (requests.ConnectionError("refused"), TransientDeliveryError),
    (requests.ReadTimeout("read timed out"), TransientDeliveryError),
]  # fmt: skip


def test_every_tweepy_exception_has_a_case() -> None:
    classes = {
        value
        for value in vars(tweepy.errors).values()
        if isinstance(value, type) and issubclass(value, Exception)
    }
    assert classes <= {type(exc) for exc, _ in X_CASES}


@pytest.mark.parametrize(("exc", "expected"), X_CASES, ids=lambda v: repr(v)[:50])
def test_translation(exc: Exception, expected: type[DeliveryError]) -> None:
    ours = translate(exc, "rel-9")
    assert type(ours) is expected
    if isinstance(ours, PermanentDeliveryError):
        assert not ours.gone
    assert str(ours) and "\n" not in str(ours)
    assert pickle.loads(pickle.dumps(ours)).args == ours.args


def test_a_rate_limit_translation_waits_until_the_reset() -> None:
    reset = {"x-rate-limit-reset": str(int(time.time()) + 60)}
    ours = translate(tweepy.TooManyRequests(x_answer(429, {"title": "Too Many"}, reset)))
    assert isinstance(ours, TransientDeliveryError)
    assert ours.retry_after_s is not None and 55 <= ours.retry_after_s <= 60
