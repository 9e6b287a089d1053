"""The email a journalist receives: parsed back with the stdlib, as a mail client would."""

from __future__ import annotations

import email
import re
from email import policy
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from publisher.channels.email import (
    HTML_MAX_BYTES,
    PREFERENCES_TOKEN,
    UNSUBSCRIBE_TOKEN,
    EmailChannel,
    qp_encode,
    top_level_blocks,
)
from publisher.channels.email_mime import PLACEHOLDER_TO, personalize
from publisher.errors import RenderError
from publisher.release import Release, release_from_mapping
from publisher.render import RenderContext, Templates, body_parts
from publisher.settings import get_settings

PUBLIC_URL = "https://press.example.org"
PLACEHOLDER_URL = f"{PUBLIC_URL}/unsubscribe/{UNSUBSCRIBE_TOKEN}"
LONG_URL = (f"{PUBLIC_URL}/unsubscribe/" + "t0k3n-" * 30)[:180] + "?sig=ab%2Fcd&lang=ar"
assert len(LONG_URL) == 200
VOID = {"br", "hr", "img", "meta", "link", "input", "wbr", "source", "col", "area"}


@pytest.fixture(scope="module")
def ctx() -> RenderContext:
    return RenderContext(
        public_url=PUBLIC_URL,
        x_thread_max=5,
        organisation="Syrian National Coalition",
        templates=Templates(),
    )


def make_release(**fields: Any) -> Release:
    data: dict[str, Any] = {
        "title": "Assad regime kills dozens of civilians in Idlib",
        "date": "2020-02-11T10:00:00+02:00",
        "summary": "Jets bombed residential neighborhoods of Idlib.",
        "source": "Department of Media and Communications",
        "body": "The bombing caused massive destruction.\n\nCivil defense teams rushed in.\n",
    }
    data.update(fields)
    return release_from_mapping(data)


def render(release: Release, ctx: RenderContext) -> dict[str, Any]:
    return EmailChannel.render(release, body_parts(release), ctx)


