"""Telegram HTML split into messages (4096 characters) or captions (1024).

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
from itertools import accumulate

__all__ = [
    "TELEGRAM_TAGS",
    "split_telegram_html",
    "unsupported_tags",
    "utf16_len",
]

# Every tag Telegram's HTML parse mode accepts; anything else is refused with a 400.
TELEGRAM_TAGS = frozenset(
    {"a", "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler",
     "tg-emoji", "code", "pre", "blockquote"}
)  # fmt: skip

# A tag (quoted attribute values may hold ">"); a character reference; the rest is text.
_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)((?:[^>\"']+|\"[^\"]*\"|'[^']*')*)>")
_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6}|[A-Za-z][A-Za-z0-9]{0,31});")
_ATTRIBUTE = re.compile(r"""([^\s=/>"']+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?""")
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
    texts = [_decode(t) if "&" in t else t for t in pieces[::4]]
    visible = "".join(texts)
    ranges = _ranges(visible, limit)
    return _emit(pieces, texts, visible, ranges) if ranges else []


def _decode(text: str) -> str:
    """Text with its character references decoded (the four named ones without a regex)."""
    named = sum(text.count(e) for e in ("&lt;", "&gt;", "&quot;", "&amp;"))
    if named == text.count("&"):
        text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"')
        return text.replace("&amp;", "&")
    return _ENTITY.sub(_decode_entity, text)


def _decode_entity(m: re.Match[str]) -> str:
    return html.unescape(m.group())


def _start_tag(name: str, attributes: str) -> str:
    """A start tag as Telegram reads it strictly: every value quoted, escaped only as allowed."""
    if not attributes.strip():
        return f"<{name}>"
    written = []
    for m in _ATTRIBUTE.finditer(attributes):
        key, quoted, single, bare = m.groups()
        value = next((v for v in (quoted, single, bare) if v is not None), None)
        if value is None:
            written.append(f" {key.lower()}")
        else:
            value = _decode(value) if "&" in value else value
            written.append(f' {key.lower()}="{html.escape(value, quote=True)}"')
    return f"<{name}{''.join(written)}>"


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
    # Tag i follows text i: (is an end tag, name, the start tag as written or "" if void).
    tags = [
        (bool(slash), name, "" if attrs.rstrip().endswith("/") else _start_tag(name, attrs))
        for slash, name, attrs in zip(
            pieces[1::4], map(str.lower, pieces[2::4]), pieces[3::4], strict=True
        )
    ]
    stack: list[tuple[str, str]] = []  # open tags: (name, start tag as written)
    parts: list[str] = []
    done = 0  # tags before this index are applied to the stack

    def apply(index: int, out: list[str] | None) -> None:
        is_end, name, start_tag = tags[index]
        if not is_end:
            if start_tag:  # Telegram has no void tags: a self-closed one carries nothing
                stack.append((name, start_tag))
                if out is not None:
                    out.append(start_tag)
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
                is_end, name, start_tag = tags[index]
                if is_end and stack and stack[-1][0] == name:  # the usual case, inline
                    stack.pop()
                    out.append(f"</{name}>")
                elif not is_end and start_tag:
                    stack.append((name, start_tag))
                    out.append(start_tag)
                else:
                    apply(index, out)
                if index + 1 < last:
                    out.append(escaped[index + 1])
            out.append(html.escape(visible[starts[last] : high], quote=False))
        done = last
        out.extend(f"</{name}>" for name, _start_tag in reversed(stack))
        parts.append("".join(out))
    return parts
