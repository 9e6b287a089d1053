"""The email channel: a release as one finished RFC 5322 message, personalised per journalist.

`render` builds the whole multipart/alternative message once, with placeholders for the
per-send parts (To, Date, Message-ID, the unsubscribe URL); `personalize` fills them by byte
substitution, which costs microseconds where building a message costs milliseconds.

Both parts are quoted-printable (7-bit safe, lines of at most 76 octets). Each occurrence of the
unsubscribe URL sits alone between soft line breaks (`=` CRLF), so replacing it with the real URL,
itself encoded and wrapped, leaves a valid body. Headers holding placeholders are written raw on
one line of their own. Subject, From and To are folded and RFC 2047 encoded here, never by the
stdlib (`header_text`, `mailbox`).

Templates (`email/subject.txt`, `email/body.txt`, `email/body.html`) get: release, subject, title,
date_text, lede, body_text, body_html, images [{url, alt, caption}], links [{title, url}],
source, page_url, unsubscribe_url, organisation, labels, lang, dir, truncated.
"""

from __future__ import annotations

import binascii
import hashlib
import html
import re
from email import policy
from email.message import EmailMessage
from functools import lru_cache
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urljoin

from markupsafe import Markup

from publisher.channels.base import Channel, Sender, Throttle
from publisher.channels.email_mime import (
    CONTROL_CHARS,
    PLACEHOLDER_DATE,
    PLACEHOLDER_MESSAGE_ID,
    PLACEHOLDER_TO,
    QP_LINE,
    cut_before,
    header_text,
    mailbox,
    qp_lines,
)
from publisher.errors import RenderError
from publisher.senders.outbox import OutboxSender
from publisher.settings import Settings, get_settings

if TYPE_CHECKING:  # a worker that only sends reads the declaration, not the render stack
    import css_inline

    from publisher.release import Release
    from publisher.render import BodyParts, RenderContext

UNSUBSCRIBE_TOKEN = "PUBLISHER-UNSUBSCRIBE-TOKEN"


# Gmail clips an HTML part over ~102 KB; keep the encoded part (CRLF included) under this,
# leaving room for the real unsubscribe URL that personalize puts in.
HTML_MAX_BYTES = 100_000
CUT = "<!--publisher-cut-->"  # between top-level body blocks; nh3 strips comments from bodies
_PAYLOAD = "=_publisher_payload_"  # stands for a finished part body while the generator runs

# refold_source="none" keeps raw headers (set_raw) as written: the stdlib would otherwise
# RFC 2047-encode a long List-Unsubscribe URL to fold it, which breaks it, and refold the
# Subject and the From name with the faulty folder (see CRLF above).
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

_TAG = re.compile(r"""<(/?)([a-zA-Z][a-zA-Z0-9]*)(?:[^>"']|"[^"]*"|'[^']*')*>""")
_URL_ATTR = re.compile(r"""(<(?:a|img)\b[^>]*?\s(?:href|src)=")([^"]*)(")""")
_VOID = {"area", "br", "col", "embed", "hr", "img", "input", "source", "track", "wbr"}


@lru_cache(maxsize=1)
def _inliner() -> css_inline.CSSInliner:
    import css_inline

    return css_inline.CSSInliner(load_remote_stylesheets=False)


class EmailChannel(Channel):
    """Journalists' email: subject, plain text, inlined HTML and the finished MIME message."""

    name = "email"
    max_text = 0  # no limit on the text; the HTML part is cut at HTML_MAX_BYTES instead
    max_html_bytes = HTML_MAX_BYTES
    override_fields: ClassVar[dict[str, type]] = {"subject": str}
    has_subscribers: ClassVar[bool] = True
    personal_links: ClassVar[bool] = True

    @classmethod
    def make_sender(cls, settings: Settings, throttle: Throttle | None) -> Sender:
        if not settings.smtp_url:  # a Maildir under the data dir, readable by any mail client
            return OutboxSender(cls.name, settings, maildir=True)
        from publisher.senders.smtp import SMTPSender

        return SMTPSender(settings, throttle)

    @classmethod
    def counters(cls, payload: dict[str, Any]) -> list[tuple[str, str]]:
        # 102 KB: where Gmail clips a message; the HTML part is cut below it (HTML_MAX_BYTES).
        html_kb = len(payload["html"].encode()) / 1024
        return [
            (f"subject ({len(payload['subject'])} characters)", payload["subject"]),
            (
                f"text part ({len(payload['text'])} characters), HTML {html_kb:.1f}/102 KB",
                payload["text"],
            ),
        ]

    @classmethod
    def render(cls, release: Release, body: BodyParts, ctx: RenderContext) -> dict[str, Any]:
        """The email payload: subject, text, html and mime (with per-send placeholders)."""
        from publisher.render import BodyParts, html_to_text

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
    return " ".join(CONTROL_CHARS.sub(" ", text).split())


def _view(
    release: Release, body: BodyParts, ctx: RenderContext, unsubscribe: str
) -> dict[str, Any]:
    from publisher.render import format_release_date

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
    import css_inline

    try:
        return str(_inliner().inline(document))
    except css_inline.InlineError as exc:
        raise RenderError("email", f"cannot inline the CSS: {exc}", "email/body.html") from exc


def _estimate(piece: str) -> int:
    return wire_size(binascii.b2a_qp(piece.encode(), istext=True).decode("ascii"))


def top_level_blocks(safe_html: str, limit: int | None = None) -> list[str]:
    """Sanitised HTML split between its top-level block elements (each piece balanced).

    With `limit`, only the blocks that end within the first `limit` characters.
    """
    from publisher.render import BLOCK_TAGS

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
    marker_lines = qp_lines(marker)
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
    cut = cut_before(encoded, line_start + QP_LINE)
    return encoded[:cut] + "=\n" + encoded[cut:]


def _mime(release: Release, subject: str, unsubscribe: str, text_qp: str, html_qp: str) -> str:
    try:
        sender = mailbox(get_settings().mail_from, "From")
    except ValueError as exc:
        raise RenderError("email", f"MAIL_FROM: {exc}") from exc
    msg = EmailMessage(policy=MIME_POLICY)
    msg.set_raw("From", sender)
    msg.set_raw("To", PLACEHOLDER_TO)
    msg.set_raw("Subject", header_text(subject, "Subject"))
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
