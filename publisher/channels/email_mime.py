"""An email's headers and per-send parts: what rendering and sending an email both need.

`EmailChannel.render` writes From and Subject with `header_text`/`mailbox`, the whole message
with `assemble` (the headers every email carries: List-Unsubscribe and its one-click POST,
List-Id, MIME-Version, Content-Language), and leaves placeholders for the per-send parts: To,
Date, Message-ID, the unsubscribe URL and the preferences URL. The senders fill them with
`personalize` by byte substitution, which costs microseconds where building a message costs
milliseconds. Headers are written here by hand, not by the stdlib folder: Python 3.11's drops
the space where it folds between two encoded words, gluing words of a Subject or a name together.
"""

from __future__ import annotations

import binascii
import hashlib
import html
import re
from base64 import b64encode
from email.utils import formataddr, getaddresses, parseaddr, parsedate_tz
from functools import lru_cache

PLACEHOLDER_TO = "recipient@placeholder.invalid"


#: What stands for the per-recipient token in the unsubscribe and preferences URLs of a rendered
#: message: `{PUBLIC_URL}/unsubscribe/{UNSUBSCRIBE_TOKEN}`, `{PUBLIC_URL}/preferences/{...}`.
UNSUBSCRIBE_TOKEN = "PUBLISHER-UNSUBSCRIBE-TOKEN"


PREFERENCES_TOKEN = "PUBLISHER-PREFERENCES-TOKEN"


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


def unsubscribe_placeholder(public_url: str) -> str:
    """The unsubscribe URL that stands in a rendered message until personalize fills it."""
    return f"{public_url.rstrip('/')}/unsubscribe/{UNSUBSCRIBE_TOKEN}"


def preferences_placeholder(public_url: str) -> str:
    """The preferences URL that stands in a rendered message until personalize fills it."""
    return f"{public_url.rstrip('/')}/preferences/{PREFERENCES_TOKEN}"


def mail_domain(mail_from: str) -> str:
    """MAIL_FROM's domain in ASCII (IDNA): where Message-IDs, List-Id and DKIM live."""
    domain = (parseaddr(mail_from)[1] or mail_from).rpartition("@")[2].strip().rstrip(".")
    if not domain:
        return "localhost"
    try:
        return domain.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return "localhost"


def list_id(description: str, label: str, mail_from: str) -> str:
    """A List-Id value (RFC 2919): `"Press Office releases" <releases.press.example.org>`.

    `label` names the list ("releases", "briefing") under MAIL_FROM's domain; the description
    is quoted, or RFC 2047 encoded when it is not plain ASCII.
    """
    identifier = f"<{label}.{mail_domain(mail_from)}>"
    text = " ".join(CONTROL_CHARS.sub(" ", description).split())
    if not text:
        return identifier
    if _plain_ascii(text) and len(text) < 200:
        quoted = text.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{quoted}" {identifier}'
    words = encoded_words(text, len("List-Id: "))
    return f"{words}{CRLF_SP}{identifier}"


def assemble(
    *,
    mail_from: str,
    subject: str,
    language: str,
    list_id_value: str,
    public_url: str,
    text_qp: str,
    html_qp: str,
) -> str:
    """The finished multipart/alternative message with placeholders for every per-send part.

    `text_qp` and `html_qp` are the quoted-printable parts (LF line ends), each unsubscribe and
    preferences URL alone between soft line breaks (`qp_encode` of email.py). Raises ValueError
    when MAIL_FROM is not one usable address.
    """
    # Written out, not by the stdlib generator: it parses every header again on the way (most
    # of a release's rendering time); tests/channels/test_email_headers.py holds the two equal.
    digest = hashlib.sha256((text_qp + html_qp).encode()).hexdigest()[:32]
    boundary = f"=_publisher_{digest}"  # "=_" never occurs in quoted-printable text
    headers = [
        ("From", mailbox(mail_from, "From")),
        ("To", PLACEHOLDER_TO),
        ("Subject", header_text(subject, "Subject")),
        ("Date", PLACEHOLDER_DATE),
        ("Message-ID", PLACEHOLDER_MESSAGE_ID),
        ("MIME-Version", "1.0"),
        ("Content-Language", language),
        ("List-Id", list_id_value),
        ("List-Unsubscribe", f"<{unsubscribe_placeholder(public_url)}>"),
        ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
        ("Content-Type", f'multipart/alternative; boundary="{boundary}"'),
    ]
    head = "".join(f"{name}: {CRLF.join(value.splitlines())}{CRLF}" for name, value in headers)
    parts = "".join(
        f'--{boundary}{CRLF}Content-Type: text/{subtype}; charset="utf-8"{CRLF}'
        f"Content-Transfer-Encoding: quoted-printable{CRLF}{CRLF}{payload}{CRLF}"
        for subtype, payload in (
            ("plain", text_qp.replace("\n", CRLF)),
            ("html", html_qp.replace("\n", CRLF)),
        )
    )
    return f"{head}{CRLF}{parts}--{boundary}--{CRLF}"


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
    mime: bytes | str,
    *,
    to: str,
    unsubscribe_url: str,
    message_id: str,
    date: str,
    preferences_url: str | None = None,
) -> bytes:
    """The rendered message for one recipient: real To, Date, Message-ID, unsubscribe URL and
    preferences URL (needed when the message links to the preferences page).

    Raises ValueError when a value would break the message (line breaks, a malformed address,
    a non-http(s) URL), when a message with a preferences link gets no `preferences_url`, or
    when `mime` did not come from EmailChannel.render.
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
    prefs_text, prefs_html = _placeholder_markers(_preferences_for(placeholder))
    if prefs_text in body or prefs_html in body:
        if preferences_url is None:
            raise ValueError("this email links to the preferences page: give preferences_url")
        if not _SAFE_URL.fullmatch(preferences_url):
            raise ValueError(
                f"preferences URL: not http(s), not ASCII or too long: {preferences_url!r}"
            )
        body = body.replace(prefs_text, _qp_marker(preferences_url))
        body = body.replace(prefs_html, _qp_marker(html.escape(preferences_url)))
    return head[2:] + body


@lru_cache(maxsize=16)
def _preferences_for(unsubscribe: str) -> str:
    """The preferences placeholder of the message whose unsubscribe placeholder this is."""
    return unsubscribe.replace(
        f"/unsubscribe/{UNSUBSCRIBE_TOKEN}", f"/preferences/{PREFERENCES_TOKEN}"
    )


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
