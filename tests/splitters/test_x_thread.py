"""X threads: every post within 280 weighted characters, as twitter-text counts them."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from twitter_text import parse_tweet

from publisher.splitters.x_thread import (
    ELLIPSIS,
    MAX_WEIGHT,
    clean_text,
    pack_thread,
    weighted_length,
)

LINK = "https://press.example.org/releases/2020-02-11-idlib/"
NUMBER = re.compile(r"^(\d+)/(\d+) ")
CJK = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff。！？]")


def contents(posts: list[str], cut: bool) -> list[str]:
    """What each post says of the release: without numbering, link and ellipsis."""
    result = []
    for index, post in enumerate(posts):
        text = NUMBER.sub("", post) if len(posts) > 1 else post
        if index == len(posts) - 1:
            assert text.endswith(LINK)
            text = text[: -len(LINK)].rstrip()
            if cut:
                assert text.endswith(ELLIPSIS)
                text = text[: -len(ELLIPSIS)]
        result.append(text)
    return result


def squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


def check_thread(
    first: list[str], body: list[str], max_posts: int, *, whole_words: bool = True
) -> tuple[list[str], bool]:
    """Pack, then check what must hold for any release; returns (posts, cut)."""
    posts, cut = pack_thread(first, body, LINK, max_posts)
    assert 1 <= len(posts) <= max_posts
    for post in posts:
        parsed = parse_tweet(post)
        assert parsed.weightedLength <= MAX_WEIGHT, post
        assert parsed.valid, post
    assert LINK in posts[-1]
    if len(posts) > 1:
        assert [NUMBER.match(p).groups() for p in posts] == [  # type: ignore[union-attr]
            (str(n), str(len(posts))) for n in range(1, len(posts) + 1)
        ]
    said = squeeze("".join(contents(posts, cut)))
    full = squeeze(clean_text(" ".join(first + body)))
    if not cut:
        assert said == full
    else:
        assert said and full.startswith(said) and said != full
        last = contents(posts, cut)[-1]
        if whole_words and re.search(r"\s", last.strip()):
            # Cut where a word ends (or between two CJK characters), never inside a word.
            words = clean_text(" ".join(first + body)).split()
            ends = {len("".join(words[: n + 1])) for n in range(len(words))}
            at = len(said)
            assert at in ends or CJK.match(full[at - 1]) or CJK.match(full[at]), (said, full)
    return posts, cut


def test_short_text_is_one_unnumbered_post() -> None:
    posts, cut = check_thread(["Talks resume", "Delegations meet in Geneva."], ["On Monday."], 5)
    assert posts == [f"Talks resume\n\nDelegations meet in Geneva.\n\nOn Monday.\n\n{LINK}"]
    assert not cut


def test_thread_starts_the_body_on_a_new_post() -> None:
    body = ["The delegation met the envoy in Berlin. " * 4, "It stressed the need for aid. " * 5]
    posts, cut = check_thread(["Delegation meets envoy", "A short lede."], body, 5)
    assert posts[0] == f"1/{len(posts)} Delegation meets envoy\n\nA short lede."
    assert not cut


def test_long_text_is_cut_with_ellipsis_and_link() -> None:
    body = ["Every sentence here is plain English prose about the release. " * 200]
    posts, cut = check_thread(["Title"], body, 5)
    assert cut and len(posts) == 5
    assert posts[-1].endswith(f"{ELLIPSIS}\n\n{LINK}")


def test_sentence_is_kept_whole_when_it_fits_a_post() -> None:
    short = "Short one. " * 20
    long_sentence = "This sentence is rather long but still fits in one post " * 4 + "easily."
    posts, _ = check_thread(["Title"], [short + long_sentence], 5)
    assert any(NUMBER.sub("", p).startswith("This sentence") for p in posts)


def test_long_word_is_cut_between_characters() -> None:
    word = "Donaudampfschifffahrtsgesellschaft" * 12  # 408 letters, no space
    posts, cut = check_thread(["Title"], [word], 5)
    assert not cut and len(posts) == 3  # the title, then the word in two parts (and the link)
    assert squeeze("".join(contents(posts, cut))) == "Title" + word


def test_urls_count_23_and_are_never_cut() -> None:
    urls = [f"https://example.org/{'path' * 20}/{n}" for n in range(30)]  # 100 characters each
    posts, _ = check_thread(["Links"], [" ".join(urls)], 25)
    shown = " ".join(posts)
    assert all(url in shown for url in urls)
    # 30 URLs at 23 (plus a space) fit in a few posts, not in the 12 their characters would need.
    assert len(posts) <= 5


def test_cjk_without_spaces_is_cut_between_characters() -> None:
    text = "日本語の文章には空白がありません" * 40  # 640 characters, weight 1280
    posts, cut = check_thread(["見出し"], [text], 25)
    assert not cut
    assert all(parse_tweet(p).weightedLength >= 250 for p in posts[1:-1])


def test_emoji_sequences_are_never_split() -> None:
    family = "👨\u200d👩\u200d👧"
    text = (family + "🇸🇾" + "👍🏽") * 150  # no spaces at all
    posts, _ = check_thread(["Emoji"], [text], 25)
    for content in contents(posts, False)[1:]:
        assert re.fullmatch(f"(?:{family}|🇸🇾|👍🏽)+", content.strip()), content


def test_link_moves_to_the_next_post_rather_than_overflowing() -> None:
    body = ["x" * 270]
    posts, cut = check_thread(["Title"], body, 5)
    assert not cut
    assert len(posts) == 3 and NUMBER.sub("", posts[-1]).strip().endswith(LINK)


def test_a_single_allowed_post_is_cut_without_numbering() -> None:
    posts, cut = check_thread(["Title", "The lede."], ["Word " * 100], 1)
    assert cut and len(posts) == 1 and not NUMBER.match(posts[0])
    assert posts[0].startswith("Title\n\nThe lede.")


def test_weighted_length_matches_twitter_text() -> None:
    for text in [
        "plain words", "مرحبا بالعالم", "日本語", "see https://example.com/a and x.com",
        "👨\u200d👩\u200d👧 family", "© ® …", "U.S. e.g. 3.5", "مd.et",
    ]:  # fmt: skip
        assert weighted_length(text) == parse_tweet(text).weightedLength, text


def test_a_link_too_long_for_any_post_is_refused() -> None:
    with pytest.raises(ValueError, match="link"):
        pack_thread(["Title"], ["Body."], "http://localhost/" + "a" * 300, 5)


# Property-based: any mix of scripts, emoji, URLs and long words.
LATIN = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDE", min_size=1, max_size=12)
ARABIC = st.text(alphabet="ابتثجحخدذرزسشصضطظعغفقكلمنهوي", min_size=1, max_size=10)
HAN = st.text(alphabet="日本語中文漢字の文章です。！？", min_size=1, max_size=30)
EMOJI = st.sampled_from(["😷", "👍🏽", "👨\u200d👩\u200d👧", "🇸🇾", "#️⃣", "©", "❤️"])
URL = st.builds(
    "{}://{}.{}/{}".format,
    st.sampled_from(["http", "https"]),
    st.text(alphabet="abcxyz", min_size=1, max_size=10),
    st.sampled_from(["com", "org", "sy", "co.uk"]),
    st.text(alphabet="abc/-_", max_size=60),
) | st.sampled_from(["example.com", "t.co/abc", "x.com", "U.S.", "e.g.", "3.5%", "مd.et"])
PUNCT = st.sampled_from([".", ",", "!", "?", "؟", "…", "»", '"', "(", ")", "-"])
LONG = st.text(alphabet="abcdefgh", min_size=200, max_size=400)
TOKEN = st.one_of(LATIN, LATIN, ARABIC, HAN, EMOJI, URL, PUNCT)
SPACE = st.sampled_from([" ", " ", " ", ". ", "\n", "。", "", "\u00a0"])


@st.composite
def paragraphs(draw: st.DrawFn, long_words: bool) -> list[str]:
    tokens = TOKEN | LONG if long_words else TOKEN
    result = []
    for _ in range(draw(st.integers(1, 8))):
        words = draw(st.lists(st.tuples(tokens, SPACE), min_size=1, max_size=80))
        text = "".join(w + s for w, s in words).strip()
        if text:
            result.append(text)
    return result or ["Body."]


@settings(max_examples=200, deadline=None)
@given(
    body=paragraphs(long_words=False),
    lede=st.lists(TOKEN, max_size=20).map(" ".join),
    max_posts=st.sampled_from([1, 2, 3, 5, 25]),
)
def test_any_text_packs_into_valid_posts(body: list[str], lede: str, max_posts: int) -> None:
    first = ["Press release"] + ([lede] if lede.strip() else [])
    check_thread(first, body, max_posts)


@settings(max_examples=100, deadline=None)
@given(body=paragraphs(long_words=True), max_posts=st.integers(1, 25))
def test_any_text_with_long_words_packs_into_valid_posts(body: list[str], max_posts: int) -> None:
    check_thread(["Press release"], body, max_posts, whole_words=False)


@settings(max_examples=100, deadline=None)
@given(text=st.text(min_size=1, max_size=600), max_posts=st.sampled_from([1, 3, 5]))
def test_arbitrary_unicode_never_breaks_the_limit(text: str, max_posts: int) -> None:
    posts, _ = pack_thread(["Title"], [text], LINK, max_posts)
    assert len(posts) <= max_posts and LINK in posts[-1]
    for post in posts:
        assert parse_tweet(post).weightedLength <= MAX_WEIGHT
        assert parse_tweet(post).valid


@settings(max_examples=300, deadline=None)
@given(text=paragraphs(long_words=False).map("\n\n".join) | st.text(max_size=400))
def test_weighted_length_matches_twitter_text_on_any_text(text: str) -> None:
    # the newsroom's per-post counters use weighted_length: it must be twitter-text's own count
    assert weighted_length(text) == parse_tweet(text).weightedLength


def test_a_word_that_weighs_more_at_the_start_of_a_post_still_fits() -> None:
    # twitter-text finds the URL "d.et" in "مd.et" only at the very start of a text (24, not 5).
    for filler in range(225, 250):
        check_thread(["مd.et"], ["a" * filler], 5)
