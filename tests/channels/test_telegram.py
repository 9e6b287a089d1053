"""What a Telegram subscriber sees: every message read back as Telegram reads it, strictly."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from publisher.channels.telegram import TelegramChannel, to_telegram_html
from publisher.errors import RenderError
from publisher.release import Release, release_from_mapping
from publisher.render import RenderContext, Templates, body_parts, markdown_to_html
from tests.peers.telegram_html import Entity, parse, utf16_len

PUBLIC_URL = "https://press.example.org"
LINKS_OK = ("http://", "https://", "mailto:")


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


def render(release: Release, ctx: RenderContext) -> list[dict[str, Any]]:
    payload = TelegramChannel.render(release, body_parts(release), ctx)
    assert set(payload) == {"messages"}
    return list(payload["messages"])


def shown(messages: list[dict[str, Any]]) -> list[tuple[str, list[Entity]]]:
    """Each message as a Telegram client shows it; fails if Telegram would refuse one."""
    result = []
    for message in messages:
        assert message["parse_mode"] == "HTML"
        if "photo" in message:
            assert set(message) == {"photo", "caption", "parse_mode"}
            visible, entities = parse(message["caption"])
            assert utf16_len(visible) <= TelegramChannel.max_caption
        else:
            assert set(message) == {"text", "parse_mode"}
            visible, entities = parse(message["text"])
            assert visible, "no empty message"
            assert utf16_len(visible) <= TelegramChannel.max_text
        for entity in entities:
            if entity.type == "text_link":
                assert entity.url is not None and entity.url.startswith(LINKS_OK), entity
        result.append((visible, entities))
    return result


def text_of(messages: list[dict[str, Any]]) -> str:
    return "\n\n".join(
        v for (v, _), m in zip(shown(messages), messages, strict=True) if "text" in m
    )


def words(text: str) -> list[str]:
    return text.split()


LONG_BODY = "\n\n".join(
    f"Paragraph {n}: the delegation stressed the urgent need for shelter, healthcare and "
    "unfettered humanitarian aid to the people displaced from Idlib and rural Aleppo. " * 6
    for n in range(1, 30)
)
ARABIC = {
    "title": "الائتلاف الوطني يدين قصف إدلب",
    "summary": "قصفت طائرات النظام أحياء سكنية في إدلب.",
    "source": "الدائرة الإعلامية",
    "language": "ar",
    "body": "أكد الائتلاف الوطني أن **القصف** استهدف المدنيين.\n\nهل يتحرك المجتمع الدولي؟ " * 80,
}
EMOJI_BODY = "Solidarity 🇸🇾🤝🏽 " * 700 + "\n\n" + "🕊" * 3000
URL_BODY = "\n".join(
    f"- [Report {n}](https://example.org/reports/{n}?lang=en&page={n}) and "
    f"https://example.org/raw/{n}"
    for n in range(200)
)
HOSTILE_BODY = """Visible start <script>alert('x')</script> after script.

<p onclick="steal()">Clicked paragraph</p> <a href="javascript:alert(1)">bad link</a>
<iframe src="https://evil.example"></iframe> <b>unclosed bold
<i>stray italic</b> tail&nbsp;word &amp; <style>p{}</style> <img src=x onerror=alert(1) alt="map">

