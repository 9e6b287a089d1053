"""Telegram: a release as HTML messages of at most 4096 characters, then its photos.

The text is `templates/telegram/message.html` (the bold title, the date, the lede, the body, the
source and a link to the web page), split at paragraph, sentence or word boundaries into as many
messages as it needs. Each image follows as a photo with its caption (at most 1024 characters);
a local image is named by its absolute path so the deliverer uploads it once and reuses the
file_id. The body's sanitised HTML is rewritten into Telegram's small tag set first
(`to_telegram_html`): headings become bold lines, lists bullet lines, tables text rows.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Any, ClassVar

from markupsafe import Markup

from publisher.channels.base import Channel, Sender, Throttle
from publisher.errors import RenderError
from publisher.ratelimit import Scope
from publisher.senders.outbox import OutboxSender
from publisher.settings import Settings
from publisher.splitters.telegram_html import split_telegram_html, unsupported_tags

if TYPE_CHECKING:  # a worker that only sends reads the declaration, not the render stack
    from publisher.release import Image, Release
    from publisher.render import BodyParts, RenderContext

# Words around the release's own text, in its language (an Arabic line that starts with a
# Latin label would be laid out left to right by Telegram's clients).
LABELS: dict[str, dict[str, str]] = {
    "en": {"source": "Source", "read_more": "Read on the website"},
    "ar": {"source": "المصدر", "read_more": "اقرأ البيان على الموقع"},
    "fr": {"source": "Source", "read_more": "Lire sur le site"},
}
ELLIPSIS = "…"
TAG = re.compile(r"<[^>]*>")
CHAT_LIMIT = (1, 1.0)  # messages, seconds: one chat
GROUP_LIMIT = (20, 60.0)  # a group or a channel


def telegram_scopes(chat_id: int | str) -> tuple[Scope, ...]:
    """Telegram's per-chat limits: 1 a second per chat, and 20 a minute for groups and channels."""
    chat = str(chat_id)
    scopes = [Scope(f"chat:{chat}", *CHAT_LIMIT)]
    if chat.startswith(("-", "@")):
        scopes.append(Scope(f"group:{chat}", *GROUP_LIMIT))
    return tuple(scopes)


def telegram_length(telegram_html: str) -> int:
    """Length Telegram counts: UTF-16 code units of the visible text after entity parsing."""
    visible = html.unescape(TAG.sub("", telegram_html))
    return len(visible.encode("utf-16-le")) // 2


def labels_for(language: str) -> dict[str, str]:
    """The message labels in a release's language (English when there are none for it)."""
    return LABELS.get(language.split("-")[0].lower(), LABELS["en"])


