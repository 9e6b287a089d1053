"""X delivery: a release's posts as one thread on the organisation's account, through tweepy.

Post i replies to post i-1. A thread cut short (worker killed, 429) resumes after the posts
already recorded, replying to the last of them, so no post is sent twice. tweepy's and
requests' exceptions become ours here and nowhere else (`translate`).
"""

from __future__ import annotations

import asyncio
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

    async def close(self) -> None:
        self.client.session.close()

    async def deliver(
        self, payload: dict[str, Any], recipient: Recipient, ctx: SendContext
    ) -> list[str]:
        """Post the thread's remaining posts, each replying to the one before; return all ids."""
        posts: list[dict[str, Any]] = payload["posts"]
        ids = list(ctx.done_parts)
        for index in range(len(ids), len(posts)):
            if self.throttle is not None:
                await self.throttle.before_send(recipient.address)
            reply_to = ids[-1] if ids else None
            try:
                post_id = await asyncio.to_thread(self._post, posts[index]["text"], reply_to)
            except (tweepy.TweepyException, requests.RequestException) as exc:
                raise translate(exc, ctx.release_id) from exc
            ids.append(post_id)
            if ctx.on_part is not None:
                await ctx.on_part(index, post_id)
        return ids

    def _post(self, text: str, reply_to: str | None) -> str:
        answer: dict[str, Any] = self.client.create_tweet(
            text=text, in_reply_to_tweet_id=reply_to, user_auth=True
        )
        return str(answer["data"]["id"])
