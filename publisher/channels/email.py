"""The email channel: a release as one finished RFC 5322 message, personalised per journalist.

`render` builds the whole multipart/alternative message once, with placeholders for the
per-send parts (To, Date, Message-ID, the unsubscribe URL); `personalize` fills them by byte
substitution, which costs microseconds where building a message costs milliseconds.

Both parts are quoted-printable (7-bit safe, lines of at most 76 octets). Each occurrence of the
unsubscribe URL sits alone between soft line breaks (`=` CRLF), so replacing it with the real URL,
itself encoded and wrapped, leaves a valid body. Headers holding placeholders are written raw on
one line of their own.

Templates (`email/subject.txt`, `email/body.txt`, `email/body.html`) get: release, subject, title,
date_text, lede, body_text, body_html, images [{url, alt, caption}], links [{title, url}],
source, page_url, unsubscribe_url, organisation, labels, lang, dir, truncated.
"""

from __future__ import annotations

import binascii
import hashlib
import html
import re
from base64 import b64encode
from email import policy
from email.message import EmailMessage
from email.utils import formataddr, getaddresses, parseaddr, parsedate_tz
from functools import lru_cache
from typing import Any
from urllib.parse import urljoin

import css_inline
from markupsafe import Markup

from publisher.channels.base import Channel
from publisher.errors import RenderError
from publisher.release import Release
from publisher.render import (
    BLOCK_TAGS,
    BodyParts,
    RenderContext,
    format_release_date,
    html_to_text,
)
from publisher.settings import get_settings

PLACEHOLDER_TO = "recipient@placeholder.invalid"
PLACEHOLDER_MESSAGE_ID = "<placeholder@publisher.invalid>"
PLACEHOLDER_DATE = "Thu, 01 Jan 1970 00:00:00 +0000"
UNSUBSCRIBE_TOKEN = "PUBLISHER-UNSUBSCRIBE-TOKEN"

# Gmail clips an HTML part over ~102 KB; keep the encoded part (CRLF included) under this,
# leaving room for the real unsubscribe URL that personalize puts in.
HTML_MAX_BYTES = 100_000
QP_LINE = 75  # encoded characters before a soft break's "=" (RFC 2045: lines <= 76)
CUT = "<!--publisher-cut-->"  # between top-level body blocks; nh3 strips comments from bodies
_PAYLOAD = "=_publisher_payload_"  # stands for a finished part body while the generator runs

# refold_source="none" keeps raw headers (set_raw) as written: the stdlib would otherwise
# RFC 2047-encode a long List-Unsubscribe URL to fold it, which breaks it.
MIME_POLICY = policy.SMTP.clone(refold_source="none")

LABELS: dict[str, dict[str, str]] = {
    "en": {
        "read_full": "Read the full release",
        "web": "Read this release on the web",
        "links": "Links",
        "source": "Source",
        "image": "Image",
        "unsubscribe": "Unsubscribe",
        "why": "You receive this email because you subscribed to releases from {organisation}.",
    },
    "ar": {
        "read_full": "اقرأ البيان كاملاً",
        "web": "اقرأ هذا البيان على الموقع",
        "links": "روابط",
        "source": "المصدر",
        "image": "صورة",
        "unsubscribe": "إلغاء الاشتراك",
        "why": "تصلك هذه الرسالة لأنك مشترك في بيانات {organisation}.",
    },
}

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_TAG = re.compile(r"""<(/?)([a-zA-Z][a-zA-Z0-9]*)(?:[^>"']|"[^"]*"|'[^']*')*>""")
_URL_ATTR = re.compile(r"""(<(?:a|img)\b[^>]*?\s(?:href|src)=")([^"]*)(")""")
_VOID = {"area", "br", "col", "embed", "hr", "img", "input", "source", "track", "wbr"}
_SAFE_URL = re.compile(r"https?://[!-;=?-~]{1,880}")  # printable ASCII but < and >
_ADDR_CHARS = re.compile(r"[^\s<>()\[\]\\,;:@\"]+@[^\s<>()\[\]\\,;:@\"]+")
_MESSAGE_ID = re.compile(r"<?([!-;=?-~]+@[!-;=?-~]+)>?")
_UNSUBSCRIBE_HEADER = re.compile(rb"\r\nList-Unsubscribe: <([!-;=?-~]+)>\r\n")

_INLINER = css_inline.CSSInliner(load_remote_stylesheets=False)


