"""An email's headers and per-send parts: what rendering and sending an email both need.

`EmailChannel.render` writes From and Subject with `header_text`/`mailbox` and leaves
placeholders for the per-send parts; the senders fill them with `personalize` by byte
substitution, which costs microseconds where building a message costs milliseconds. Headers are
written here by hand, not by the stdlib folder: Python 3.11's drops the space where it folds
between two encoded words, gluing words of a Subject or a name together.
"""

from __future__ import annotations

import binascii
import html
import re
from base64 import b64encode
from email.utils import formataddr, getaddresses, parseaddr, parsedate_tz
from functools import lru_cache

PLACEHOLDER_TO = "recipient@placeholder.invalid"


PLACEHOLDER_MESSAGE_ID = "<placeholder@publisher.invalid>"


PLACEHOLDER_DATE = "Thu, 01 Jan 1970 00:00:00 +0000"


# Headers are written by hand, not by the stdlib folder: Python 3.11's drops the space where it
# folds between two encoded words, gluing words of a Subject or a name together.
CRLF, CRLF_SP = "\r\n", "\r\n "


HEADER_LINE = 78  # RFC 5322: lines should be at most 78 characters...


LINE_MAX = 998  # ...and must be at most 998


EW_LINE = 76  # RFC 2047: a line holding encoded words; an encoded word is at most 75


EW_OCTETS = 45  # UTF-8 octets in one encoded word on its own line: " =?utf-8?b?(60)?=" is 73


QP_LINE = 75  # encoded characters before a soft break's "=" (RFC 2045: lines <= 76)


CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


_SAFE_URL = re.compile(r"https?://[!-;=?-~]{1,880}")  # printable ASCII but < and >


_ADDR_CHARS = re.compile(r"[^\s<>()\[\]\\,;:@\"]+@[^\s<>()\[\]\\,;:@\"]+")


_MESSAGE_ID = re.compile(r"<?([!-;=?-~]+@[!-;=?-~]+)>?")


_UNSUBSCRIBE_HEADER = re.compile(rb"\r\nList-Unsubscribe: <([!-;=?-~]+)>\r\n")


def cut_before(encoded: str, cut: int) -> int:
    """`cut`, moved back so as not to split an "=XX" escape."""
    return cut - (1 if encoded[cut - 1] == "=" else 2 if encoded[cut - 2] == "=" else 0)


def qp_lines(value: str) -> str:
    """A short text quoted-printable encoded and cut into soft-broken lines (no "=XX" split)."""
    encoded = binascii.b2a_qp(value.encode(), istext=False).decode("ascii").replace("=\n", "")
    lines: list[str] = []
    start = 0
    while len(encoded) - start > QP_LINE:
        cut = cut_before(encoded, start + QP_LINE)
        lines.append(encoded[start:cut])
        start = cut
    lines.append(encoded[start:])
    return "=\n".join(lines)


def personalize(
    mime: bytes | str, *, to: str, unsubscribe_url: str, message_id: str, date: str
) -> bytes:
    """The rendered message for one recipient: real To, Date, Message-ID and unsubscribe URL.

    Raises ValueError when a value would break the message (line breaks, a malformed address,
    a non-http(s) URL) or when `mime` did not come from EmailChannel.render.
    """
    raw = mime.encode("ascii") if isinstance(mime, str) else mime
    split = raw.find(b"\r\n\r\n")
    if split < 0:
        raise ValueError("not a rendered email: no end of headers")
    head, body = b"\r\n" + raw[: split + 2], raw[split + 2 :]
    if not _SAFE_URL.fullmatch(unsubscribe_url):
        raise ValueError(
            f"unsubscribe URL: not http(s), not ASCII or too long: {unsubscribe_url!r}"
        )
    found = _UNSUBSCRIBE_HEADER.search(head)
    if found is None:
        raise ValueError("not a rendered email: no List-Unsubscribe placeholder")
    placeholder = found.group(1).decode("ascii")
    head = _swap(head, "To", PLACEHOLDER_TO, mailbox(to, "To"))
    head = _swap(head, "Date", PLACEHOLDER_DATE, _date(date))
    head = _swap(head, "Message-ID", PLACEHOLDER_MESSAGE_ID, _message_id(message_id))
    head = _swap(head, "List-Unsubscribe", f"<{placeholder}>", f"<{unsubscribe_url}>")
    text_marker, html_marker = _placeholder_markers(placeholder)
    body = body.replace(text_marker, _qp_marker(unsubscribe_url))
    body = body.replace(html_marker, _qp_marker(html.escape(unsubscribe_url)))
    return head[2:] + body


@lru_cache(maxsize=16)
def _placeholder_markers(placeholder: str) -> tuple[bytes, bytes]:
    """How the placeholder URL stands in the encoded text and HTML parts (same for every send)."""
    return _qp_marker(placeholder), _qp_marker(html.escape(placeholder))


