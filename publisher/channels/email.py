"""The email channel: a release as one finished RFC 5322 message, personalised per journalist.

`render` builds the whole multipart/alternative message once, with placeholders for the
per-send parts (To, Date, Message-ID, the unsubscribe and preferences URLs); `personalize` fills
them by byte substitution, which costs microseconds where building a message costs milliseconds.

Both parts are quoted-printable (7-bit safe, lines of at most 76 octets). Each occurrence of a
per-recipient URL sits alone between soft line breaks (`=` CRLF), so replacing it with the real
URL, itself encoded and wrapped, leaves a valid body. Headers holding placeholders are written
raw on one line of their own. Subject, From and To are folded and RFC 2047 encoded here, never
by the stdlib (`header_text`, `mailbox`).

Every email (a release, the daily briefing) carries the same headers (`email_mime.assemble`)
and the same footer (`email/footer.txt`, `email/footer.html`: why the journalist gets it, the
organisation's name and postal address, a preferences and an unsubscribe link), in the
release's language. Templates (`email/release.subject.txt`, `email/release.txt`,
`email/release.html`, and the footers they include) get: release, kind ("release" or
"briefing"), subject, title, date_text, lede, body_text, body_html, images [{url, alt,
caption}], links [{title, url}], source, page_url, unsubscribe_url, preferences_url,
organisation, organisation_address (one line), address_lines, labels (`footer_labels`), lang,
dir, truncated. The daily briefing is a release whose id starts with "briefing-": its footer
says so, and its List-Id is the briefing's.
"""

from __future__ import annotations

import binascii
import html
import re
from functools import lru_cache
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urljoin

from markupsafe import Markup

from publisher.channels.base import Channel, Sender, Throttle
from publisher.channels.email_mime import (
    CONTROL_CHARS,
    PREFERENCES_TOKEN,
    QP_LINE,
    UNSUBSCRIBE_TOKEN,
    assemble,
    cut_before,
    list_id,
    preferences_placeholder,
    qp_lines,
    unsubscribe_placeholder,
)
from publisher.errors import RenderError
from publisher.senders.outbox import OutboxSender
from publisher.settings import Settings, get_settings

if TYPE_CHECKING:  # a worker that only sends reads the declaration, not the render stack
    import css_inline

    from publisher.release import Release
    from publisher.render import BodyParts, RenderContext

__all__ = [
    "HTML_MAX_BYTES",
    "PREFERENCES_TOKEN",
    "UNSUBSCRIBE_TOKEN",
    "EmailChannel",
    "footer_labels",
    "one_line",
    "qp_encode",
    "top_level_blocks",
    "unsubscribe_placeholder",
]

# Gmail clips an HTML part over ~102 KB; keep the encoded part (CRLF included) under this,
# leaving room for the real unsubscribe URL that personalize puts in.
HTML_MAX_BYTES = 100_000
CUT = "<!--publisher-cut-->"  # between top-level body blocks; nh3 strips comments from bodies
BRIEFING_PREFIX = "briefing-"  # publisher.briefing's ids: briefing-YYYY-MM-DD-LANG
#: Each kind of email's list (List-Id): its label under MAIL_FROM's domain, and description.
LISTS: dict[str, tuple[str, str]] = {
    "release": ("releases", "{organisation} releases"),
    "briefing": ("briefing", "{organisation} daily briefing"),
}

