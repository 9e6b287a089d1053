"""X (Twitter): a release as a thread of plain-text posts of at most 280 weighted characters.

The first post is `templates/x/first.txt` (the title and the lede); the body's paragraphs follow,
packed into a numbered thread of at most X_THREAD_MAX posts, and the last post links to the
release's web page (`templates/x/link.txt`). X shows no HTML: the body goes in as plain text,
its links as "text (url)". A hand-written `overrides.x.thread` is used as given, once every post
is checked against the limit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from publisher.channels.base import Channel, Sender, Throttle
from publisher.errors import RenderError
from publisher.senders.outbox import OutboxSender
from publisher.settings import Settings

if TYPE_CHECKING:  # twitter-text's regular expressions load on the first render, not in a sender
    from publisher.release import Release
    from publisher.render import BodyParts, RenderContext

#: X's limit of one post, in weighted characters (twitter-text's max_weighted_tweet_length).
MAX_WEIGHT = 280


class XChannel(Channel):
    """Posts to the organisation's X account: one post or a numbered thread."""

    name = "x"
    max_text = MAX_WEIGHT  # weighted: URLs count 23, most CJK and emoji 2 (twitter-text)
    weighted: ClassVar[bool] = True
    parts_key: ClassVar[str | None] = "posts"
    override_fields: ClassVar[dict[str, type]] = {"thread": list}

    @classmethod
    def make_sender(cls, settings: Settings, throttle: Throttle | None) -> Sender:
        keys = (
            settings.x_consumer_key,
            settings.x_consumer_secret,
            settings.x_access_token,
            settings.x_access_token_secret,
        )
        if not all(keys):
            return OutboxSender(cls.name, settings)
        from publisher.senders.x import XSender

        return XSender(settings, throttle)

    @classmethod
    def fixed_recipients(cls, settings: Settings) -> list[str]:
        """The organisation's own account, the one recipient of a thread."""
        return ["account"]

    @classmethod
    def counters(cls, payload: dict[str, Any]) -> list[tuple[str, str]]:
        # weighted_length is exact and costs a tenth of twitter-text's parse_tweet on prose
        from publisher.splitters.x_thread import weighted_length

        posts = cls.parts(payload)
        return [
            (
                f"X post {i}/{len(posts)}: {weighted_length(p['text'])}/{cls.max_text}",
                p["text"],
            )
            for i, p in enumerate(posts, 1)
        ]

    @classmethod
    def render(cls, release: Release, body: BodyParts, ctx: RenderContext) -> dict[str, Any]:
        from publisher.render import paragraphs
        from publisher.splitters.x_thread import pack_thread

        url = ctx.page_url(release)
        link = ctx.templates.render_text("x/link.txt", url=url, release=release).strip()
        max_posts = max(1, ctx.x_thread_max)
        thread = release.override("x", "thread")
        if thread is not None:
            posts = _override_thread(release, thread, url, link, max_posts)
        else:
            first = ctx.templates.render_text(
                "x/first.txt",
                title=release.title,
                summary=release.summary,
                release=release,
                organisation=ctx.organisation,
            )
            try:
                posts, _ = pack_thread(paragraphs(first), paragraphs(body.text), link, max_posts)
            except ValueError as exc:
                raise RenderError(
                    "x", f"{exc}; shorten PUBLIC_URL or templates/x/link.txt", release.source_path
                ) from exc
        return {"posts": [{"text": text} for text in posts]}


def _override_thread(
    release: Release, thread: Any, url: str, link: str, max_posts: int
) -> list[str]:
    """A hand-written thread, checked post by post; the link is added if no post has it."""
    from twitter_text import parse_tweet

    from publisher.splitters.x_thread import LINK_JOINER, exact_weight

    where = "overrides.x.thread"
    if not isinstance(thread, list) or not thread:
        raise RenderError("x", f"{where} must be a list of posts", release.source_path)
    posts: list[str] = []
    for index, post in enumerate(thread):
        if not isinstance(post, str) or not post.strip():
            raise RenderError(
                "x", f"{where}[{index}] is empty; write the post or remove it", release.source_path
            )
        post = post.strip()
        parsed = parse_tweet(post)
        if parsed.weightedLength > MAX_WEIGHT:
            raise RenderError(
                "x",
                f"{where}[{index}] is {parsed.weightedLength}/{MAX_WEIGHT} weighted characters;"
                " shorten it",
                release.source_path,
            )
        if not parsed.valid:
            raise RenderError(
                "x",
                f"{where}[{index}] contains characters X refuses (U+FEFF, U+FFFE or U+FFFF);"
                " remove them",
                release.source_path,
            )
        posts.append(post)
    if len(posts) > max_posts:
        raise RenderError(
            "x",
            f"{where} has {len(posts)} posts but X_THREAD_MAX allows {max_posts}; merge or drop"
            " posts",
            release.source_path,
        )
    if any(url in post for post in posts):
        return posts
    closing = f"{posts[-1]}{LINK_JOINER}{link}"
    if exact_weight(closing) <= MAX_WEIGHT:
        posts[-1] = closing
    elif len(posts) < max_posts:
        posts.append(link)
    else:
        spare = MAX_WEIGHT - (exact_weight(closing) - exact_weight(posts[-1]))
        raise RenderError(
            "x",
            f"{where} leaves no room for the link to the release page: shorten"
            f" {where}[{len(posts) - 1}] to {spare} weighted characters or use fewer posts",
            release.source_path,
        )
    return posts