class EmailChannel(Channel):
    """Journalists' email: subject, plain text, inlined HTML and the finished MIME message."""

    name = "email"
    max_text = 0  # no limit on the text; the HTML part is cut at HTML_MAX_BYTES instead
    max_html_bytes = HTML_MAX_BYTES

    @classmethod
    def render(cls, release: Release, body: BodyParts, ctx: RenderContext) -> dict[str, Any]:
        """The email payload: subject, text, html and mime (with per-send placeholders)."""
        unsubscribe = unsubscribe_placeholder(ctx.public_url)
        body_html = _absolute_urls(body.html, release, ctx)
        if body_html != body.html:  # the text part shows link URLs too: show the absolute ones
            body = BodyParts(html=body_html, text=html_to_text(body_html))
        view = _view(release, body, ctx, unsubscribe)
        subject = one_line(ctx.templates.render_text("email/subject.txt", **view))
        if not subject:
            raise RenderError("email", "the subject is empty", "email/subject.txt")
        text = ctx.templates.render_text("email/body.txt", **view).strip() + "\n"
        html_marker = html.escape(unsubscribe)
        page_html, html_qp, truncated = _html_part(ctx, view, body_html, html_marker)
        for part, marker, ext in ((text, unsubscribe, "txt"), (page_html, html_marker, "html")):
            # personalize only finds the URL as rendered here; an altered copy would leak
            leaked = part.count(UNSUBSCRIBE_TOKEN) + part.count(UNSUBSCRIBE_TOKEN.lower())
            if leaked != part.count(marker):
                message = "the unsubscribe URL is altered; use {{ unsubscribe_url }} as it is"
                raise RenderError("email", message, f"email/body.{ext}")
        text_qp = qp_encode(text, unsubscribe)
        mime = _mime(release, subject, unsubscribe, text_qp, html_qp)
        return {
            "subject": subject,
            "text": text,
            "html": page_html,
            "mime": mime,
            "html_truncated": truncated,
        }


def unsubscribe_placeholder(public_url: str) -> str:
    """The unsubscribe URL that stands in a rendered message until personalize fills it."""
    return f"{public_url.rstrip('/')}/unsubscribe/{UNSUBSCRIBE_TOKEN}"


def one_line(text: str) -> str:
    """Text fit for one header: control characters and line breaks become single spaces."""
    return " ".join(_CONTROL.sub(" ", text).split())


def _view(
    release: Release, body: BodyParts, ctx: RenderContext, unsubscribe: str
) -> dict[str, Any]:
    labels = dict(LABELS.get(release.language.split("-")[0].lower(), LABELS["en"]))
    labels["why"] = labels["why"].format(organisation=ctx.organisation)
    subject = release.override("email", "subject") or release.title
    return {
        "release": release,
        "subject": one_line(str(subject)),
        "title": release.title,
        "date_text": format_release_date(release.date, release.language),
        "lede": release.summary,
        "body_text": body.text,
        "images": [
            {"url": ctx.image_url(release, i.src), "alt": i.alt, "caption": i.caption}
            for i in release.images
        ],
        "links": [{"title": link.title, "url": link.url} for link in release.links],
        "source": release.source,
        "page_url": ctx.page_url(release),
        "unsubscribe_url": unsubscribe,
        "organisation": ctx.organisation,
        "labels": labels,
        "lang": release.language,
        "dir": release.direction,
    }


def _absolute_urls(safe_html: str, release: Release, ctx: RenderContext) -> str:
    """Relative image and link URLs in the body point under PUBLIC_URL (a mail has no base)."""
    page = ctx.page_url(release)

    def absolute(match: re.Match[str]) -> str:
        url = html.unescape(match.group(2))
        if url.startswith(("http://", "https://", "mailto:")):
            return match.group(0)
        if match.group(1).startswith("<img"):
            url = ctx.image_url(release, url)
        else:
            url = urljoin(page, url)
        return match.group(1) + html.escape(url) + match.group(3)

    return _URL_ATTR.sub(absolute, safe_html)