LABELS: dict[str, dict[str, str]] = {
    "en": {
        "read_full": "Read the full release",
        "web": "Read this release on the web",
        "links": "Links",
        "source": "Source",
        "image": "Image",
        "unsubscribe": "Unsubscribe",
        "preferences": "Change what you receive",
        "why_release": "You get this email because you chose to receive each release from "
        "{organisation} as it goes out.",
        "why_category": "You get this email because you chose to receive each release in "
        "{category} from {organisation} as it goes out.",
        "why_briefing": "You get this email because you chose to receive the daily briefing "
        "from {organisation}.",
    },
    "ar": {
        "read_full": "اقرأ البيان كاملاً",
        "web": "اقرأ هذا البيان على الموقع",
        "links": "روابط",
        "source": "المصدر",
        "image": "صورة",
        "unsubscribe": "إلغاء الاشتراك",
        "preferences": "تعديل اختياراتك",
        "why_release": "تصلك هذه الرسالة لأنك اخترت أن تتلقى كل بيان من {organisation} فور صدوره.",
        "why_category": "تصلك هذه الرسالة لأنك اخترت أن تتلقى كل بيان في «{category}» من "
        "{organisation} فور صدوره.",
        "why_briefing": "تصلك هذه الرسالة لأنك اخترت أن تتلقى الموجز اليومي من {organisation}.",
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

        body_html = _absolute_urls(body.html, release, ctx)
        if body_html != body.html:  # the text part shows link URLs too: show the absolute ones
            body = BodyParts(html=body_html, text=html_to_text(body_html))
        view = _view(release, body, ctx)
        subject = one_line(ctx.templates.render_text("email/release.subject.txt", **view))
        if not subject:
            raise RenderError("email", "the subject is empty", "email/release.subject.txt")
        text = ctx.templates.render_text("email/release.txt", **view).strip() + "\n"
        markers = [view["unsubscribe_url"], view["preferences_url"]]
        html_markers = [html.escape(m) for m in markers]
        page_html, html_qp, truncated = _html_part(ctx, view, body_html, html_markers)
        _check_links(text, markers, "email/release.txt")
        _check_links(page_html, html_markers, "email/release.html")
        settings = get_settings()
        label, description = LISTS[view["kind"]]
        try:
            mime = assemble(
                mail_from=settings.mail_from,
                subject=subject,
                language=release.language,
                list_id_value=list_id(
                    description.format(organisation=ctx.organisation), label, settings.mail_from
                ),
                public_url=ctx.public_url,
                text_qp=qp_encode(text, *markers),
                html_qp=html_qp,
            )
        except ValueError as exc:
            raise RenderError("email", f"MAIL_FROM: {exc}") from exc
        return {
            "subject": subject,
            "text": text,
            "html": page_html,
            "mime": mime,
            "html_truncated": truncated,
        }


def _check_links(part: str, markers: list[str], template: str) -> None:
    """Each per-recipient URL as rendered, and no altered copy: personalize only finds those."""
    for marker, token in zip(markers, (UNSUBSCRIBE_TOKEN, PREFERENCES_TOKEN), strict=True):
        leaked = part.count(token) + part.count(token.lower())
        if leaked != part.count(marker):
            name = "unsubscribe_url" if token == UNSUBSCRIBE_TOKEN else "preferences_url"
            message = f"the {name.split('_')[0]} URL is altered; use {{{{ {name} }}}} as it is"
            raise RenderError("email", message, template)
    if part.count(markers[0]) == 0:
        raise RenderError(
            "email", "every email needs its unsubscribe link: {{ unsubscribe_url }}", template
        )


def one_line(text: str) -> str:
    """Text fit for one header: control characters and line breaks become single spaces."""
    return " ".join(CONTROL_CHARS.sub(" ", text).split())


def email_kind(release: Release) -> str:
    """What kind of email a release makes: "briefing" (publisher.briefing) or "release"."""
    return "briefing" if release.id.startswith(BRIEFING_PREFIX) else "release"


def footer_labels(
    language: str, organisation: str, kind: str = "release", category: str = ""
) -> dict[str, str]:
    """Every label of an email in `language` (English when it has none), the footer's reason
    why the journalist gets it (`why`) filled in for this kind of email and category."""
    labels = dict(LABELS.get(language.split("-")[0].lower(), LABELS["en"]))
    if kind == "briefing":
        why = labels["why_briefing"]
    else:
        why = labels["why_category" if category else "why_release"]
    labels["why"] = why.format(organisation=organisation, category=one_line(category))
    return labels


def _address_lines(address: str) -> list[str]:
    """ORGANISATION_ADDRESS as lines (a literal "\\n" in an environment variable too)."""
    text = address.replace("\\n", "\n")
    return [one_line(line) for line in text.splitlines() if one_line(line)]


def _view(release: Release, body: BodyParts, ctx: RenderContext) -> dict[str, Any]:
    from publisher.render import format_release_date

    kind = email_kind(release)
    labels = footer_labels(release.language, ctx.organisation, kind, release.category)
    # an override of nothing but spaces is no override: the title stands
    subject = one_line(str(release.override("email", "subject") or "")) or release.title
    address = ctx.extra.get("organisation_address", get_settings().organisation_address)
    return {
        "release": release,
        "kind": kind,
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
        "unsubscribe_url": unsubscribe_placeholder(ctx.public_url),
        "preferences_url": preferences_placeholder(ctx.public_url),
        "organisation": ctx.organisation,
        "organisation_address": ", ".join(_address_lines(str(address or ""))),
        "address_lines": _address_lines(str(address or "")),
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
    ctx: RenderContext, view: dict[str, Any], body_html: str, markers: list[str]
) -> tuple[str, str, bool]:
    """The inlined HTML and its encoding; cut at a block boundary when over HTML_MAX_BYTES."""
    # Inlining and encoding only add octets, so a body longer than the limit never fits whole,
    # and no block that ends past the limit can be kept.
    if len(body_html) <= HTML_MAX_BYTES:
        full = _inline(ctx, view, body_html, truncated=False)
        encoded = qp_encode(full, *markers)
        if wire_size(encoded) <= HTML_MAX_BYTES:
            return full, encoded, False
    blocks = top_level_blocks(body_html, limit=HTML_MAX_BYTES)
    marked = _inline(ctx, view, CUT + "".join(b + CUT for b in blocks), truncated=True)
    pieces = marked.split(CUT)
    if len(pieces) != len(blocks) + 2:  # an overriding template dropped the body: cannot cut
        full = _inline(ctx, view, body_html, truncated=False)
        return full, qp_encode(full, *markers), False
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
        encoded = qp_encode(page_html, *markers)
        if wire_size(encoded) <= HTML_MAX_BYTES or keep == 0:
            return page_html, encoded, True
        keep -= 1


def _inline(ctx: RenderContext, view: dict[str, Any], body_html: str, truncated: bool) -> str:
    document = ctx.templates.render_html(
        "email/release.html", **view, body_html=Markup(body_html), truncated=truncated
    )
    import css_inline

    try:
        return str(_inliner().inline(document))
    except css_inline.InlineError as exc:
        raise RenderError("email", f"cannot inline the CSS: {exc}", "email/release.html") from exc


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


def qp_encode(text: str, *markers: str) -> str:
    """Quoted-printable (LF line ends) with every marker alone between soft line breaks."""
    # MIME text has no bare CR; lines end in CRLF once the generator writes the message.
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    found = [m for m in markers if m and m in text]
    if not found:
        return binascii.b2a_qp(text.encode(), istext=True).decode("ascii")
    split = re.compile("|".join(re.escape(m) for m in sorted(found, key=len, reverse=True)))
    out: list[str] = []
    start = 0
    for match in split.finditer(text):
        piece = text[start : match.start()]
        encoded = binascii.b2a_qp(piece.encode(), istext=True).decode("ascii")
        out.append(_with_room_for_soft_break(encoded))
        out.append(f"=\n{qp_lines(match.group(0))}=\n")
        start = match.end()
    out.append(binascii.b2a_qp(text[start:].encode(), istext=True).decode("ascii"))
    return "".join(out)


def _with_room_for_soft_break(encoded: str) -> str:
    """Wrap the last line so a trailing "=" keeps it within 76 octets."""
    line_start = encoded.rfind("\n") + 1
    if len(encoded) - line_start <= QP_LINE:
        return encoded
    cut = cut_before(encoded, line_start + QP_LINE)
    return encoded[:cut] + "=\n" + encoded[cut:]