class TelegramChannel(Channel):
    """Telegram Bot API: HTML parse mode, text messages then photo messages."""

    name = "telegram"
    max_text: ClassVar[int] = 4096
    max_caption: ClassVar[int] = 1024
    parse_mode: ClassVar[str | None] = "HTML"
    rate_per_s: ClassVar[float | None] = 30  # TELEGRAM_RATE_LIMIT replaces it
    parts_key: ClassVar[str | None] = "messages"
    override_fields: ClassVar[dict[str, type]] = {"text": str}
    has_subscribers: ClassVar[bool] = True

    @classmethod
    def make_sender(cls, settings: Settings, throttle: Throttle | None) -> Sender:
        if not settings.telegram_bot_token:
            return OutboxSender(cls.name, settings)
        from publisher.senders.telegram import TelegramSender

        return TelegramSender(settings, throttle)

    @classmethod
    def fixed_recipients(cls, settings: Settings) -> list[str]:
        """The organisation's public channel, when TELEGRAM_CHANNEL names one."""
        return [settings.telegram_channel] if settings.telegram_channel else []

    @classmethod
    def rate_limit_per_s(cls, settings: Settings) -> float | None:
        return settings.telegram_rate_limit

    @classmethod
    def rate_limit_key(cls, settings: Settings) -> str:
        # Telegram's limit is the bot's: the token's numeric part names it, never the secret.
        return f"telegram:{(settings.telegram_bot_token or 'dry-run').split(':')[0]}"

    @classmethod
    def recipient_scopes(cls, address: str, consecutive: bool) -> tuple[Scope, ...]:
        # A private chat's own limit (1 a second) only matters for a message that follows
        # another to it; groups and channels (20 a minute) are always checked.
        if consecutive or address.startswith(("-", "@")):
            return telegram_scopes(address)
        return ()

    @classmethod
    def counters(cls, payload: dict[str, Any]) -> list[tuple[str, str]]:
        messages = cls.parts(payload)
        items = []
        for i, message in enumerate(messages, 1):
            if "photo" in message:
                size = telegram_length(message.get("caption", ""))
                label = f"photo {i}/{len(messages)}: caption {size}/{cls.max_caption}"
                items.append((label, message["photo"]))
            else:
                size = telegram_length(message["text"])
                items.append(
                    (f"message {i}/{len(messages)}: {size}/{cls.max_text}", message["text"])
                )
        return items

    @classmethod
    def render(cls, release: Release, body: BodyParts, ctx: RenderContext) -> dict[str, Any]:
        """`{"messages": [{"text", "parse_mode"}..., {"photo", "caption", "parse_mode"}...]}`."""
        from publisher.render import markdown_to_html

        override = release.override(cls.name, "text")
        text = ctx.templates.render_html(
            "telegram/message.html",
            release=release,
            title=release.title,
            summary=release.summary,
            source=release.source,
            date=release.date,
            language=release.language,
            direction=release.direction,
            body=Markup(to_telegram_html(body.html)),
            override=Markup(to_telegram_html(markdown_to_html(override))) if override else "",
            page_url=ctx.page_url(release),
            labels=labels_for(release.language),
        )
        _check_tags(text, "telegram/message.html")
        messages: list[dict[str, Any]] = [
            {"text": part, "parse_mode": cls.parse_mode}
            for part in split_telegram_html(text, cls.max_text)
        ]
        if not messages:
            raise RenderError(cls.name, "the message is empty", "telegram/message.html")
        for image in release.images:
            caption = ctx.templates.render_html(
                "telegram/caption.html", release=release, image=image
            )
            _check_tags(caption, "telegram/caption.html")
            messages.append(
                {
                    "photo": photo_source(release, image),
                    "caption": fit_caption(caption, cls.max_caption),
                    "parse_mode": cls.parse_mode,
                }
            )
        return {"messages": messages}


def photo_source(release: Release, image: Image) -> str:
    """What sendPhoto gets: a URL as it is, a local file as the resolved path validation checked."""
    if image.is_url:
        return image.src
    if image.file is None:  # built in code, not validated: its path could lead anywhere
        message = f"image {image.src!r} was never validated; load the release from its file"
        raise RenderError("telegram", message, release.source_path)
    return image.file.path


def fit_caption(caption: str, limit: int) -> str:
    """A caption cut to `limit` UTF-16 code units at a word boundary, marked with an ellipsis."""
    parts = split_telegram_html(caption, limit)
    if len(parts) <= 1:
        return parts[0] if parts else ""
    return split_telegram_html(caption, limit - len(ELLIPSIS))[0] + ELLIPSIS


def _check_tags(text: str, template: str) -> None:
    refused = unsupported_tags(text)
    if refused:
        tags = ", ".join(f"<{name}>" for name in refused)
        raise RenderError(
            "telegram", f"the template writes {tags}, which Telegram does not accept", template
        )


def to_telegram_html(safe_html: str) -> str:
    """Sanitised body HTML as Telegram HTML: its tags only, blocks as lines and blank lines."""
    writer = _TelegramWriter()
    writer.feed(safe_html)
    writer.close()
    return writer.result()


