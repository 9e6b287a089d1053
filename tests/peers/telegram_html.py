"""A strict parser for Telegram's HTML parse mode, modelled on TDLib's `parse_html`.

`parse(text)` returns what a Telegram client would show: the visible text (entities decoded,
leading and trailing whitespace trimmed, as Telegram does) and the message entities with their
offsets and lengths in UTF-16 code units. It raises `TelegramHTMLError` with Telegram's own
wording (byte offsets are of the UTF-8 text) for what Telegram refuses: tags outside its set,
unclosed or mis-nested tags, a bare ``<``, a ``<span>`` without class ``tg-spoiler``, a bad
custom emoji id.

With ``strict=True`` (the default) it also refuses what Telegram would silently show as literal
text, because a renderer producing it has a bug: a named entity other than ``&lt; &gt; &amp;
&quot;`` (``&nbsp;`` would be displayed as the six characters ``&nbsp;``), an entity without
its ``;``, an invalid numeric reference, and a bare ``&``. ``strict=False`` behaves as Telegram.

Standard library only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

__all__ = ["Entity", "TelegramHTMLError", "parse", "utf16_len"]

TAGS = frozenset(
    {
        "a",
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "span",
        "tg-spoiler",
        "tg-emoji",
        "pre",
        "code",
        "blockquote",
    }
)
_SIMPLE = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
}
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_SPACE = frozenset(" \t\n\r\v\f")
_TRIM = " \t\n\r\v\f"
_PLAIN = re.compile(r"[^<&]+")
_ENTITY = re.compile(r"&(?:#[xX]([0-9A-Fa-f]*)|#([0-9]*)|([A-Za-z]*))(;?)")
_NAME_TOKEN = re.compile(r"[A-Za-z0-9.\-]*")


class TelegramHTMLError(ValueError):
    """Text that Telegram's HTML parse mode refuses.

    `detail` is Telegram's own part ("Unsupported start tag "div" at byte offset 3"); the Bot
    API answers ``Bad Request: can't parse entities: <detail>``.
    """

    def __init__(self, detail: str) -> None:
        self.detail = detail
        super().__init__(f"Can't parse entities: {detail}")


@dataclass(frozen=True, slots=True)
class Entity:
    """One Bot API MessageEntity; `offset` and `length` count UTF-16 code units."""

    type: str
    offset: int
    length: int
    url: str | None = None
    language: str | None = None
    custom_emoji_id: str | None = None
    user_id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """The entity as the Bot API serialises it."""
        out: dict[str, Any] = {"offset": self.offset, "length": self.length, "type": self.type}
        if self.url is not None:
            out["url"] = self.url
        if self.language is not None:
            out["language"] = self.language
        if self.custom_emoji_id is not None:
            out["custom_emoji_id"] = self.custom_emoji_id
        if self.user_id is not None:
            out["user"] = {"id": self.user_id, "is_bot": False, "first_name": "User"}
        return out


def utf16_len(s: str) -> int:
    """Length of `s` in UTF-16 code units, the unit of Telegram's limits and offsets."""
    if s.isascii():
        return len(s)
    return len(s) + sum(1 for ch in s if ord(ch) > 0xFFFF)


@dataclass(slots=True)
class _Open:
    name: str
    argument: str
    offset: int  # UTF-16 offset in the output where the tag's content starts
    out_index: int  # index into the output chunk list where the content starts


def _byte_offset(text: str, pos: int) -> int:
    return len(text[:pos].encode("utf-8", "surrogatepass"))


def _decode_entity(text: str, pos: int, strict: bool) -> tuple[str | None, int]:
    """Decode the character reference at `text[pos] == "&"`: (character, end) or (None, pos)."""
    m = _ENTITY.match(text, pos)
    assert m is not None  # the pattern matches any "&"
    hex_digits, dec_digits, name, semicolon = m.groups()
    char: str | None = None
    if hex_digits is not None or dec_digits is not None:
        digits = hex_digits if hex_digits is not None else dec_digits
        if digits:
            code = int(digits, 16 if hex_digits is not None else 10)
            if 0 < code < 0x10FFFF and not 0xD800 <= code <= 0xDFFF:
                char = chr(code)
    elif name:
        char = _NAMED.get(name)
    if strict:
        where = _byte_offset(text, pos)
        if char is None:
            if name:
                raise TelegramHTMLError(
                    f'Unsupported HTML entity "&{name}{semicolon}" at byte offset {where} '
                    "(only &lt; &gt; &amp; &quot; and numeric references; write &amp; for &)"
                )
            if hex_digits is None and dec_digits is None:
                raise TelegramHTMLError(f'Bare "&" at byte offset {where} (write &amp;)')
            raise TelegramHTMLError(f"Invalid numeric character reference at byte offset {where}")
        if not semicolon:
            raise TelegramHTMLError(f'HTML entity without ";" at byte offset {where}')
    if char is None:
        return None, pos
    return char, m.end()


