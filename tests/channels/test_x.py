"""The X channel: what the organisation's account posts for a release."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
from twitter_text import parse_tweet

from publisher import channels
from publisher.channels.x import XChannel
from publisher.errors import RenderError
from publisher.release import Release, release_from_mapping
from publisher.render import RenderContext, Templates, body_parts
from publisher.services import render_all

PUBLIC_URL = "https://press.example.org"
DATA = Path(__file__).resolve().parent.parent / "data"
NUMBER = re.compile(r"^(\d+)/(\d+) ")


def context(x_thread_max: int = 5, templates: Templates | None = None) -> RenderContext:
    return RenderContext(
        public_url=PUBLIC_URL,
        x_thread_max=x_thread_max,
        organisation="Syrian Coalition Press Office",
        templates=templates or Templates(),
    )


def release(**fields: Any) -> Release:
    data = {"title": "Delegation meets the German envoy", "date": "2020-02-11T10:00:00+02:00"}
    data.update(fields)
    return release_from_mapping(data, "releases/test.md")


def posts_of(rel: Release, x_thread_max: int = 5) -> list[str]:
    payload = XChannel.render(rel, body_parts(rel), context(x_thread_max))
    assert set(payload) == {"posts"}
    return [post["text"] for post in payload["posts"]]


def page(rel: Release) -> str:
    return f"{PUBLIC_URL}/releases/{rel.id}/"


def seed_body() -> str:
    return (DATA / "seed_page.txt").read_text(encoding="utf-8")


def arabic_body() -> str:
    return (DATA / "arabic_page.txt").read_text(encoding="utf-8")


LONG_ENGLISH = " ".join(["The delegation stressed the need for humanitarian aid in Idlib."] * 700)
CJK = "イドリブでは民間人への空爆が続いています。国際社会は直ちに行動しなければなりません！" * 60
EMOJI = " ".join(["Aid 🚑🚑 arrived 👨\u200d👩\u200d👧 in Idlib 🇸🇾 today 👍🏽 ❤️"] * 80)
URLS = "\n\n".join(
    " ".join(
        f"[report {n}](https://example.org/reports/2020/02/{'idlib-' * 8}{n})" for n in range(k)
    )
    for k in (6, 9, 12)
)
HOSTILE = """<script>alert("x")</script>

<img src=x onerror="alert(1)"> <a href="javascript:alert(1)">Click here</a> for the report.

<iframe src="https://evil.example"></iframe><style>body{display:none}</style>Civilians were hit.