def _html_part(
    ctx: RenderContext, view: dict[str, Any], body_html: str, marker: str
) -> tuple[str, str, bool]:
    """The inlined HTML and its encoding; cut at a block boundary when over HTML_MAX_BYTES."""
    # Inlining and encoding only add octets, so a body longer than the limit never fits whole,
    # and no block that ends past the limit can be kept.
    if len(body_html) <= HTML_MAX_BYTES:
        full = _inline(ctx, view, body_html, truncated=False)
        encoded = qp_encode(full, marker)
        if wire_size(encoded) <= HTML_MAX_BYTES:
            return full, encoded, False
    blocks = top_level_blocks(body_html, limit=HTML_MAX_BYTES)
    marked = _inline(ctx, view, CUT + "".join(b + CUT for b in blocks), truncated=True)
    pieces = marked.split(CUT)
    if len(pieces) != len(blocks) + 2:  # an overriding template dropped the body: cannot cut
        full = _inline(ctx, view, body_html, truncated=False)
        return full, qp_encode(full, marker), False
    head, parts, tail = pieces[0], pieces[1:-1], pieces[-1]
    budget = HTML_MAX_BYTES - _estimate(head) - _estimate(tail)
    keep = 0
    for part in parts:
        budget -= _estimate(part)
        if budget < 0:
            break
        keep += 1
    while True:  # the estimate is close; check the real encoding and step back if needed
        page_html = head + "".join(parts[:keep]) + tail
        encoded = qp_encode(page_html, marker)
        if wire_size(encoded) <= HTML_MAX_BYTES or keep == 0:
            return page_html, encoded, True
        keep -= 1


def _inline(ctx: RenderContext, view: dict[str, Any], body_html: str, truncated: bool) -> str:
    document = ctx.templates.render_html(
        "email/body.html", **view, body_html=Markup(body_html), truncated=truncated
    )
    try:
        return str(_INLINER.inline(document))
    except css_inline.InlineError as exc:
        raise RenderError("email", f"cannot inline the CSS: {exc}", "email/body.html") from exc


def _estimate(piece: str) -> int:
    return wire_size(binascii.b2a_qp(piece.encode(), istext=True).decode("ascii"))


def top_level_blocks(safe_html: str, limit: int | None = None) -> list[str]:
    """Sanitised HTML split between its top-level block elements (each piece balanced).

    With `limit`, only the blocks that end within the first `limit` characters.
    """
    blocks: list[str] = []
    depth = 0
    start = 0
    scanned = safe_html if limit is None else safe_html[:limit]
    for match in _TAG.finditer(scanned):
        closing, tag = match.group(1), match.group(2).lower()
        if tag in _VOID:
            ended = depth == 0 and tag in BLOCK_TAGS
        elif closing:
            depth = max(depth - 1, 0)
            ended = depth == 0 and tag in BLOCK_TAGS
        else:
            depth += 1
            ended = False
        if ended:
            blocks.append(safe_html[start : match.end()])
            start = match.end()
    if len(scanned) < len(safe_html):
        return blocks
    rest = safe_html[start:]
    if rest.strip() or not blocks:
        blocks.append(rest)
    elif rest:
        blocks[-1] += rest
    return blocks


def wire_size(encoded: str) -> int:
    """Octets of an LF-separated encoded body once sent with CRLF line ends."""
    return len(encoded) + encoded.count("\n")


def qp_encode(text: str, marker: str) -> str:
    """Quoted-printable (LF line ends) with every `marker` alone between soft line breaks."""
    # MIME text has no bare CR; lines end in CRLF once the generator writes the message.
    pieces = text.replace("\r\n", "\n").replace("\r", "\n").split(marker)
    marker_lines = _qp_lines(marker)
    out: list[str] = []
    for index, piece in enumerate(pieces):
        encoded = binascii.b2a_qp(piece.encode(), istext=True).decode("ascii")
        if index < len(pieces) - 1:
            out.append(_with_room_for_soft_break(encoded))
            out.append(f"=\n{marker_lines}=\n")
        else:
            out.append(encoded)
    return "".join(out)


def _with_room_for_soft_break(encoded: str) -> str:
    """Wrap the last line so a trailing "=" keeps it within 76 octets."""
    line_start = encoded.rfind("\n") + 1
    if len(encoded) - line_start <= QP_LINE:
        return encoded
    cut = _cut_before(encoded, line_start + QP_LINE)
    return encoded[:cut] + "=\n" + encoded[cut:]


def _cut_before(encoded: str, cut: int) -> int:
    """`cut`, moved back so as not to split an "=XX" escape."""
    return cut - (1 if encoded[cut - 1] == "=" else 2 if encoded[cut - 2] == "=" else 0)


def _qp_lines(value: str) -> str:
    """A short text quoted-printable encoded and cut into soft-broken lines (no "=XX" split)."""
    encoded = binascii.b2a_qp(value.encode(), istext=False).decode("ascii").replace("=\n", "")
    lines: list[str] = []
    start = 0
    while len(encoded) - start > QP_LINE:
        cut = _cut_before(encoded, start + QP_LINE)
        lines.append(encoded[start:cut])
        start = cut
    lines.append(encoded[start:])
    return "=\n".join(lines)