def parse(text: str, *, strict: bool = True) -> tuple[str, list[Entity]]:
    """Parse Telegram HTML: (visible text, entities sorted by offset) or `TelegramHTMLError`."""
    out: list[str] = []
    u16 = 0
    pos = 0
    n = len(text)
    stack: list[_Open] = []
    entities: list[Entity] = []

    def fail(detail: str) -> TelegramHTMLError:
        return TelegramHTMLError(detail)

    while pos < n:
        ch = text[pos]
        if ch == "&":
            decoded, end = _decode_entity(text, pos, strict)
            if decoded is not None:
                out.append(decoded)
                u16 += 2 if ord(decoded) > 0xFFFF else 1
                pos = end
                continue
            out.append("&")
            u16 += 1
            pos += 1
            continue
        if ch != "<":
            m = _PLAIN.match(text, pos)
            assert m is not None
            chunk = m.group()
            out.append(chunk)
            u16 += utf16_len(chunk)
            pos = m.end()
            continue

        begin = pos
        pos += 1
        if pos < n and text[pos] == "/":
            # An end tag.
            if not stack:
                raise fail(f"Unexpected end tag at byte offset {_byte_offset(text, begin)}")
            end = pos + 1
            while end < n and text[end] not in _SPACE and text[end] != ">":
                end += 1
            end_name = text[pos + 1 : end]
            while end < n and text[end] in _SPACE:
                end += 1
            if end >= n or text[end] != ">":
                raise fail(f"Unclosed end tag at byte offset {_byte_offset(text, begin)}")
            top = stack[-1]
            if end_name and end_name != top.name:
                raise fail(
                    f"Unmatched end tag at byte offset {_byte_offset(text, begin)}, "
                    f'expected "</{top.name}>", found "</{end_name}>"'
                )
            if u16 > top.offset:
                _close(top, u16, out, entities)
            stack.pop()
            pos = end + 1
            continue

        # A start tag.
        end = pos
        while end < n and text[end] not in _SPACE and text[end] != ">":
            end += 1
        if end >= n:
            raise fail(f"Unclosed start tag at byte offset {_byte_offset(text, begin)}")
        name = text[pos:end].lower()
        if name not in TAGS:
            raise fail(f'Unsupported start tag "{name}" at byte offset {_byte_offset(text, begin)}')
        pos = end
        argument = ""
        while True:
            while pos < n and text[pos] in _SPACE:
                pos += 1
            if pos >= n:
                raise fail(
                    f'Unclosed start tag "{name}" at byte offset {_byte_offset(text, begin)}'
                )
            if text[pos] == ">":
                break
            attr_begin = pos
            while pos < n and text[pos] not in _SPACE and text[pos] not in "=>":
                pos += 1
            attr = text[attr_begin:pos].lower()
            if not attr:
                raise fail(
                    f'Empty attribute name in the tag "{name}" at byte offset '
                    f"{_byte_offset(text, begin)}"
                )
            while pos < n and text[pos] in _SPACE:
                pos += 1
            if pos >= n:
                raise fail(
                    f'Unclosed start tag "{name}" at byte offset {_byte_offset(text, begin)}'
                )
            if text[pos] != "=":
                if name == "blockquote" and attr == "expandable":
                    argument = "1"
                continue
            pos += 1
            while pos < n and text[pos] in _SPACE:
                pos += 1
            if pos >= n:
                raise fail(
                    f'Unclosed start tag "{name}" at byte offset {_byte_offset(text, begin)}'
                )
            if text[pos] not in "\"'":
                # An unquoted name token: letters, digits, periods, hyphens; not case-sensitive.
                m = _NAME_TOKEN.match(text, pos)
                assert m is not None
                value = m.group().lower()
                token_begin = pos
                pos = m.end()
                if pos < n and text[pos] not in _SPACE and text[pos] != ">":
                    raise fail(
                        f"Unexpected end of name token at byte offset "
                        f"{_byte_offset(text, token_begin)}"
                    )
            else:
                quote = text[pos]
                pos += 1
                parts: list[str] = []
                while pos < n and text[pos] != quote:
                    if text[pos] == "&":
                        decoded, after = _decode_entity(text, pos, strict)
                        if decoded is not None:
                            parts.append(decoded)
                            pos = after
                            continue
                    parts.append(text[pos])
                    pos += 1
                if pos < n:
                    pos += 1
                value = "".join(parts)
            if pos >= n:
                raise fail(f"Unclosed start tag at byte offset {_byte_offset(text, begin)}")
            if name == "a" and attr == "href":
                argument = value
            elif name == "code" and attr == "class" and value.startswith("language-"):
                argument = value[len("language-") :]
            elif name == "span" and attr == "class" and value.startswith("tg-"):
                argument = value[len("tg-") :]
            elif name == "tg-emoji" and attr == "emoji-id":
                argument = value
            elif name == "blockquote" and attr == "expandable":
                argument = "1"
        if name == "span" and argument != "spoiler":
            raise fail(
                f'Tag "span" must have class "tg-spoiler" at byte offset '
                f"{_byte_offset(text, begin)}"
            )
        stack.append(_Open(name, argument, u16, len(out)))
        pos += 1  # the ">"

    if stack:
        raise fail(f'Can\'t find end tag corresponding to start tag "{stack[-1].name}"')

    visible = "".join(out)
    return _trim(visible, u16, entities)


