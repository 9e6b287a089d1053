"""Splitting Telegram HTML: every part is what Telegram accepts, fits, and loses no word.

Parts are read back with the strict Telegram HTML peer (`tests.peers.telegram_html`), which
counts what Telegram counts: the visible text after entities, in UTF-16 code units.
"""

from __future__ import annotations

import html
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from publisher.channels.telegram import to_telegram_html
from publisher.render import markdown_to_html
from publisher.splitters.telegram_html import split_telegram_html, unsupported_tags
from tests.peers.telegram_html import Entity, parse, utf16_len

FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # one grapheme, 8 UTF-16 code units


def read(parts: list[str], limit: int) -> list[tuple[str, list[Entity]]]:
    """Each part as Telegram would show it; fails on anything Telegram would refuse or cut."""
    shown = []
    for part in parts:
        visible, entities = parse(part)  # strict: raises TelegramHTMLError
        assert visible, f"empty part in {parts!r}"
        assert utf16_len(visible) <= limit, (utf16_len(visible), limit)
        assert part == part.strip(" \t\n\r\v\f"), "parts are trimmed"
        shown.append((visible, entities))
    return shown


def assert_words_kept(expected: list[str], parts: list[str]) -> None:
    """The words come out in order; a word may only be cut where one part ends."""
    pieces: list[tuple[str, bool]] = []  # (word, first word of its part)
    for visible, _entities in read(parts, 10**9):
        pieces += [(word, i == 0) for i, word in enumerate(visible.split())]
    at = 0
    for word in expected:
        assert at < len(pieces), f"lost {word!r} and what follows"
        got = pieces[at][0]
        at += 1
        while got != word and at < len(pieces) and pieces[at][1] and word.startswith(got):
            got += pieces[at][0]
            at += 1
        assert got == word, f"expected {word!r}, got {got!r}"
    assert at == len(pieces), f"extra words: {pieces[at:]!r}"


def visible_words(telegram_html: str) -> list[str]:
    return parse(telegram_html)[0].split()


PARAGRAPH = "The delegation stressed the need for aid. " * 70  # 2940 characters


@pytest.mark.parametrize(
    ("name", "source", "limit", "expected"),
    [
        (
            "fits as it is",
            "<b>Title</b>\n\nBody &amp; more.",
            4096,
            ["<b>Title</b>\n\nBody &amp; more."],
        ),
        ("whitespace only", " \n\n <b> </b> \n", 4096, []),
        ("trimmed", "\n\n  <i>  lede </i>\n", 4096, ["<i>lede</i>"]),
        ("paragraph first", "one two.\n\nthree four", 12, ["one two.", "three four"]),
        ("line next", "• one two\n• three", 12, ["• one two", "• three"]),
        ("sentence next", "One two. Three four.", 12, ["One two.", "Three four."]),
        ("word next", "alpha beta gamma delta", 12, ["alpha beta", "gamma delta"]),
        ("hard cut last", "abcdefghij", 4, ["abcd", "efgh", "ij"]),
        ("arabic question mark", "هل هذا صحيح؟ نعم هو كذلك", 14, ["هل هذا صحيح؟", "نعم هو كذلك"]),
        ("urdu full stop", "یہ پہلا ہے۔ دوسرا", 12, ["یہ پہلا ہے۔", "دوسرا"]),
        ("cjk full stop, no spaces", "今天开会。明天出发。", 6, ["今天开会。", "明天出发。"]),
        ("closing quote stays", "He said “go.” Then left", 14, ["He said “go.”", "Then left"]),
        ("emoji count two", "😀" * 5, 4, ["😀😀", "😀😀", "😀"]),
        ("joiner sequence kept whole", "ab" + FAMILY, 9, ["ab", FAMILY]),
        ("combining mark kept", "abcde\u0301f", 5, ["abcd", "e\u0301f"]),
        ("entity is one char", "&amp;" * 6, 4, ["&amp;" * 4, "&amp;" * 2]),
        ("numeric refs normalised", "&#60;&#x3E; &#128512;", 10, ["&lt;&gt; \U0001f600"]),
        ("named entities decoded", "a&nbsp;b &copy;", 10, ["a\u00a0b ©"]),
        ("bare specials escaped", "a < b & c > d", 20, ["a &lt; b &amp; c &gt; d"]),
        (
            "tags closed and reopened",
            '<b>one two <a href="https://x.org/?a=1&amp;b=2">three four</a></b>',
            13,
            [
                '<b>one two <a href="https://x.org/?a=1&amp;b=2">three</a></b>',
                '<b><a href="https://x.org/?a=1&amp;b=2">four</a></b>',
            ],
        ),
        (
            "nested block reopened in order",
            "<blockquote><i>alpha beta gamma</i></blockquote>",
            11,
            ["<blockquote><i>alpha beta</i></blockquote>", "<blockquote><i>gamma</i></blockquote>"],
        ),
        ("tag in the dropped space", "alpha <b>beta</b>", 6, ["alpha", "<b>beta</b>"]),
        ("empty element at the cut", "alpha<i></i> beta", 6, ["alpha", "beta"]),
        (
            "attribute values quoted and escaped",
            "<a href=https://x.org/?a=1&b=2>x</a> <blockquote expandable>y</blockquote>",
            10,
            ['<a href="https://x.org/?a=1&amp;b=2">x</a> <blockquote expandable>y</blockquote>'],
        ),
        (
            "tag names lowercased",
            '<B>x</B> <A HREF="https://x.org">y</A>',
            10,
            ['<b>x</b> <a href="https://x.org">y</a>'],
        ),
        ("unmatched end tag dropped", "alpha</b> beta", 20, ["alpha beta"]),
        ("unclosed tag closed", "<b>alpha beta", 20, ["<b>alpha beta</b>"]),
        (
            "pre keeps its lines",
            "<pre>a = 1\nb = 2</pre>",
            5,
            ["<pre>a = 1</pre>", "<pre>b = 2</pre>"],
        ),
    ],
)
def test_split(name: str, source: str, limit: int, expected: list[str]) -> None:
    parts = split_telegram_html(source, limit)
    assert parts == expected
    read(parts, limit)