<p onclick="steal()">Teams rushed to the site.</p>
"""

# (id, release fields, X_THREAD_MAX, expected number of posts, cut)
CASES = [
    ("short", {"summary": "A lede.", "body": "It met in Berlin."}, 5, 1, False),
    ("long-english", {"summary": "A lede.", "body": LONG_ENGLISH}, 5, 5, True),
    ("seed-page", {"summary": "Coalition news of the day.", "body": seed_body()}, 5, 5, True),
    ("arabic", {"title": "وفد من الائتلاف يلتقي المبعوث الألماني", "language": "ar",
                "summary": "شدد الوفد على ضرورة التحرك.", "body": arabic_body()}, 5, 5, True),
    ("cjk", {"title": "イドリブの人道危機", "language": "ja", "body": CJK}, 5, 5, True),
    ("emoji", {"body": EMOJI}, 5, 5, True),
    ("urls", {"body": URLS}, 25, None, False),
    ("hostile-html", {"body": HOSTILE}, 5, None, False),
    ("one-post-allowed", {"summary": "A lede.", "body": LONG_ENGLISH}, 1, 1, True),
    ("twenty-five", {"summary": "A lede.", "body": LONG_ENGLISH}, 25, 25, True),
    ("twenty-five-fits", {"body": seed_body()[:3000]}, 25, None, False),
]  # fmt: skip


@pytest.mark.parametrize(
    ("fields", "x_thread_max", "expected", "cut"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_render_cases(
    fields: dict[str, Any], x_thread_max: int, expected: int | None, cut: bool
) -> None:
    rel = release(**fields)
    posts = posts_of(rel, x_thread_max)
    if expected is not None:
        assert len(posts) == expected
    assert 1 <= len(posts) <= x_thread_max
    for post in posts:
        parsed = parse_tweet(post)
        assert parsed.valid and parsed.weightedLength <= 280, (parsed.weightedLength, post)
    # The last post links to the release's page; a cut thread says so with "…" before it.
    assert posts[-1].endswith(page(rel))
    assert posts[-1].endswith(f"…\n\n{page(rel)}") == cut
    if len(posts) > 1:
        numbers = [NUMBER.match(p).groups() for p in posts]  # type: ignore[union-attr]
        assert numbers == [(str(n), str(len(posts))) for n in range(1, len(posts) + 1)]
        assert NUMBER.sub("", posts[0]).startswith(rel.title)
    else:
        assert posts[0].startswith(rel.title)
    text = "\n".join(posts)
    # Plain text: no markup, no entities, nothing a browser would run.
    assert "<" not in text and "&amp;" not in text and "&lt;" not in text
    assert "javascript:" not in text and "alert" not in text


def test_a_short_release_is_one_post_without_numbering() -> None:
    rel = release(summary="The delegation called for aid.", body="It met in *Berlin*.")
    assert posts_of(rel) == [
        "Delegation meets the German envoy\n\nThe delegation called for aid.\n\n"
        f"It met in Berlin.\n\n{page(rel)}"
    ]


def test_the_first_post_of_a_thread_is_the_title_and_lede() -> None:
    rel = release(summary="The delegation called for aid.", body=seed_body())
    posts = posts_of(rel)
    assert posts[0] == "1/5 Delegation meets the German envoy\n\nThe delegation called for aid."
    assert posts[1].startswith("2/5 Coalition News")


def test_title_and_lede_are_plain_text() -> None:
    rel = release(title="Q&A: <b>aid</b> & \"access\"", summary="Tom & Jerry's <i>lede</i>",
                  body="Body & more.")  # fmt: skip
    (post,) = posts_of(rel)
    assert post.startswith('Q&A: <b>aid</b> & "access"\n\nTom & Jerry\'s <i>lede</i>')
    assert "&amp;" not in post and "&quot;" not in post


def test_body_links_read_as_text_then_url() -> None:
    rel = release(body="Read [Resolution 2254](https://example.org/2254) in full.")
    (post,) = posts_of(rel)
    assert "Read Resolution 2254 (https://example.org/2254) in full." in post


def test_many_urls_each_count_23() -> None:
    rel = release(body=URLS)
    posts = posts_of(rel, 25)
    urls = re.findall(r"https://example\.org/reports/\S+?(?=\))", URLS)
    text = "\n".join(posts)
    assert all(f"({url})" in text for url in urls)  # every URL whole, none cut
    # 27 URLs of 90 characters would need 10 posts by length; at 23 each they need far fewer.
    assert len(posts) <= 5


def test_arabic_thread_reads_in_order() -> None:
    rel = release(title="وفد من الائتلاف يلتقي المبعوث الألماني", language="ar",
                  body=arabic_body())  # fmt: skip
    posts = posts_of(rel)
    assert NUMBER.sub("", posts[0]) == rel.title
    assert "شنّت قوات نظام الأسد" in "".join(posts)


def test_cjk_posts_break_after_sentence_marks() -> None:
    rel = release(title="イドリブの人道危機", language="ja", body=CJK)
    posts = posts_of(rel)
    for post in posts[1:-1]:
        # CJK counts 2, so a full post holds about 135 characters, ending a sentence.
        assert parse_tweet(post).weightedLength >= 230 and post.endswith(("。", "！"))
    body = "".join(NUMBER.sub("", p) for p in posts[1:]).split("…")[0]
    assert CJK.startswith(body)


def test_x_thread_max_one_keeps_the_title_and_the_link() -> None:
    rel = release(summary="A lede.", body=LONG_ENGLISH)
    (post,) = posts_of(rel, 1)
    assert post.startswith("Delegation meets the German envoy\n\nA lede.\n\nThe delegation")
    assert post.endswith(f"…\n\n{page(rel)}")
    # Cut where a word ends.
    assert re.search(r"\b[A-Za-z]+\.?…", post)
    last_word = re.search(r"(\S+)…", post).group(1)  # type: ignore[union-attr]
    assert last_word.rstrip(".") in LONG_ENGLISH.split() or last_word in LONG_ENGLISH.split()


def test_override_thread_is_used_as_given_with_the_link_added() -> None:
    thread = ["Our delegation met Germany's envoy today. 1/2", "We called for aid to Idlib. 2/2"]
    rel = release(body="Ignored.", overrides={"x": {"thread": thread}})
    assert posts_of(rel) == [thread[0], f"{thread[1]}\n\n{page(rel)}"]


def test_override_thread_that_already_links_the_page_is_unchanged() -> None:
    url = f"{PUBLIC_URL}/releases/2020-02-11-delegation-meets-the-german-envoy/"
    thread = [f"Read it here: {url}", "And share it."]
    rel = release(body="Ignored.", overrides={"x": {"thread": thread}})
    assert posts_of(rel) == thread


def test_override_thread_gets_an_extra_post_for_the_link_when_the_last_is_full() -> None:
    thread = ["First.", "x" * 270]
    rel = release(body="Ignored.", overrides={"x": {"thread": thread}})
    assert posts_of(rel) == [*thread, page(rel)]


def test_override_post_over_the_limit_names_the_post() -> None:
    thread = ["One.", "Two.", "y" * 301]
    rel = release(body="Ignored.", overrides={"x": {"thread": thread}})
    with pytest.raises(RenderError) as caught:
        posts_of(rel)
    assert caught.value.channel == "x"
    assert (
        caught.value.message == "overrides.x.thread[2] is 301/280 weighted characters; shorten it"
    )
    assert caught.value.file == "releases/test.md"


def test_override_post_counts_weighted_characters() -> None:
    thread = ["日本語" * 47]  # 141 characters, but 282 weighted
    rel = release(body="Ignored.", overrides={"x": {"thread": thread}})
    with pytest.raises(RenderError, match=r"overrides\.x\.thread\[0\] is 282/280"):
        posts_of(rel)


def test_override_thread_longer_than_the_maximum_is_refused() -> None:
    rel = release(body="Ignored.", overrides={"x": {"thread": ["a", "b", "c"]}})
    with pytest.raises(RenderError, match="has 3 posts but X_THREAD_MAX allows 2"):
        posts_of(rel, 2)


def test_override_thread_without_room_for_the_link_is_refused() -> None:
    rel = release(body="Ignored.", overrides={"x": {"thread": ["a", "z" * 275]}})
    with pytest.raises(RenderError, match=r"no room for the link.*thread\[1\]"):
        posts_of(rel, 2)


def test_templates_can_be_overridden(tmp_path: Path) -> None:
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "first.txt").write_text("{{ title }} | {{ organisation }}\n")
    (tmp_path / "x" / "link.txt").write_text("Full release: {{ url }}\n")
    rel = release(summary="Ignored by this template.", body="It met in Berlin.")
    payload = XChannel.render(rel, body_parts(rel), context(templates=Templates(tmp_path)))
    assert payload["posts"] == [
        {
            "text": "Delegation meets the German envoy | Syrian Coalition Press Office\n\n"
            f"It met in Berlin.\n\nFull release: {page(rel)}"
        }
    ]


def test_each_post_counter_is_twitter_texts_weight() -> None:
    rel = release(
        summary="وفد الائتلاف يلتقي المبعوث 👨\u200d👩\u200d👧 in Berlin, see example.com",
        body="日本語の文章です。" * 40 + "\n\n" + "Word https://example.org/a " * 30,
    )
    payload = render_all(rel, ["x"], context())["channels"]["x"]
    counters = XChannel.counters(payload)
    assert len(counters) > 1
    for label, text in counters:
        assert label.split(": ")[1] == f"{parse_tweet(text).weightedLength}/280", label


def test_registered_and_rendered_with_the_others() -> None:
    assert channels.get("x") is XChannel and XChannel.name == "x" and XChannel.max_text == 280
    rel = release(body="It met in Berlin.")
    rendered = render_all(rel, ["x"], context())
    assert rendered["channels"]["x"]["posts"][0]["text"].endswith(page(rel))


def test_a_long_release_renders_in_a_few_milliseconds() -> None:
    words = seed_body().split()
    body = " ".join(words[n % len(words)] for n in range(5000))
    rel = release(summary="A lede.", body=body)
    body_html = body_parts(rel)
    ctx = context()
    XChannel.render(rel, body_html, ctx)
    runs = 20
    started = time.perf_counter()
    for _ in range(runs):
        XChannel.render(rel, body_html, ctx)
    per_render_ms = (time.perf_counter() - started) / runs * 1000
    print(f"x render of a 5,000-word body: {per_render_ms:.2f} ms")
    assert per_render_ms < 25
