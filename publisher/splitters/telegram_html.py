"""Telegram HTML: sanitised body HTML into Telegram's tag set, and splitting into messages.

Telegram counts a message's limit (4096, a caption's 1024) in UTF-16 code units of the visible
text, after entities are parsed and leading and trailing whitespace is trimmed; tags do not
count. `split_telegram_html` cuts at the best boundary that fits (paragraph, line, sentence,
word, and only then inside a word), closes every tag open at a cut and reopens it, with the same
attributes, at the start of the next part.
"""

from __future__ import annotations

import html
import re
import unicodedata
from bisect import bisect_left, bisect_right
from html.parser import HTMLParser
from itertools import accumulate

__all__ = [
    "TELEGRAM_TAGS",
    "split_telegram_html",
    "to_telegram_html",
    "unsupported_tags",
    "utf16_len",
]

# Every tag Telegram's HTML parse mode accepts; anything else is refused with a 400.
TELEGRAM_TAGS = frozenset(
    {"a", "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler",
     "tg-emoji", "code", "pre", "blockquote"}
)  # fmt: skip

# A tag (quoted attribute values may hold ">"); a character reference; the rest is text.
_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)((?:[^>\"']|\"[^\"]*\"|'[^']*')*)>")
_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6}|[A-Za-z][A-Za-z0-9]{0,31});")
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")
# Spaces a line may break at: any whitespace but the no-break ones.
_NO_BREAK = "\u00a0\u2007\u202f"
_SPACES = re.compile(r"[^\S\u00a0\u2007\u202f]+")
# Sentence ends (as publisher.render.sentences): Latin and Arabic marks before a space, CJK
# marks anywhere; closing quotes and brackets stay with their sentence.
_SENTENCE_MARKS = ".!?؟۔…。！？"
_SENTENCE = re.compile(
    r"[.!?؟۔…][\"'”’»)\]」』]*(?=[^\S\u00a0\u2007\u202f])|[。！？][\"'”’»)\]」』]*"
)
_BREAK_SPACES = [c for c in map(chr, range(0x3001)) if c.isspace() and c not in _NO_BREAK]


def utf16_len(text: str) -> int:
    """Length of a text in UTF-16 code units (an emoji outside the BMP counts 2)."""
    if text.isascii():
        return len(text)
    return len(text) + len(_ASTRAL.findall(text))


def unsupported_tags(telegram_html: str) -> list[str]:
    """The tag names in a text that Telegram's HTML parse mode would refuse."""
    names = {m.group(2).lower() for m in _TAG.finditer(telegram_html)}
    return sorted(names - TELEGRAM_TAGS)


def split_telegram_html(telegram_html: str, limit: int) -> list[str]:
    """Cut Telegram HTML into parts whose visible text fits `limit` UTF-16 code units.

    Parts are trimmed and never empty; tags stay balanced in every part. The input is taken as
    Telegram HTML; character references are decoded and written back as `&lt; &gt; &amp;` only.
    """
    if limit < 2:
        raise ValueError("limit must be at least 2 (one emoji is 2 UTF-16 code units)")
    # split() with the tag pattern's 3 groups gives: text, slash, name, attributes, text, ...
    # so text i is pieces[4 * i] and the tag after it pieces[4 * i + 1 : 4 * i + 4].
    pieces = _TAG.split(telegram_html)
    texts = [_ENTITY.sub(_decode_entity, t) if "&" in t else t for t in pieces[::4]]
    visible = "".join(texts)
    ranges = _ranges(visible, limit)
    return _emit(pieces, texts, visible, ranges) if ranges else []


def _decode_entity(m: re.Match[str]) -> str:
    return html.unescape(m.group())


def _is_space(ch: str) -> bool:
    return ch.isspace() and ch not in _NO_BREAK


def _skip_spaces(text: str, i: int) -> int:
    m = _SPACES.match(text, i)
    return m.end() if m else i


def _trim_end(text: str, i: int, floor: int) -> int:
    while i > floor and _is_space(text[i - 1]):
        i -= 1
    return i


def _joins_previous(ch: str) -> bool:
    """A character that belongs to the one before it (mark, modifier, joiner, selector)."""
    code = ord(ch)
    return (
        unicodedata.category(ch) in ("Mn", "Mc", "Me")
        or 0xFE00 <= code <= 0xFE0F
        or 0x1F3FB <= code <= 0x1F3FF
        or 0xE0020 <= code <= 0xE007F
        or 0xDC00 <= code <= 0xDFFF
        or code == 0x200D
    )


def _ranges(text: str, limit: int) -> list[tuple[int, int]]:
    """The [start, end) slices of the visible text that become parts."""
    ascii_only = text.isascii()

    def width(i: int, j: int) -> int:
        if ascii_only:
            return j - i
        return len(text[i:j].encode("utf-16-le")) // 2

    ranges: list[tuple[int, int]] = []
    start = _skip_spaces(text, 0)
    stop = _trim_end(text, len(text), start)
    while start < stop:
        # A slice is at least as wide as it is long, so only a short rest can fit whole.
        if stop - start <= limit and width(start, stop) <= limit:
            ranges.append((start, stop))
            break
        # The longest slice that fits: shrink by at most half the excess per step (a
        # character is 1 or 2 units), then grow back the odd character overshot.
        end = min(stop, start + limit)
        used = width(start, end)
        while used > limit:
            end -= (used - limit + 1) // 2
            used = width(start, end)
        while end < stop and used + width(end, end + 1) <= limit:
            used += width(end, end + 1)
            end += 1
        cut, resume = _best_break(text, start, end)
        ranges.append((start, cut))
        start = _skip_spaces(text, resume)
    return ranges