def test_paragraphs_are_never_merged_with_a_cut_one() -> None:
    """Three paragraphs of 2940 characters: one per message, none split."""
    text = "\n\n".join([PARAGRAPH.strip()] * 3)
    parts = split_telegram_html(text, 4096)
    assert parts == [PARAGRAPH.strip()] * 3


def test_a_long_paragraph_ends_parts_at_sentences() -> None:
    parts = split_telegram_html(PARAGRAPH * 4, 4096)
    assert len(parts) == 3
    assert all(part.endswith("aid.") for part in parts)
    assert_words_kept(PARAGRAPH.split() * 4, parts)


def test_long_word_is_cut_to_fill_the_limit() -> None:
    parts = split_telegram_html("x" * 10_000, 4096)
    assert [len(p) for p in parts] == [4096, 4096, 1808]


def test_emoji_fill_in_utf16_units() -> None:
    """1 emoji = 2 UTF-16 code units: 3000 emoji (6000 units) need two messages of 4096."""
    parts = split_telegram_html("🎉" * 3000, 4096)
    assert [utf16_len(parse(p)[0]) for p in parts] == [4096, 1904]


def test_limit_below_one_emoji_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        split_telegram_html("text", 1)


def test_unsupported_tags() -> None:
    assert unsupported_tags('<b>a</b><div class="x">b</div><BR/><tg-spoiler>c</tg-spoiler>') == [
        "br",
        "div",
    ]


def test_a_100_kb_body_splits_in_a_few_ms() -> None:
    paragraph = (
        "The delegation met <b>Robert Rohde</b>, Germany's envoy, in "
        '<a href="https://example.org/berlin?a=1&amp;b=2">Berlin</a>; they stressed the need '
        "for aid &amp; shelter. وأكد الوفد على ضرورة الحماية؟ 会谈取得成果。 🇸🇾 "
    ) * 6
    source = "\n\n".join([paragraph] * 130)
    assert len(source) > 100_000
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        parts = split_telegram_html(source, 4096)
        best = min(best, time.perf_counter() - started)
    read(parts, 4096)
    assert best < 0.025, f"{best * 1000:.1f} ms"


# -- properties --------------------------------------------------------------------------------