<div><table><tr><td>cell one</td><td>cell two</td></tr></table></div> </u></i> end"""


@pytest.mark.parametrize(
    ("name", "fields", "min_messages", "expect_words"),
    [
        ("short", {}, 1, ["bombing", "defense"]),
        ("long", {"body": LONG_BODY}, 4, ["Paragraph", "1:", "29:"]),
        ("arabic", ARABIC, 2, ["الائتلاف", "المجتمع", "الدولي؟"]),
        ("emoji heavy", {"body": EMOJI_BODY}, 3, ["Solidarity", "🕊" * 10]),
        ("url heavy", {"body": URL_BODY}, 3, ["Report", "https://example.org/raw/199"]),
        ("hostile", {"body": HOSTILE_BODY}, 1, ["Visible", "Clicked", "cell", "tail\u00a0word"]),
    ],
)
def test_render_cases(
    name: str,
    fields: dict[str, Any],
    min_messages: int,
    expect_words: list[str],
    ctx: RenderContext,
) -> None:
    release = make_release(**fields)
    messages = render(release, ctx)
    assert len(messages) >= min_messages
    text = text_of(messages)
    for word in expect_words:
        assert word in text, word
    # Title first (bold), the web page linked last.
    first_visible, first_entities = shown(messages)[0]
    assert first_visible.startswith(release.title)
    assert first_entities[0] == Entity("bold", 0, utf16_len(release.title))
    _last_visible, last_entities = shown(messages)[-1]
    assert last_entities[-1].url == f"{PUBLIC_URL}/releases/{release.id}/"
    # Nothing of the body is lost or reordered between messages (a word longer than a
    # message, like 3000 doves, is the only thing cut, hence the comparison without spaces).
    assert "".join(words(to_text(release.body))) in "".join(words(text))


def to_text(markdown: str) -> str:
    """The visible text of a Markdown body as Telegram shows it."""
    return parse(to_telegram_html(markdown_to_html(markdown)))[0]


def test_short_release_reads_title_date_lede_body_source_link(ctx: RenderContext) -> None:
    messages = render(make_release(), ctx)
    assert len(messages) == 1
    [(visible, entities)] = shown(messages)
    assert visible == (
        "Assad regime kills dozens of civilians in Idlib\n"
        "February 11, 2020\n\n"
        "Jets bombed residential neighborhoods of Idlib.\n\n"
        "The bombing caused massive destruction.\n\n"
        "Civil defense teams rushed in.\n\n"
        "Source: Department of Media and Communications\n\n"
        "Read on the website"
    )
    kinds = [(e.type, visible[e.offset : e.offset + e.length]) for e in entities]
    assert kinds == [
        ("bold", "Assad regime kills dozens of civilians in Idlib"),
        ("italic", "Jets bombed residential neighborhoods of Idlib."),
        ("text_link", "Read on the website"),
    ]
    assert (
        entities[-1].url
        == f"{PUBLIC_URL}/releases/2020-02-11-assad-regime-kills-dozens-of-civilians-in-idlib/"
    )


def test_long_release_is_cut_at_paragraphs(ctx: RenderContext) -> None:
    messages = render(make_release(body=LONG_BODY), ctx)
    texts = [v for v, _ in shown(messages)]
    assert len(texts) >= 4
    # Every message but the first starts a paragraph, and none ends mid-paragraph.
    for visible in texts[1:-1]:
        assert visible.startswith("Paragraph")
        assert visible.endswith("Aleppo.")
    assert texts[-1].endswith("Read on the website")


def test_emoji_count_two_units(ctx: RenderContext) -> None:
    """A dove is 1 character but 2 UTF-16 units: a message holds 2048 of them, not 4096."""
    messages = render(make_release(body="🕊" * 5000), ctx)
    texts = [v for v, _ in shown(messages)]
    assert "".join(texts).count("🕊") == 5000
    assert max(t.count("🕊") for t in texts) == 2048
    assert max(utf16_len(t) for t in texts) == 4096


def test_arabic_release_reads_in_order_in_arabic(ctx: RenderContext) -> None:
    release = make_release(**{**ARABIC, "body": "أكد الائتلاف أن القصف استهدف المدنيين."})
    [(visible, _entities)] = shown(render(release, ctx))
    lines = visible.split("\n")
    assert lines[0] == ARABIC["title"]
    assert "فبراير" in lines[1]  # the date in Arabic, by Babel
    assert lines[3] == ARABIC["summary"]
    assert lines[5] == "أكد الائتلاف أن القصف استهدف المدنيين."
    assert lines[7] == "المصدر: الدائرة الإعلامية"
    assert lines[9] == "اقرأ البيان على الموقع"


def test_hostile_html_never_reaches_telegram(ctx: RenderContext) -> None:
    messages = render(make_release(body=HOSTILE_BODY), ctx)
    raw = " ".join(m["text"] for m in messages)
    for bad in ("<script", "alert('x')", "onclick", "steal", "javascript:", "<iframe", "evil",
                "&nbsp;", "<style", "onerror", "<div", "<table", "<td", "<p"):  # fmt: skip
        assert bad not in raw, bad
    text = text_of(messages)
    for kept in ("Visible start after script.", "Clicked paragraph", "bad link", "map",
                 "cell one | cell two", "unclosed bold", "stray italic", "end"):  # fmt: skip
        assert kept in text, kept


def test_title_summary_and_source_are_plain_text(ctx: RenderContext) -> None:
    release = make_release(
        title="<b>Bold?</b> & <a href='x'>co</a>",
        summary="1 < 2 &amp; 3 > 2",
        source="**not bold** <i>",
    )
    [(visible, entities)] = shown(render(release, ctx))
    assert visible.startswith("<b>Bold?</b> & <a href='x'>co</a>\n")
    assert "1 < 2 &amp; 3 > 2" in visible
    assert "Source: **not bold** <i>" in visible
    assert [e.type for e in entities] == ["bold", "italic", "text_link"]


def test_override_replaces_title_lede_and_body(ctx: RenderContext) -> None:
    release = make_release(
        overrides={"telegram": {"text": "**Breaking:** see [the map](https://example.org/map)."}}
    )
    [(visible, entities)] = shown(render(release, ctx))
    assert visible == (
        "Breaking: see the map.\n\n"
        "Source: Department of Media and Communications\n\n"
        "Read on the website"
    )
    assert [(e.type, e.url) for e in entities] == [
        ("bold", None),
        ("text_link", "https://example.org/map"),
        ("text_link", f"{PUBLIC_URL}/releases/{release.id}/"),
    ]


@pytest.mark.parametrize(
    ("markdown", "telegram"),
    [
        ("# Heading **bold**", "<b>Heading bold</b>"),
        ("para one\nsoft break\n\npara two", "para one soft break\n\npara two"),
        ("line one  \nline two", "line one\nline two"),
        ("- one\n- two", "• one\n• two"),
        ("3. three\n4. four", "3. three\n4. four"),
        ("- outer\n  - inner", "• outer\n   • inner"),
        ("| A | B |\n|---|---|\n| 1 | 2 |", "<b>A</b> | <b>B</b>\n1 | 2"),
        ("![a map](map.png) ![](x.png)", "a map"),
        (
            "*it* __b__ ~~gone~~ <u>u</u> <ins>i</ins>",
            "<i>it</i> <b>b</b> <s>gone</s> <u>u</u> <u>i</u>",
        ),
        ("`a < b` and **bold `code`**", "<code>a &lt; b</code> and <b>bold code</b>"),
        ("```python\nx = 1 & 2\n```", "<pre>x = 1 &amp; 2</pre>"),
        ("> quoted\n>\n> > nested", "<blockquote>quoted\n\nnested</blockquote>"),
        ('[site](https://x.org/?a=1&b=2 "t")', '<a href="https://x.org/?a=1&amp;b=2">site</a>'),
        ("[mail](mailto:press@x.org)", '<a href="mailto:press@x.org">mail</a>'),
        ('<a href="ftp://x.org">ftp</a> <a href="javascript:x()">js</a>', "ftp js"),
        ("a&nbsp;b &copy; &#x27;q&#x27;", "a\u00a0b © 'q'"),
        ("x <sup>2</sup> <abbr>UN</abbr>", "x 2 UN"),
        ("one\n\n---\n\ntwo", "one\n\ntwo"),
        ("<b></b>**  **text", "** **text"),
    ],
)
def test_body_html_becomes_telegram_html(markdown: str, telegram: str) -> None:
    assert to_telegram_html(markdown_to_html(markdown)) == telegram
    parse(telegram)


def test_images_follow_as_photos(ctx: RenderContext, tmp_path: Path) -> None:
    (tmp_path / "map.jpg").write_bytes(b"\xff\xd8\xff")
    release_file = tmp_path / "release.md"
    release = release_from_mapping(
        {
            "title": "Delegation in Berlin",
            "date": "2020-02-11",
            "body": "The delegation met the envoy.",
            "images": [
                {"src": "map.jpg", "alt": "Map of <Idlib> & Aleppo"},
                {"src": "https://example.org/p.jpg", "caption": "Envoy & delegation", "alt": "x"},
                {"src": "https://example.org/q.jpg", "caption": "word " * 400},
                {"src": "https://example.org/r.jpg"},
            ],
        },
        name=str(release_file),
        base_dir=tmp_path,
    )
    messages = render(release, ctx)
    views = shown(messages)
    assert [m.get("photo") for m in messages] == [
        None,
        os.path.abspath(tmp_path / "map.jpg"),
        "https://example.org/p.jpg",
        "https://example.org/q.jpg",
        "https://example.org/r.jpg",
    ]
    assert views[1][0] == "Map of <Idlib> & Aleppo"
    assert messages[1]["caption"] == "Map of &lt;Idlib&gt; &amp; Aleppo"
    assert views[2][0] == "Envoy & delegation"
    long_caption = views[3][0]
    assert utf16_len(long_caption) <= 1024 and long_caption.endswith("word…")
    assert messages[4]["caption"] == ""


def test_channel_declares_telegram_limits() -> None:
    assert TelegramChannel.name == "telegram"
    assert (TelegramChannel.max_text, TelegramChannel.max_caption) == (4096, 1024)
    assert TelegramChannel.parse_mode == "HTML"
    assert TelegramChannel.rate_per_s == 30


def test_a_template_writing_other_tags_is_refused(tmp_path: Path) -> None:
    (tmp_path / "telegram").mkdir()
    (tmp_path / "telegram" / "message.html").write_text("<div>{{ title }}</div>\n")
    ctx = RenderContext(PUBLIC_URL, 5, "Org", Templates(tmp_path))
    with pytest.raises(RenderError, match="<div>, which Telegram does not accept"):
        render(make_release(), ctx)


def test_a_user_template_is_used_and_still_split(tmp_path: Path) -> None:
    (tmp_path / "telegram").mkdir()
    (tmp_path / "telegram" / "message.html").write_text(
        "<u>{{ title }}</u>&nbsp;{{ date | date(language) }}\n\n{{ body }}\n"
    )
    ctx = RenderContext(PUBLIC_URL, 5, "Org", Templates(tmp_path))
    messages = render(make_release(body=LONG_BODY), ctx)
    views = shown(messages)
    assert views[0][0].startswith("Assad regime kills dozens of civilians in Idlib\u00a0February")
    assert views[0][1][0].type == "underline"
    assert len(views) >= 4