def _mime(release: Release, subject: str, unsubscribe: str, text_qp: str, html_qp: str) -> str:
    msg = EmailMessage(policy=MIME_POLICY)
    msg["From"] = get_settings().mail_from
    msg.set_raw("To", PLACEHOLDER_TO)
    msg["Subject"] = subject
    msg.set_raw("Date", PLACEHOLDER_DATE)
    msg.set_raw("Message-ID", PLACEHOLDER_MESSAGE_ID)
    msg.set_raw("MIME-Version", "1.0")
    msg.set_raw("Content-Language", release.language)
    msg.set_raw("List-Unsubscribe", f"<{unsubscribe}>")
    msg.set_raw("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")
    # "=_" never occurs in quoted-printable text, so this boundary cannot collide with a part.
    digest = hashlib.sha256((text_qp + html_qp).encode()).hexdigest()[:32]
    msg.set_raw("Content-Type", f'multipart/alternative; boundary="=_publisher_{digest}"')
    for subtype in ("plain", "html"):
        part = EmailMessage(policy=MIME_POLICY)
        part.set_raw("Content-Type", f'text/{subtype}; charset="utf-8"')
        part.set_raw("Content-Transfer-Encoding", "quoted-printable")
        part.set_payload(f"{_PAYLOAD}{subtype}")
        msg.attach(part)
    # The generator writes a body line by line (~10 ms for 300 KB); the encoded payloads are
    # finished, so they go in afterwards, after the header block where nothing else can match.
    head, _, structure = msg.as_bytes().decode("ascii").partition("\r\n\r\n")
    for subtype, payload in (("plain", text_qp), ("html", html_qp)):
        structure = structure.replace(f"{_PAYLOAD}{subtype}", payload.replace("\n", "\r\n"), 1)
    return f"{head}\r\n\r\n{structure}"


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
    head = _swap(head, "To", PLACEHOLDER_TO, _recipient(to))
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
    return f"=\n{_qp_lines(value)}=\n".replace("\n", "\r\n").encode("ascii")


def _swap(head: bytes, name: str, old: str, new: str) -> bytes:
    line = f"\r\n{name}: {old}\r\n".encode()
    if line not in head:
        raise ValueError(f"not a rendered email: no {name} placeholder")
    return head.replace(line, f"\r\n{name}: {new}\r\n".encode(), 1)


def _recipient(to: str) -> str:
    """The To field: the address, and the display name (RFC 2047 encoded when not ASCII)."""
    if _CONTROL.search(to):
        raise ValueError(f"recipient contains a control character: {to!r}")
    if "," in to and len(getaddresses([to])) != 1:
        raise ValueError(f"one recipient per message, not {to!r}")
    if "<" in to or " " in to.strip():
        name, addr = parseaddr(to)
    else:
        name, addr = "", to.strip()
    if not _ADDR_CHARS.fullmatch(addr):
        raise ValueError(f"not an email address: {to!r}")
    if not addr.isascii():
        local, domain = addr.rsplit("@", 1)
        if not local.isascii():
            raise ValueError(f"a non-ASCII mailbox needs SMTPUTF8, not supported: {addr!r}")
        addr = f"{local}@{domain.encode('idna').decode('ascii')}"
    name = " ".join(name.split())
    if not name:
        return addr
    if name.isascii() and len(name) <= 60:
        return formataddr((name, addr))
    return f"{encoded_words(name)} <{addr}>"


def encoded_words(text: str) -> str:
    """RFC 2047 base64 words of at most 45 UTF-8 octets (72 characters), folded onto lines.

    Words end after a space where they can: readers ignore the fold between two encoded words,
    so a name is never glued together or split inside a word.
    """
    words: list[str] = []
    chunk = ""
    size = 0
    for char in text:
        octets = len(char.encode())
        if size + octets > 45:
            cut = chunk.rfind(" ") + 1 or len(chunk)
            words.append(chunk[:cut])
            chunk = chunk[cut:]
            size = len(chunk.encode())
        chunk += char
        size += octets
    words.append(chunk)
    return "\r\n ".join(f"=?utf-8?b?{b64encode(w.encode()).decode()}?=" for w in words)


def _date(date: str) -> str:
    if _CONTROL.search(date) or not date.isascii() or parsedate_tz(date) is None:
        raise ValueError(f"not an RFC 5322 date: {date!r}")
    return date.strip()


def _message_id(message_id: str) -> str:
    found = _MESSAGE_ID.fullmatch(message_id.strip())
    if found is None:
        raise ValueError(f"not a Message-ID: {message_id!r}")
    return f"<{found.group(1)}>"