# Source tag -> Telegram tag; the rest of the inline tags keep only their text.
_INLINE = {
    "b": "b", "strong": "b", "i": "i", "em": "i", "u": "u", "ins": "u", "s": "s",
    "strike": "s", "del": "s", "code": "code", "tg-spoiler": "tg-spoiler",
}  # fmt: skip
_BLOCKS = {"p", "div", "table", "hr", "section", "article", "header", "footer", "figure"}
_BLOCKS |= {"dl", "address", "figcaption", "details", "summary", "main", "aside"}
_HEADINGS = {f"h{n}" for n in range(1, 7)}
_VOID = {"br", "img", "hr", "wbr", "input", "meta", "link", "area", "base", "col", "embed"}
_VOID |= {"source", "track", "param"}
# Whose content is never text for a reader, should any reach here despite sanitising.
_HIDDEN = {"script", "style", "iframe", "object", "noscript", "template", "svg", "math"}
_HIDDEN |= {"head", "title", "textarea", "select", "canvas", "audio", "video"}
_LINK_SCHEMES = ("http://", "https://", "mailto:")
_HTML_SPACE = re.compile(r"[ \t\n\r\f]+")


class _TelegramWriter(HTMLParser):
    """Walks sanitised HTML and writes Telegram HTML, following Telegram's nesting rules."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        # (source tag, Telegram tag written or None, where in `out` its start tag is)
        self.stack: list[tuple[str, str | None, int]] = []
        self.open: dict[str, int] = {}
        self.lists: list[list[int]] = []  # [ordered, next number]
        self.cells = 0
        self.hidden = 0
        self.pre: list[str] | None = None
        self.pending_break = 0
        self.pending_space = False
        self.no_space = True  # at a line start, or right after a list marker
        self.after_marker = False
        self.has_text = False
        self.newlines = 0  # newlines ending the output so far

    # -- output helpers ------------------------------------------------------------------------

    def _break(self, level: int) -> None:
        if not self.after_marker:
            self.pending_break = max(self.pending_break, level)

    def _flush(self, space: bool) -> None:
        if self.pending_break and self.has_text:
            self.out.append("\n" * max(0, self.pending_break - self.newlines))
            self.newlines = max(self.newlines, self.pending_break)
            self.no_space = True
        elif (space or self.pending_space) and not self.no_space:
            self.out.append(" ")
            self.newlines = 0
        self.pending_break = 0
        self.pending_space = False

    def _text(self, escaped: str, space: bool = False) -> None:
        self._flush(space)
        self.out.append(escaped)
        self.has_text = True
        self.no_space = self.after_marker = False
        self.newlines = 0

    def _open(self, tag: str, telegram: str | None, start_tag: str = "") -> None:
        if telegram is not None:
            self._flush(False)
            self.out.append(start_tag or f"<{telegram}>")
            self.open[telegram] = self.open.get(telegram, 0) + 1
        self.stack.append((tag, telegram, len(self.out) - 1))

    def _can_open(self, telegram: str) -> bool:
        if any(self.open.get(t) for t in ("code", "pre", telegram)):
            return False  # Nothing nests inside code, and nothing inside itself.
        if telegram in ("code", "pre"):
            return not any(self.open.values())  # Code stands alone in Telegram's rules.
        return True

    # -- HTMLParser callbacks ------------------------------------------------------------------

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN:
            self.hidden += 1
            return
        if self.hidden:
            return
        if self.pre is not None:
            if tag == "br":
                self.pre.append("\n")
            return
        attributes = dict(attrs)
        if tag in _HEADINGS:
            self._break(2)
            self._open(tag, "b" if self._can_open("b") else None)
        elif tag in _BLOCKS:
            self._break(2)
            if tag == "hr":
                return
            self.stack.append((tag, None, -1))
        elif tag == "blockquote":
            self._break(2)
            self._open(tag, "blockquote" if self._can_open("blockquote") else None)
        elif tag == "pre":
            self._break(2)
            self.pre = []
        elif tag in ("ul", "ol"):
            self._break(1 if self.lists else 2)
            first = attributes.get("start") or "1"
            self.lists.append([tag == "ol", int(first) if first.isdigit() else 1])
            self.stack.append((tag, None, -1))
        elif tag == "li":
            self._break(1)
            marker = "• "
            if self.lists and self.lists[-1][0]:
                marker = f"{self.lists[-1][1]}. "
                self.lists[-1][1] += 1
            indent = "   " * max(0, len(self.lists) - 1)
            self.pending_space = False
            self._text(indent + marker)
            self.no_space = self.after_marker = True
            self.stack.append((tag, None, -1))
        elif tag == "br":
            self._flush(False)
            self.out.append("\n")
            self.newlines += 1
            self.no_space = True
        elif tag == "tr":
            self._break(1)
            self.cells = 0
            self.stack.append((tag, None, -1))
        elif tag in ("td", "th"):
            if self.cells:
                self.pending_space = False
                self._text(" | ")
                self.no_space = True
            self.cells += 1
            self._open(tag, "b" if tag == "th" and self._can_open("b") else None)
        elif tag == "img":
            alt = _HTML_SPACE.sub(" ", attributes.get("alt") or "").strip()
            if alt:
                self._text(html.escape(alt, quote=False))
        elif tag == "a":
            href = (attributes.get("href") or "").strip()
            if href.lower().startswith(_LINK_SCHEMES) and self._can_open("a"):
                start_tag = f'<a href="{html.escape(href, quote=True)}">'
                self._open(tag, "a", start_tag)
            else:
                self._open(tag, None)
        elif tag in _INLINE:
            telegram = _INLINE[tag]
            self._open(tag, telegram if self._can_open(telegram) else None)
        elif tag not in _VOID:
            self.stack.append((tag, None, -1))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in _VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN:
            self.hidden = max(0, self.hidden - 1)
            return
        if self.hidden:
            return
        if tag == "pre" and self.pre is not None:
            code = "".join(self.pre).strip("\n")
            self.pre = None
            if code.strip():
                if self._can_open("pre"):
                    self._flush(False)
                    self.out.append(f"<pre>{html.escape(code, quote=False)}</pre>")
                    self.has_text, self.no_space, self.newlines = True, False, 0
                else:
                    self._text(html.escape(code, quote=False))
            self._break(2)
            return
        if self.pre is not None:
            return
        if not any(entry[0] == tag for entry in self.stack):
            return
        while self.stack:
            source, telegram, at = self.stack.pop()
            if telegram is not None:
                self.open[telegram] -= 1
                if at == len(self.out) - 1:
                    self.out.pop()  # an element with nothing in it: leave it out
                else:
                    self.out.append(f"</{telegram}>")
            if source in ("ul", "ol") and self.lists:
                self.lists.pop()
            if source == tag:
                break
        if tag in _HEADINGS or tag in _BLOCKS or tag in ("blockquote", "ul", "ol"):
            self.after_marker = False
            self._break(2 if tag != "ul" and tag != "ol" or not self.lists else 1)
        elif tag in ("li", "tr"):
            self.after_marker = False
            self._break(1)

    def handle_data(self, data: str) -> None:
        if self.hidden:
            return
        if self.pre is not None:
            self.pre.append(data)
            return
        text = _HTML_SPACE.sub(" ", data)
        core = text.strip(" ")
        if not core:
            if text and not self.no_space:
                self.pending_space = True
            return
        self._text(html.escape(core, quote=False), space=text.startswith(" "))
        self.pending_space = text.endswith(" ")

    def result(self) -> str:
        if self.pre is not None:  # an unclosed <pre>: keep its text
            self.handle_endtag("pre")
        while self.stack:  # unclosed elements (sanitised HTML has none): close them all
            self.handle_endtag(self.stack[-1][0])
        return "".join(self.out).strip()