LETTERS = st.sampled_from(
    [
        st.characters(min_codepoint=0x61, max_codepoint=0x7A),  # Latin
        st.characters(min_codepoint=0x621, max_codepoint=0x64A),  # Arabic letters
        st.characters(min_codepoint=0x4E00, max_codepoint=0x4FFF),  # CJK ideographs
        st.characters(min_codepoint=0x1F600, max_codepoint=0x1F64F),  # emoji (2 units)
        st.sampled_from(["<", ">", "&", '"', "'", "\u00a0", "\u0301", "\u200d", "\ufe0f"]),
    ]
).flatmap(lambda alphabet: st.text(alphabet, min_size=1, max_size=12))
PUNCTUATION = st.sampled_from(["", "", "", ".", "!", "?", "؟", "۔", "。", "！", ",", "…"])
WORD = st.one_of(
    st.tuples(LETTERS, PUNCTUATION).map("".join),
    st.just(FAMILY),
    st.text(st.characters(min_codepoint=0x61, max_codepoint=0x7A), min_size=40, max_size=300),
)
PARAGRAPHS = st.lists(st.lists(WORD, min_size=1, max_size=40), min_size=1, max_size=12)
LIMITS = st.sampled_from([8, 16, 50, 200, 1024, 4096])
TAGS = st.sampled_from(
    [
        ("<b>", "</b>"),
        ("<i>", "</i>"),
        ("<u>", "</u>"),
        ("<s>", "</s>"),
        ("<tg-spoiler>", "</tg-spoiler>"),
        ('<span class="tg-spoiler">', "</span>"),
        ("<code>", "</code>"),
        ('<a href="https://example.org/?q=1&amp;r=%22x%22">', "</a>"),
        ("<blockquote>", "</blockquote>"),
    ]
)
PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def telegram_documents(draw: st.DrawFn) -> tuple[str, list[str]]:
    """Telegram HTML built from paragraphs of words, some wrapped in tags; and its words."""
    blocks = []
    words: list[str] = []
    for paragraph in draw(PARAGRAPHS):
        words += " ".join(paragraph).split()  # a no-break space separates words too
        escaped = [html.escape(w, quote=False) for w in paragraph]
        if draw(st.booleans()):
            first = draw(st.integers(0, len(escaped) - 1))
            last = draw(st.integers(first, len(escaped) - 1))
            opening, closing = draw(TAGS)
            escaped[first] = opening + escaped[first]
            escaped[last] += closing
        separator = draw(st.sampled_from([" ", " ", "\n", "  "]))
        blocks.append(separator.join(escaped))
    return "\n\n".join(blocks), words


@PROPERTY
@given(telegram_documents(), LIMITS)
def test_any_telegram_html_splits_into_valid_parts_losing_no_word(
    document: tuple[str, list[str]], limit: int
) -> None:
    source, words = document
    assert visible_words(source) == words  # the document itself is valid Telegram HTML
    parts = split_telegram_html(source, limit)
    read(parts, limit)
    assert_words_kept(words, parts)


@st.composite
def markdown_documents(draw: st.DrawFn) -> tuple[str, list[str]]:
    """A Markdown body (paragraphs, headings, lists, emphasis, links) and its visible words."""
    blocks = []
    words: list[str] = []
    previous = ""
    for paragraph in draw(PARAGRAPHS):
        # Markdown reads "<x", "&x;" and a leading ">" as markup: keep them out of the way.
        paragraph = [w.replace("<", "< ").replace("&", "& ").replace(">", "") for w in paragraph]
        paragraph = " ".join(paragraph).split()
        if not paragraph:
            continue
        shape = draw(st.sampled_from(["text", "heading", "list", "numbered", "emphasis", "link"]))
        if shape in ("list", "numbered") and previous in ("list", "numbered"):
            shape = "text"  # two lists in a row are one list in Markdown
        previous = shape
        if shape == "heading":
            blocks.append("## " + " ".join(paragraph))
            words += paragraph
        elif shape in ("list", "numbered"):
            items = [paragraph[i : i + 3] for i in range(0, len(paragraph), 3)]
            marker = "-" if shape == "list" else "1."
            blocks.append("\n".join(f"{marker} {' '.join(item)}" for item in items))
            for number, item in enumerate(items, 1):
                words += ["•" if shape == "list" else f"{number}.", *item]
        elif shape == "emphasis":
            blocks.append("**" + " ".join(paragraph) + "**")
            words += paragraph
        elif shape == "link":
            blocks.append("[" + " ".join(paragraph) + "](https://example.org/a_(b)?c=1&d=2)")
            words += paragraph
        else:
            blocks.append(" ".join(paragraph))
            words += paragraph
    return "\n\n".join(blocks), words


@PROPERTY
@given(markdown_documents(), LIMITS)
def test_any_markdown_body_becomes_valid_parts_losing_no_word(
    document: tuple[str, list[str]], limit: int
) -> None:
    markdown, words = document
    telegram = to_telegram_html(markdown_to_html(markdown))
    assert visible_words(telegram) == words
    parts = split_telegram_html(telegram, limit)
    read(parts, limit)
    assert_words_kept(words, parts)


@PROPERTY
@given(st.text(max_size=400), LIMITS)
def test_any_text_at_all_is_split_into_valid_parts(text: str, limit: int) -> None:
    """Arbitrary characters (stray '<' and '&', lone marks, controls) never break a part."""
    parts = split_telegram_html(html.escape(text, quote=False), limit)
    assert_words_kept(text.split(), parts)
    read(parts, limit)
