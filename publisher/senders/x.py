"""X delivery: a release's posts as one thread on the organisation's account, through tweepy.

Post i replies to post i-1. A thread cut short (worker killed, 429) resumes after the posts
already recorded, replying to the last of them, so no post is sent twice. tweepy's and
requests' exceptions become ours here and nowhere else (`translate`).

X refuses a post whose text is already on the account, so the one post that may be sent twice
(the one in flight when a worker died: `SendContext.maybe_sent`) cannot be: its resend is
refused as duplicate content. That refusal then means "it was posted": the post is looked up
on the account's timeline (same text, replying to the last recorded post) and its id adopted,
and the thread goes on from there.
"""

from __future__ import annotations

import asyncio
import html
import time
from typing import Any, ClassVar

import requests
import tweepy

from publisher.channels.base import Recipient, SendContext, Sender, Throttle
from publisher.errors import (
    ChannelFault,
    DeliveryError,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from publisher.settings import Settings

# tweepy builds every URL on this root; X_API_URL replaces it.
TWEEPY_ROOTS = ("https://api.twitter.com", "https://api.x.com")
TIMEOUT_S = (5.0, 30.0)  # connect, read: requests has no default and would wait forever
# How many of the account's newest posts are searched for a post refused as a duplicate (the
# most GET /2/users/:id/tweets gives in one page; a part's own post is among the newest).
LOOKUP_POSTS = 100


class RootedSession(requests.Session):
    """A `requests.Session` that sends tweepy's hard-coded X API URLs to another root."""

    def __init__(self, root: str, timeout_s: tuple[float, float] = TIMEOUT_S) -> None:
        super().__init__()
        self.root = root.rstrip("/")
        self.timeout_s = timeout_s

    def request(
        self, method: str, url: str | bytes, *args: Any, **kwargs: Any
    ) -> requests.Response:
        if isinstance(url, str):
            for prefix in TWEEPY_ROOTS:
                if url.startswith(prefix):
                    url = self.root + url[len(prefix) :]
                    break
        kwargs.setdefault("timeout", self.timeout_s)
        return super().request(method, url, *args, **kwargs)


def _platform_message(exc: tweepy.HTTPException) -> str:
    messages = [str(m) for m in exc.api_messages if m]
    text = "; ".join(messages) if messages else str(exc)
    return " ".join(text.split())


def _reset_in_s(exc: tweepy.TooManyRequests) -> float | None:
    reset = exc.reset_time
    if reset is None:
        header = exc.response.headers.get("x-rate-limit-reset")
        reset = int(header) if header and header.isdigit() else None
    if reset is None:
        return None
    return max(float(reset) - time.time(), 1.0)


def is_duplicate(exc: Exception) -> bool:
    """X's refusal of a post whose text the account has already posted (403)."""
    return (
        isinstance(exc, tweepy.Forbidden) and "duplicate content" in _platform_message(exc).lower()
    )


def shown_text(tweet: dict[str, Any]) -> str:
    """A post's text as it was posted: X's answer escapes `& < >` and shows links as t.co."""
    text = str(tweet.get("text", ""))
    urls = (tweet.get("entities") or {}).get("urls") or []
    for url in urls:
        short, full = url.get("url"), url.get("expanded_url")
        if short and full:
            text = text.replace(str(short), str(full))
    return html.unescape(text).strip()


def replied_to(tweet: dict[str, Any]) -> str | None:
    """The id of the post `tweet` replies to, if any."""
    for ref in tweet.get("referenced_tweets") or []:
        if ref.get("type") == "replied_to":
            return str(ref.get("id"))
    return None


def translate(exc: Exception, release_id: str = "ID") -> DeliveryError:
    """Our exception for what tweepy or requests raised while posting."""
    if isinstance(exc, tweepy.TooManyRequests):
        wait_s = _reset_in_s(exc)
        after = f": retry after {wait_s:.0f} s" if wait_s is not None else ""
        return TransientDeliveryError(f"X rate limit reached{after}", retry_after_s=wait_s)
    if isinstance(exc, tweepy.TwitterServerError):
        status = exc.response.status_code
        return TransientDeliveryError(f"X server error {status}: {_platform_message(exc)}")
    if isinstance(exc, tweepy.Unauthorized):
        return ChannelFault(
            "X refused the credentials (401 Unauthorized); fix X_CONSUMER_KEY, X_CONSUMER_SECRET, "
            f"X_ACCESS_TOKEN and X_ACCESS_TOKEN_SECRET, then run publisher resume {release_id}"
        )
    if isinstance(exc, tweepy.NotFound):
        return ChannelFault(
            f"X API answered 404 Not Found; check X_API_URL, then run publisher resume {release_id}"
        )
    if isinstance(exc, tweepy.Forbidden | tweepy.BadRequest | tweepy.HTTPException):
        # Duplicate text, a reply target that is gone, a post too long: X refuses the content.
        return PermanentDeliveryError(f"X refused the post: {_platform_message(exc)}", gone=False)
    if isinstance(exc, requests.Timeout):
        return TransientDeliveryError(f"X did not answer in time: {type(exc).__name__}")
    if isinstance(exc, requests.RequestException):
        return TransientDeliveryError(f"X unreachable: {type(exc).__name__}: {exc}")
    return TransientDeliveryError(f"X error: {type(exc).__name__}: {exc}")


class XSender(Sender):
    """Posts a release's thread on the account of the X_* credentials."""

    channel: ClassVar[str] = "x"

    def __init__(self, settings: Settings, throttle: Throttle | None = None) -> None:
        self.client = tweepy.Client(
            consumer_key=settings.x_consumer_key,
            consumer_secret=settings.x_consumer_secret,
            access_token=settings.x_access_token,
            access_token_secret=settings.x_access_token_secret,
            return_type=dict,  # the JSON as is: no tweepy objects to build
        )
        self.client.session = RootedSession(settings.x_api_url)
        self.throttle = throttle
        self.account_id: str | None = None  # the account's user id, asked once (`get_me`)

    async def close(self) -> None:
        self.client.session.close()

    async def deliver(
        self, payload: dict[str, Any], recipient: Recipient, ctx: SendContext
    ) -> list[str]:
        """Post the thread's remaining posts, each replying to the one before; return all ids."""
        posts: list[dict[str, Any]] = payload["posts"]
        ids = list(ctx.done_parts)
        first = len(ids)
        for index in range(first, len(posts)):
            if self.throttle is not None:
                await self.throttle.before_send(recipient.address)
            reply_to = ids[-1] if ids else None
            text = posts[index]["text"]
            try:
                post_id = await asyncio.to_thread(self._post, text, reply_to)
            except (tweepy.TweepyException, requests.RequestException) as exc:
                found = None
                if index == first and ctx.maybe_sent and is_duplicate(exc):
                    # The post in flight when a worker died went through: take it as sent.
                    try:
                        found = await asyncio.to_thread(self._find_posted, text, reply_to)
                    except (tweepy.TweepyException, requests.RequestException) as lookup_exc:
                        raise translate(lookup_exc, ctx.release_id) from lookup_exc
                if found is None:
                    raise translate(exc, ctx.release_id) from exc
                post_id = found
            ids.append(post_id)
            if ctx.on_part is not None:
                await ctx.on_part(index, post_id)
        return ids

    def _post(self, text: str, reply_to: str | None) -> str:
        answer: dict[str, Any] = self.client.create_tweet(
            text=text, in_reply_to_tweet_id=reply_to, user_auth=True
        )
        return str(answer["data"]["id"])

    def _find_posted(self, text: str, reply_to: str | None) -> str | None:
        """The id of the newest post on the account with this text, replying to `reply_to`
        (to nothing when None), among its newest posts; None if there is none."""
        if self.account_id is None:
            me: dict[str, Any] = self.client.get_me(user_auth=True)
            self.account_id = str(me["data"]["id"])
        params: dict[str, Any] = {}
        if reply_to is not None:
            params["since_id"] = reply_to  # a reply is newer than the post it replies to
        answer: dict[str, Any] = self.client.get_users_tweets(
            id=self.account_id,
            max_results=LOOKUP_POSTS,
            tweet_fields=["referenced_tweets", "entities"],
            user_auth=True,
            **params,
        )
        wanted = text.strip()
        for tweet in answer.get("data") or []:  # newest first
            if replied_to(tweet) == reply_to and shown_text(tweet) == wanted:
                return str(tweet["id"])
        return None