def _qp_marker(value: str) -> bytes:
    return f"=\n{qp_lines(value)}=\n".replace("\n", "\r\n").encode("ascii")


def _swap(head: bytes, name: str, old: str, new: str) -> bytes:
    line = f"\r\n{name}: {old}\r\n".encode()
    if line not in head:
        raise ValueError(f"not a rendered email: no {name} placeholder")
    return head.replace(line, f"\r\n{name}: {new}\r\n".encode(), 1)


def mailbox(value: str, header: str) -> str:
    """A From or To field: the address, and the display name folded or RFC 2047 encoded.

    Raises ValueError when `value` is not exactly one usable address.
    """
    if CONTROL_CHARS.search(value):
        raise ValueError(f"{header}: contains a control character: {value!r}")
    if "," in value and len(getaddresses([value])) != 1:
        raise ValueError(f"{header}: one address per message, not {value!r}")
    if "<" in value or " " in value.strip():
        name, addr = parseaddr(value)
    else:
        name, addr = "", value.strip()
    if not _ADDR_CHARS.fullmatch(addr):
        raise ValueError(f"{header}: not an email address: {value!r}")
    if not addr.isascii():
        local, domain = addr.rsplit("@", 1)
        if not local.isascii():
            raise ValueError(f"a non-ASCII mailbox needs SMTPUTF8, not supported: {addr!r}")
        addr = f"{local}@{domain.encode('idna').decode('ascii')}"
    name = " ".join(name.split())
    if not name:
        return addr
    offset = len(header) + 2
    if _plain_ascii(name):
        folded = fold_at_spaces(formataddr((name, addr)), offset)
        if folded is not None:
            return folded
    words = encoded_words(name, offset)
    last_line = f"{header}: {words}".rpartition("\n")[2]
    # RFC 2047 keeps a line holding encoded words within 76 characters: fold before the address
    gap = " " if len(last_line) + len(addr) + 3 <= EW_LINE else CRLF_SP
    return f"{words}{gap}<{addr}>"


def header_text(text: str, header: str) -> str:
    """An unstructured header value (Subject): ASCII folded at its spaces, else RFC 2047 words."""
    offset = len(header) + 2
    if _plain_ascii(text):
        folded = fold_at_spaces(text, offset)
        if folded is not None:
            return folded
    return encoded_words(text, offset)


def _plain_ascii(text: str) -> bool:
    # ASCII that looks like an encoded word would be decoded by the reader: encode it instead
    return text.isascii() and "=?" not in text


def fold_at_spaces(text: str, offset: int) -> str | None:
    """Single-spaced ASCII folded before its spaces into lines of at most 78 characters.

    `offset` is the room the header name takes on the first line. None when a word does not fit
    a line of 998 octets (RFC 5322), so the text must be encoded instead.
    """
    first, *rest = text.split(" ")
    lines = [first]
    for word in rest:
        room = HEADER_LINE - (offset if len(lines) == 1 else 0)
        if len(lines[-1]) + 1 + len(word) <= room:
            lines[-1] += " " + word
        else:
            lines.append(" " + word)
    if offset + len(lines[0]) > LINE_MAX or any(len(line) > LINE_MAX for line in lines):
        return None
    return CRLF.join(lines)


def encoded_words(text: str, offset: int) -> str:
    """RFC 2047 base64 words of whole characters, one a line, each line within 76 characters.

    `offset` is the room the header name takes on the first line. Readers ignore the fold
    between two encoded words (RFC 2047 6.2), so every space stays inside a word; a word ends
    after a space where it can, so that no word of the text is split either.
    """
    budget = (EW_LINE - offset - len("=?utf-8?b??=")) // 4 * 3
    words: list[str] = []
    chunk = ""
    size = 0
    for char in text:
        octets = len(char.encode())
        if size + octets > budget:
            cut = chunk.rfind(" ", 1) + 1
            if not cut or len(chunk[cut:].encode()) + octets > EW_OCTETS:
                cut = len(chunk)
            words.append(chunk[:cut])
            chunk = chunk[cut:]
            size = len(chunk.encode())
            budget = EW_OCTETS
        chunk += char
        size += octets
    words.append(chunk)
    return CRLF_SP.join(f"=?utf-8?b?{b64encode(w.encode()).decode()}?=" for w in words)


def _date(date: str) -> str:
    if CONTROL_CHARS.search(date) or not date.isascii() or parsedate_tz(date) is None:
        raise ValueError(f"not an RFC 5322 date: {date!r}")
    return date.strip()


def _message_id(message_id: str) -> str:
    found = _MESSAGE_ID.fullmatch(message_id.strip())
    if found is None:
        raise ValueError(f"not a Message-ID: {message_id!r}")
    return f"<{found.group(1)}>"