# Break candidates are searched in the last stretch of the window first: the last one wins,
# so a long window without any is the only case that is scanned whole.
_TAIL = 512


def _best_break(text: str, start: int, end: int) -> tuple[int, int]:
    """Where to end a part that may run to `end`: (end of this part, start of the next)."""
    # Paragraph, then line: the break may sit exactly at `end`, the first char left out.
    for mark in ("\n\n", "\n"):
        at = text.rfind(mark, start + 1, end + len(mark))
        if at > start:
            return _trim_end(text, at, start), at
    cut = _last_sentence_end(text, start, end)
    if cut > start:
        return cut, cut
    at = max(text.rfind(space, start + 1, end + 1) for space in _BREAK_SPACES)
    if at > start:
        return _trim_end(text, at, start), at
    # A word longer than a part: cut it, but keep marks, joiners and selectors with their base.
    cut = end
    for _ in range(16):
        if cut <= start + 1:
            return end, end
        if not (_joins_previous(text[cut]) or text[cut - 1] == "\u200d"):
            return cut, cut
        cut -= 1
    return end, end


def _last_sentence_end(text: str, start: int, end: int) -> int:
    """The last sentence end in (start, end], or -1."""
    if not any(text.find(mark, start, end) >= 0 for mark in _SENTENCE_MARKS):
        return -1
    stop = min(len(text), end + 1)  # the space after a sentence may be the first char left out
    for lookup in (max(start, end - _TAIL), start):
        last = -1
        for m in _SENTENCE.finditer(text, lookup, stop):
            if start < m.end() <= end:
                last = m.end()
        if last > start or lookup == start:
            return last
    return -1


def _emit(
    pieces: list[str], texts: list[str], visible: str, ranges: list[tuple[int, int]]
) -> list[str]:
    """Write each range of the visible text as balanced Telegram HTML."""
    starts = [0, *accumulate(map(len, texts))]  # where text i begins in the visible text
    escaped = [html.escape(t, quote=False) for t in texts]
    stack: list[tuple[str, str]] = []  # open tags: (name, start tag as written)
    parts: list[str] = []
    done = 0  # tags before this index are applied to the stack

    def apply(index: int, out: list[str] | None) -> None:
        slash, name, attributes = pieces[4 * index + 1 : 4 * index + 4]
        name = name.lower()
        if not slash:
            if not attributes.rstrip().endswith("/"):  # Telegram has no void tags
                stack.append((name, f"<{name}{attributes}>"))
                if out is not None:
                    out.append(stack[-1][1])
            return
        depth = len(stack) - 1
        while depth >= 0 and stack[depth][0] != name:
            depth -= 1
        while depth >= 0 and len(stack) > depth:  # an unmatched end tag closes nothing
            closed = stack.pop()[0]
            if out is not None:
                out.append(f"</{closed}>")

    for low, high in ranges:
        first = bisect_right(starts, low) - 1  # the text holding visible[low]
        last = bisect_left(starts, high) - 1  # the text holding visible[high - 1]
        # Tags in the whitespace dropped at the cut are applied, not written: one opened
        # there is reopened below, one closed there has nothing left to close.
        for index in range(done, first):
            apply(index, None)
        out = [start_tag for _name, start_tag in stack]
        if first == last:
            out.append(html.escape(visible[low:high], quote=False))
        else:
            out.append(html.escape(visible[low : starts[first + 1]], quote=False))
            for index in range(first, last):
                apply(index, out)
                if index + 1 < last:
                    out.append(escaped[index + 1])
            out.append(html.escape(visible[starts[last] : high], quote=False))
        done = last
        out.extend(f"</{name}>" for name, _start_tag in reversed(stack))
        parts.append("".join(out))
    return parts


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
        self.stack: list[tuple[str, str | None]] = []  # (source tag, Telegram tag written)
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
        self.stack.append((tag, telegram))

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
            self.stack.append((tag, None))
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
            self.stack.append((tag, None))
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
            self.stack.append((tag, None))
        elif tag == "br":
            self._flush(False)
            self.out.append("\n")
            self.newlines += 1
            self.no_space = True
        elif tag == "tr":
            self._break(1)
            self.cells = 0
            self.stack.append((tag, None))
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
            self.stack.append((tag, None))

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
            source, telegram = self.stack.pop()
            if telegram is not None:
                self.out.append(f"</{telegram}>")
                self.open[telegram] -= 1
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
        while self.stack:
            _source, telegram = self.stack.pop()
            if telegram is not None:
                self.out.append(f"</{telegram}>")
        return "".join(self.out).strip()