def parse(mime: bytes | str) -> EmailMessage:
    raw = mime.encode("ascii") if isinstance(mime, str) else mime
    msg = email.message_from_bytes(raw, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def parts(msg: EmailMessage) -> tuple[str, str]:
    """The decoded text and HTML a mail client shows."""
    assert msg.get_content_type() == "multipart/alternative"
    text_part, html_part = list(msg.iter_parts())
    assert text_part.get_content_type() == "text/plain"
    assert html_part.get_content_type() == "text/html"
    for part in (text_part, html_part):
        assert part.get_content_charset() == "utf-8"
        assert part["Content-Transfer-Encoding"] == "quoted-printable"
        assert not part.defects
    text, page = text_part.get_content(), html_part.get_content()
    return text.replace("\r\n", "\n"), page.replace("\r\n", "\n")


class Checker(HTMLParser):
    """Collects hrefs and image sources, and fails on unbalanced tags."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.hrefs: list[str] = []
        self.images: list[tuple[str, str]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "a":
            self.hrefs.append(values.get("href", ""))
        if tag == "img":
            self.images.append((values.get("src", ""), values.get("alt", "")))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes {self.stack[-1:]}"
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def check_html(page: str) -> Checker:
    checker = Checker()
    checker.feed(page)
    checker.close()
    assert checker.stack == [], f"unclosed: {checker.stack}"
    return checker


def assert_lines_fit(raw: bytes) -> None:
    head, _, body = raw.partition(b"\r\n\r\n")
    assert b"\n" not in raw.replace(b"\r\n", b""), "bare LF or CR"
    assert max(len(line) for line in head.split(b"\r\n")) < 998
    assert max(len(line) for line in body.split(b"\r\n")) <= 76  # quoted-printable's limit


def test_message_is_multipart_alternative_with_list_headers(ctx: RenderContext) -> None:
    payload = render(make_release(), ctx)
    msg = parse(payload["mime"])
    assert not msg.defects
    assert msg["From"] == get_settings().mail_from
    assert msg["To"] == PLACEHOLDER_TO
    assert msg["Subject"] == "Assad regime kills dozens of civilians in Idlib"
    assert msg["MIME-Version"] == "1.0"
    assert msg["Content-Language"] == "en"
    assert msg["List-Unsubscribe"] == f"<{PLACEHOLDER_URL}>"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert msg["Date"].datetime is not None and msg["Message-ID"].startswith("<")
    text, page = parts(msg)
    assert text == payload["text"].replace("\r\n", "\n")
    assert page == payload["html"]
    assert payload["subject"] == msg["Subject"]
    assert_lines_fit(payload["mime"].encode("ascii"))


def test_a_journalist_sees_the_whole_release(ctx: RenderContext) -> None:
    release = make_release(
        body="First paragraph with [our statement](/statements/1).\n\nSecond paragraph.\n",
        images=[
            {
                "src": "https://cdn.example.org/idlib.jpg",
                "alt": "Rubble in Idlib",
                "caption": "Idlib",
            }
        ],
        links=[{"title": "UN resolution 2254", "url": "https://un.example.org/2254?a=1&b=2"}],
    )
    text, page = parts(parse(render(release, ctx)["mime"]))
    html = check_html(page)
    page_url = f"{PUBLIC_URL}/releases/{release.id}/"
    expectations = [
        "Assad regime kills dozens of civilians in Idlib",
        "February 11, 2020",
        "Jets bombed residential neighborhoods of Idlib.",
        "First paragraph with",
        "Second paragraph.",
        "Department of Media and Communications",
    ]
    visible = "".join(html.text)
    for expected in expectations:
        assert expected in text
        assert expected in visible
    assert ("https://cdn.example.org/idlib.jpg", "Rubble in Idlib") in html.images
    assert "Rubble in Idlib" in text and "https://cdn.example.org/idlib.jpg" in text
    for url in ("https://un.example.org/2254?a=1&b=2", page_url, PLACEHOLDER_URL):
        assert url in html.hrefs
        assert url in text
    # a relative link in the body points at the website, in both parts
    assert f"{PUBLIC_URL}/statements/1" in html.hrefs
    assert f"{PUBLIC_URL}/statements/1" in text
    assert "Read the full release" not in visible


@pytest.mark.parametrize(
    ("fields", "subject"),
    [
        ({}, "Assad regime kills dozens of civilians in Idlib"),
        ({"overrides": {"email": {"subject": "Press release: Idlib"}}}, "Press release: Idlib"),
        ({"title": "Hi\r\nBcc: victim@example.com"}, "Hi Bcc: victim@example.com"),
        (
            {"overrides": {"email": {"subject": "Hi\r\nBcc: victim@example.com\x00\x1b"}}},
            "Hi Bcc: victim@example.com",
        ),
        (
            {"title": "Hi\nTo: victim@example.com\n\n<p>body</p>"},
            "Hi To: victim@example.com <p>body</p>",
        ),
        ({"title": "الائتلاف الوطني يدين القصف", "language": "ar"}, "الائتلاف الوطني يدين القصف"),
        (
            {"title": "Über " + "lange Überschrift " * 12},
            ("Über " + "lange Überschrift " * 12).strip(),
        ),
    ],
)
def test_subject_is_one_header_whatever_the_title(
    ctx: RenderContext, fields: dict[str, Any], subject: str
) -> None:
    payload = render(make_release(**fields), ctx)
    msg = parse(payload["mime"])
    assert msg.get_all("Subject") == [subject]
    assert payload["subject"] == subject
    assert msg.get_all("Bcc") is None
    assert msg.get_all("To") == [PLACEHOLDER_TO]
    assert not msg.defects
    raw = payload["mime"].encode("ascii")  # non-ASCII subjects are RFC 2047 encoded
    assert_lines_fit(raw)


def test_title_is_shown_as_text_not_markup(ctx: RenderContext) -> None:
    text, page = parts(
        parse(render(make_release(title="<script>alert(1)</script> Idlib"), ctx)["mime"])
    )
    assert "<script" not in page.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Idlib" in page
    assert "".join(check_html(page).text).count("<script>alert(1)</script> Idlib") == 2  # title, h1
    assert "<script>alert(1)</script> Idlib" in text


@pytest.mark.parametrize(
    ("hostile", "visible"),
    [
        ("<script>alert('x')</script>\n\nKept paragraph.", "Kept paragraph."),
        ('<p onclick="steal()">Click-free text</p>', "Click-free text"),
        ('<iframe src="https://evil.example/"></iframe>\n\nAfter the frame.', "After the frame."),
        ('<a href="javascript:alert(1)">raw link</a>', "raw link"),
        ('<img src="x" onerror="alert(1)" alt="picture">\n\nBelow.', "Below."),
        ("<style>body{display:none}</style>\n\nStyled away?", "Styled away?"),
    ],
)
def test_hostile_body_html_is_defused(ctx: RenderContext, hostile: str, visible: str) -> None:
    text, page = parts(parse(render(make_release(body=hostile), ctx)["mime"]))
    body_html = page.split('<div class="body"', 1)[1]
    for part in (text, body_html):
        lowered = part.lower()
        for needle in ("<script", "<iframe", "onclick", "onerror", "javascript:", "display:none"):
            assert needle not in lowered
    assert visible in text
    assert visible in "".join(check_html(page).text)


def test_overriding_templates_can_restyle_but_not_alter_the_unsubscribe_url(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "email"
    folder.mkdir()
    (folder / "release.subject.txt").write_text("[Press] {{ subject }}\n")
    ctx = RenderContext(PUBLIC_URL, 5, "Press Office", Templates(tmp_path))
    payload = render(make_release(), ctx)
    assert (
        parse(payload["mime"])["Subject"]
        == "[Press] Assad regime kills dozens of civilians in Idlib"
    )
    (folder / "release.txt").write_text(
        "{{ body_text }}\nUnsubscribe: {{ unsubscribe_url | lower }}\n"
    )
    ctx = RenderContext(PUBLIC_URL, 5, "Press Office", Templates(tmp_path))  # Jinja caches
    with pytest.raises(RenderError, match="unsubscribe URL"):
        render(make_release(), ctx)
    (folder / "release.txt").write_text("{{ body_text }}\n")
    ctx = RenderContext(PUBLIC_URL, 5, "Press Office", Templates(tmp_path))
    with pytest.raises(RenderError, match="needs its unsubscribe link"):
        render(make_release(), ctx)
    # the footer is a template of its own: restyled once, for releases and briefings alike
    (folder / "release.txt").unlink()
    (folder / "footer.txt").write_text(
        "-- \n{{ organisation }}: {{ preferences_url | upper }}\n{{ unsubscribe_url }}\n"
    )
    ctx = RenderContext(PUBLIC_URL, 5, "Press Office", Templates(tmp_path))
    with pytest.raises(RenderError, match="preferences URL"):
        render(make_release(), ctx)


def test_personalize_wants_the_preferences_url_of_a_message_that_links_to_it(
    ctx: RenderContext,
) -> None:
    mime = render(make_release(), ctx)["mime"]
    with pytest.raises(ValueError, match="preferences_url"):
        personalize(
            mime,
            to="a@example.com",
            unsubscribe_url=f"{PUBLIC_URL}/unsubscribe/a",
            message_id="<1@example.org>",
            date="Tue, 11 Feb 2020 10:00:00 +0000",
        )


def test_markdown_javascript_link_keeps_its_text_only(ctx: RenderContext) -> None:
    text, page = parts(
        parse(render(make_release(body="[innocent](javascript:alert(1))"), ctx)["mime"])
    )
    html = check_html(page)
    assert not [h for h in html.hrefs if h and not h.startswith("https://")]
    assert "innocent" in "".join(html.text)
    assert "javascript:" not in page and "javascript:" not in text
    assert "innocent" in text


def test_arabic_release_is_right_to_left(ctx: RenderContext) -> None:
    release = make_release(
        title="الائتلاف الوطني يدين قصف إدلب",
        summary="قصفت طائرات النظام أحياء سكنية.",
        body="قتل عشرات المدنيين في إدلب.\n\n> اقتباس من البيان\n",
        language="ar",
    )
    payload = render(release, ctx)
    msg = parse(payload["mime"])
    assert msg["Subject"] == "الائتلاف الوطني يدين قصف إدلب"
    assert msg["Content-Language"] == "ar"
    text, page = parts(msg)
    assert re.search(r'<html lang="ar" dir="rtl"', page)
    assert re.search(r'<div class="wrapper" dir="rtl" lang="ar"|lang="ar" dir="rtl"', page)
    assert "فبراير" in text and "فبراير" in page  # the month, in Arabic
    assert "قتل عشرات المدنيين في إدلب." in text and "قتل عشرات المدنيين في إدلب." in page
    assert "إلغاء الاشتراك" in page
    assert "border-right: 3px solid" in page  # quotes rule on the right-hand side
    assert_lines_fit(payload["mime"].encode("ascii"))


def big_body(size: int = 300_000) -> str:
    """Markdown of `size` characters: numbered paragraphs of three sentences, lists, quotes."""
    paragraphs: list[str] = []
    n = total = 0
    while total < size:
        n += 1
        sentence = (
            f"Paragraph {n}: the delegation stressed the need for **friendly states** to assume "
            f"their role in ending military operations and [protecting civilians]"
            f"(https://example.org/{n}). "
        )
        block = [sentence * 3]
        if n % 10 == 0:
            block.append(f"- item {n} a\n- item {n} b\n\n> quoted {n}")
        paragraphs += block
        total += sum(len(b) + 2 for b in block)
    return "\n\n".join(paragraphs) + "\n"


def test_long_release_keeps_text_whole_and_cuts_html_at_a_block(ctx: RenderContext) -> None:
    release = make_release(body=big_body())
    payload = render(release, ctx)
    raw = payload["mime"].encode("ascii")
    msg = parse(raw)
    text, page = parts(msg)
    whole = body_parts(release).text
    assert len(whole) > 250_000
    assert whole in text
    html_part = list(msg.iter_parts())[1]
    encoded = str(html_part.get_payload()).encode("ascii")
    assert encoded.count(b"\r\n") > 1_000  # measured as sent, CRLF line ends included
    assert HTML_MAX_BYTES - 5_000 < len(encoded) <= 102_000  # cut near the limit, not far below
    assert payload["html_truncated"] is True
    checker = check_html(page)
    page_url = f"{PUBLIC_URL}/releases/{release.id}/"
    visible = "".join(checker.text)
    assert "Read the full release" in visible
    body_end = page.index('<p class="more"')
    assert page_url in re.findall(r'href="([^"]+)"', page[body_end:])[0]
    shown = re.findall(r"Paragraph (\d+):", page)
    numbers = sorted({int(n) for n in shown})
    assert numbers == list(range(1, numbers[-1] + 1))  # a prefix of the release...
    assert page[:body_end].rstrip().endswith("</div>")
    last = page[:body_end].rsplit("<p", 1)[1]
    assert last.count("Paragraph") == 3  # ...whose last paragraph is whole
    assert_lines_fit(raw)


@pytest.mark.parametrize(
    ("fields", "kept"),
    [
        ({"body": "قتل عشرات المدنيين في إدلب. " * 8 + "\n\n"} | {"language": "ar"}, "إدلب"),
        ({"body": "One endless paragraph " * 8_000}, None),
        ({"body": "1. item `<b>` and <i>html</i>\n   > quoted\n\nBetween.\n\n" * 3_000}, "quoted"),
        ({"body": "```\n" + "<p>code</p>\n" * 12_000 + "```\n\nAfter."}, None),
    ],
)
def test_html_cut_keeps_markup_whole(
    ctx: RenderContext, fields: dict[str, Any], kept: str | None
) -> None:
    if fields.get("language") == "ar":  # 60 KB of Arabic is 180 KB quoted-printable
        fields = {**fields, "body": fields["body"] * 400}
    release = make_release(**fields)
    payload = render(release, ctx)
    msg = parse(payload["mime"])
    text, page = parts(msg)
    assert body_parts(release).text in text
    assert payload["html_truncated"] is True
    assert len(str(list(msg.iter_parts())[1].get_payload())) <= 102_000
    checker = check_html(page)
    assert f"{PUBLIC_URL}/releases/{release.id}/" in checker.hrefs
    more = page.index('<p class="more"')
    assert page[:more].rstrip().endswith("</div>")
    if kept is None:  # a first block too long to fit: only the link remains
        assert page[:more].split('<div class="body">', 1)[1].strip() == "</div>"
    else:
        assert kept in page[:more]
    assert_lines_fit(payload["mime"].encode("ascii"))


@pytest.mark.parametrize(
    ("to", "name", "address"),
    [
        ("zoe@example.com", "", "zoe@example.com"),
        ("Jane Doe <jane@example.com>", "Jane Doe", "jane@example.com"),
        ('"Doe, Jane" <jane@example.com>', "Doe, Jane", "jane@example.com"),
        ("Zoë Müller <zoe@example.com>", "Zoë Müller", "zoe@example.com"),
        ("سارة الأحمد <sara@example.org>", "سارة الأحمد", "sara@example.org"),
        ("Ahmad <ahmad@xn--mller-kva.example>", "Ahmad", "ahmad@xn--mller-kva.example"),
        (
            "Long " + "Name " * 40 + "<long@example.com>",
            ("Long " + "Name " * 40).strip(),
            "long@example.com",
        ),
    ],
)
@pytest.mark.parametrize("url", [f"{PUBLIC_URL}/unsubscribe/abc123", LONG_URL])
def test_personalize_fills_every_per_send_part(
    ctx: RenderContext, to: str, name: str, address: str, url: str
) -> None:
    release = make_release(language="ar", title="الائتلاف الوطني", body="نص البيان.\n")
    mime = render(release, ctx)["mime"]
    raw = personalize(
        mime,
        to=to,
        unsubscribe_url=url,
        message_id="<20200211.abc@press.example.org>",
        date="Tue, 11 Feb 2020 10:00:00 +0200",
        preferences_url=url.replace("/unsubscribe/", "/preferences/"),
    )
    msg = parse(raw)
    assert not msg.defects
    (recipient,) = msg["To"].addresses
    # the stdlib keeps the fold between two encoded words as a space (RFC 2047 drops it)
    assert (" ".join(recipient.display_name.split()), recipient.addr_spec) == (name, address)
    assert msg["List-Unsubscribe"] == f"<{url}>"
    assert msg["Message-ID"] == "<20200211.abc@press.example.org>"
    assert msg["Date"].datetime.isoformat() == "2020-02-11T10:00:00+02:00"
    text, page = parts(msg)
    assert url in text
    assert url in check_html(page).hrefs
    assert "نص البيان." in text and "نص البيان." in page
    assert url.replace("/unsubscribe/", "/preferences/") in text
    assert url.replace("/unsubscribe/", "/preferences/") in check_html(page).hrefs
    for leftover in (
        b"placeholder",
        UNSUBSCRIBE_TOKEN.encode(),
        PREFERENCES_TOKEN.encode(),
        b"1970",
    ):
        assert leftover not in raw
    assert_lines_fit(raw)


def test_personalize_takes_str_or_bytes_and_keeps_the_rest(ctx: RenderContext) -> None:
    mime = render(make_release(), ctx)["mime"]
    args: dict[str, str] = {
        "to": "a@example.com",
        "unsubscribe_url": f"{PUBLIC_URL}/unsubscribe/a",
        "message_id": "<1@example.org>",
        "date": "Tue, 11 Feb 2020 10:00:00 +0000",
        "preferences_url": f"{PUBLIC_URL}/preferences/a",
    }
    from_str = personalize(mime, **args)
    assert personalize(mime.encode("ascii"), **args) == from_str
    other = personalize(mime, **{**args, "to": "b@example.com"})
    assert other != from_str
    assert parts(parse(other)) == parts(parse(from_str))
    before, after = parse(mime), parse(from_str)
    assert before["Subject"] == after["Subject"] and before["From"] == after["From"]


@pytest.mark.parametrize(
    "bad",
    [
        {"to": "a@example.com\r\nBcc: victim@example.com"},
        {"to": "Eve\n <a@example.com>"},
        {"to": "not an address"},
        {"to": "a@example.com, b@example.com"},
        {"unsubscribe_url": "https://press.example.org/" + "u" * 900},
        {"unsubscribe_url": "https://press.example.org/u\r\nBcc: victim@example.com"},
        {"unsubscribe_url": "javascript:alert(1)"},
        {"unsubscribe_url": "https://press.example.org/u>, <mailto:x@y>"},
        {"message_id": "<a b@example.org>"},
        {"date": "yesterday"},
        {"date": "Tue, 11 Feb 2020 10:00:00 +0000\r\nBcc: victim@example.com"},
        {"preferences_url": "https://press.example.org/p\r\nBcc: victim@example.com"},
        {"preferences_url": "javascript:alert(1)"},
        {"preferences_url": None},
    ],
)
def test_personalize_refuses_values_that_would_break_the_message(
    ctx: RenderContext, bad: dict[str, str]
) -> None:
    mime = render(make_release(), ctx)["mime"]
    args = {
        "to": "a@example.com",
        "unsubscribe_url": f"{PUBLIC_URL}/unsubscribe/a",
        "message_id": "<1@example.org>",
        "date": "Tue, 11 Feb 2020 10:00:00 +0000",
        "preferences_url": f"{PUBLIC_URL}/preferences/a",
        **bad,
    }
    with pytest.raises(ValueError):
        personalize(mime, **args)


def test_personalize_refuses_a_message_it_did_not_render() -> None:
    with pytest.raises(ValueError):
        personalize(
            b"From: a@example.org\r\nTo: b@example.org\r\n\r\nhello\r\n",
            to="a@example.com",
            unsubscribe_url=f"{PUBLIC_URL}/unsubscribe/a",
            message_id="<1@example.org>",
            date="Tue, 11 Feb 2020 10:00:00 +0000",
        )


@pytest.mark.parametrize(
    ("html", "blocks"),
    [
        ("<p>a</p>\n<p>b</p>\n", ["<p>a</p>", "\n<p>b</p>\n"]),
        (
            "<ul>\n<li><p>x</p></li>\n</ul>\n<blockquote><blockquote><p>q</p></blockquote></blockquote>",
            [
                "<ul>\n<li><p>x</p></li>\n</ul>",
                "\n<blockquote><blockquote><p>q</p></blockquote></blockquote>",
            ],
        ),
        (
            '<p title="a>b">x<br>y</p><hr><p>z</p>',
            ['<p title="a>b">x<br>y</p>', "<hr>", "<p>z</p>"],
        ),
        ("just text", ["just text"]),
        (
            "<pre><code>&lt;p&gt;</code></pre><p>after</p>",
            ["<pre><code>&lt;p&gt;</code></pre>", "<p>after</p>"],
        ),
    ],
)
def test_top_level_blocks_split_between_whole_elements(html: str, blocks: list[str]) -> None:
    assert top_level_blocks(html) == blocks
    assert "".join(blocks) == html


MARKER = "https://press.example.org/unsubscribe/" + UNSUBSCRIBE_TOKEN


@given(
    st.lists(
        st.text(alphabet=st.sampled_from("ab =\t\né€ب.\r"), max_size=200) | st.just("x" * 180),
        min_size=1,
        max_size=5,
    )
)
def test_qp_encoding_keeps_the_marker_replaceable(pieces: list[str]) -> None:
    text = MARKER.join(pieces)
    encoded = qp_encode(text, MARKER).replace("\n", "\r\n").encode("ascii")
    assert max(len(line) for line in encoded.split(b"\r\n")) <= 76
    wrapped = (
        b"Content-Type: text/plain; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
    )
    expected = text.replace("\r\n", "\n").replace("\r", "\n")
    decoded = parse(wrapped + encoded).get_content().replace("\r\n", "\n")
    assert decoded == expected


@pytest.mark.parametrize(
    ("fields", "why"),
    [
        ({"category": "Local News"}, "each release in Local News from Syrian National Coalition"),
        ({}, "each release from Syrian National Coalition as it goes out"),
        ({"id": "briefing-2020-02-11-en"}, "the daily briefing from Syrian National Coalition"),
        (
            {"category": "أخبار محلية", "language": "ar"},
            "كل بيان في «أخبار محلية» من Syrian National Coalition",
        ),
    ],
)
def test_the_footer_says_why_in_both_parts(
    ctx: RenderContext, fields: dict[str, Any], why: str
) -> None:
    text, page = parts(parse(render(make_release(**fields), ctx)["mime"]))
    visible = " ".join("".join(check_html(page).text).split())
    assert why in " ".join(text.split()) and why in visible
    page_url_shown = "/releases/" in text
    assert page_url_shown is not fields.get("id", "").startswith("briefing-")  # no page to link


def test_the_footer_carries_the_postal_address_and_both_links(ctx: RenderContext) -> None:
    extra = {"organisation_address": "Office 12, 34 Example Street\\nIstanbul 34000"}
    with_address = RenderContext(ctx.public_url, 5, ctx.organisation, ctx.templates, extra)
    payload = render(make_release(), with_address)
    text, page = parts(parse(payload["mime"]))
    html = check_html(page)
    footer = text[text.rindex("--\n") :]
    assert "Syrian National Coalition\nOffice 12, 34 Example Street\nIstanbul 34000\n" in footer
    assert "Office 12, 34 Example Street" in "".join(html.text)
    preferences = f"{PUBLIC_URL}/preferences/{PREFERENCES_TOKEN}"
    assert footer.index(preferences) < footer.index(PLACEHOLDER_URL)
    assert preferences in html.hrefs and PLACEHOLDER_URL in html.hrefs


@pytest.mark.parametrize(
    ("organisation", "mail_from", "expected"),
    [
        ("Press Office", "Press <press@press.example.org>",
         '"Press Office releases" <releases.press.example.org>'),
        ('The "Office"', "press@Example.ORG", '"The \\"Office\\" releases" <releases.example.org>'),
        ("الائتلاف الوطني", "press@bücher.example", None),
    ],
)  # fmt: skip
def test_list_id_names_the_list_under_mail_froms_domain(
    organisation: str, mail_from: str, expected: str | None
) -> None:
    from publisher.channels.email_mime import list_id

    value = list_id(f"{organisation} releases", "releases", mail_from)
    msg = parse(f"List-Id: {value}\r\n\r\n")
    if expected is not None:
        assert msg["List-Id"] == expected
    else:  # encoded words, decoded back by the reader; the domain in IDNA
        assert str(msg["List-Id"]) == f"{organisation} releases <releases.xn--bcher-kva.example>"