def _close(top: _Open, u16: int, out: list[str], entities: list[Entity]) -> None:
    """Turn the closed tag `top` into an entity spanning [top.offset, u16)."""
    offset, length, name = top.offset, u16 - top.offset, top.name
    simple = _SIMPLE.get(name)
    if simple is not None:
        entities.append(Entity(simple, offset, length))
    elif name == "a":
        url = top.argument or "".join(out[top.out_index :])
        m = re.fullmatch(r"tg://user\?id=(\d+)", url)
        if m:
            entities.append(Entity("text_mention", offset, length, user_id=int(m.group(1))))
        else:
            entities.append(Entity("text_link", offset, length, url=url))
    elif name == "pre":
        last = entities[-1] if entities else None
        if (
            last is not None
            and last.type == "code"
            and last.offset == offset
            and last.length == length
            and last.language
        ):
            entities[-1] = Entity("pre", offset, length, language=last.language)
        else:
            entities.append(Entity("pre", offset, length))
    elif name == "code":
        last = entities[-1] if entities else None
        if (
            last is not None
            and last.type == "pre"
            and last.offset == offset
            and last.length == length
            and top.argument
        ):
            entities[-1] = Entity("pre", offset, length, language=top.argument)
        else:
            entities.append(Entity("code", offset, length, language=top.argument or None))
    elif name == "tg-emoji":
        if not top.argument.isdigit() or int(top.argument) == 0:
            raise TelegramHTMLError("Invalid custom emoji identifier specified")
        entities.append(Entity("custom_emoji", offset, length, custom_emoji_id=top.argument))
    elif name == "blockquote":
        kind = "expandable_blockquote" if top.argument else "blockquote"
        entities.append(Entity(kind, offset, length))


def _trim(visible: str, u16: int, entities: list[Entity]) -> tuple[str, list[Entity]]:
    """Trim leading/trailing whitespace as Telegram does, clipping entities to what is left."""
    stripped = visible.strip(_TRIM)
    if stripped == visible:
        entities = [_public(e) for e in entities]
        entities.sort(key=lambda e: (e.offset, -e.length))
        return visible, entities
    left = utf16_len(visible[: len(visible) - len(visible.lstrip(_TRIM))])
    right_edge = left + utf16_len(stripped)
    kept: list[Entity] = []
    for e in entities:
        start = max(e.offset, left)
        end = min(e.offset + e.length, right_edge)
        if end > start:
            e = _public(e)
            kept.append(
                Entity(
                    e.type,
                    start - left,
                    end - start,
                    e.url,
                    e.language,
                    e.custom_emoji_id,
                    e.user_id,
                )
            )
    kept.sort(key=lambda e: (e.offset, -e.length))
    return stripped, kept


def _public(e: Entity) -> Entity:
    """A code entity's language is internal (it marks `<pre><code class=...>`): drop it."""
    if e.type == "code" and e.language is not None:
        return Entity("code", e.offset, e.length)
    return e
