"""The website channel: one full HTML5 page per release, as a reader and a link preview see it."""

from __future__ import annotations

import json
import time
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from publisher import channels
from publisher.channels.website import WebsiteChannel
from publisher.release import Release, release_from_mapping
from publisher.render import RenderContext, Templates, body_parts
from publisher.services import render_all
from publisher.site.page import script_json

PUBLIC_URL = "https://press.example.org"


@pytest.fixture(scope="module")
def ctx() -> RenderContext:
    return RenderContext(
        public_url=PUBLIC_URL,
        x_thread_max=5,
        organisation="Syrian Coalition Press Office",
        templates=Templates(),
    )


class Page(HTMLParser):
    """What a browser or a link-preview bot reads from a page."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.html_attrs: dict[str, str | None] = {}
        self.meta: dict[str, list[str]] = {}
        self.links: list[dict[str, str | None]] = []
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self._script: dict[str, str | None] | None = None
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        if tag == "html":
            self.html_attrs = attributes
        elif tag == "meta":
            key = attributes.get("property") or attributes.get("name")
            if key:
                self.meta.setdefault(key, []).append(attributes.get("content") or "")
        elif tag == "link":
            self.links.append(attributes)
        elif tag == "script":
            self._script = attributes

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._script = None

    def handle_data(self, data: str) -> None:
        if self._script is not None:
            self.scripts.append((self._script, data))
        else:
            self.text.append(data)

    def one(self, key: str) -> str:
        values = self.meta.get(key, [])
        assert len(values) == 1, (key, values)
        return values[0]

    def json_ld(self) -> dict[str, Any]:
        blocks = [
            data for attrs, data in self.scripts if attrs.get("type") == "application/ld+json"
        ]
        assert len(blocks) == 1
        result: dict[str, Any] = json.loads(blocks[0])
        return result

    @property
    def visible_text(self) -> str:
        return " ".join(" ".join(self.text).split())


def english(tmp_path: Path, **extra: Any) -> Release:
    (tmp_path / "idlib.jpg").write_bytes(b"\xff\xd8\xff\xe0 jpeg")
    fields: dict[str, Any] = {
        "id": "2020-02-11-idlib-attack",
        "title": "Regime jets bomb residential neighbourhoods in Idlib",
        "date": "2020-02-11T09:00:00+02:00",
        "language": "en",
        "summary": "Dozens of civilians were killed and injured in the city of Idlib.",
        "source": "Department of Media and Communications",
        "category": "Press Releases",
        "tags": ["Idlib", "Civilians"],
        "images": [
            {"src": "idlib.jpg", "alt": "Rescue teams in Idlib", "caption": "Civil defence"},
            {"src": "https://cdn.example.org/second.jpg", "alt": "Damage"},
        ],
        "links": [{"title": "UN Security Council Resolution 2254", "url": "https://un.org/2254"}],
        "body": "The Assad regime forces on Tuesday launched a deadly attack.\n\n"
        "Every time the regime suffers losses, it exacts revenge on civilians.",
    }
    fields.update(extra)
    return release_from_mapping(fields, "idlib.md", base_dir=tmp_path)


def arabic(**extra: Any) -> Release:
    fields: dict[str, Any] = {
        "id": "2020-02-11-idlib-attack-ar",
        "title": "طائرات النظام تقصف أحياء سكنية في إدلب",
        "date": "2020-02-11T09:00:00+02:00",
        "language": "ar",
        "summary": "استشهد وأصيب عشرات المدنيين في مدينة إدلب.",
        "category": "بيانات صحفية",
        "translation_of": "2020-02-11-idlib-attack",
        "body": "شنت قوات النظام يوم الثلاثاء هجوماً دامياً على المدينة.\n\nفقرة ثانية.",
    }
    fields.update(extra)
    return release_from_mapping(fields)


def render(release: Release, ctx: RenderContext) -> dict[str, Any]:
    return WebsiteChannel.render(release, body_parts(release), ctx)


def test_english_page_has_full_html5_head_and_social_meta(
    tmp_path: Path, ctx: RenderContext
) -> None:
    release = english(tmp_path)
    payload = render(release, ctx)
    url = f"{PUBLIC_URL}/releases/2020-02-11-idlib-attack/"

    assert payload["path"] == "releases/2020-02-11-idlib-attack/index.html"
    html = payload["html"]
    assert html.lower().startswith("<!doctype html>")
    page = Page(html)
    assert page.html_attrs == {"lang": "en", "dir": "ltr"}
    assert ("meta", {"charset": "utf-8"}) in page.tags
    assert page.one("viewport") == "width=device-width, initial-scale=1"
    assert page.one("description") == release.summary
    assert {"rel": "canonical", "href": url} in page.links
    assert page.one("og:title") == release.title
    assert page.one("og:description") == release.summary
    assert page.one("og:url") == url
    assert page.one("og:type") == "article"
    assert page.one("og:locale") == "en_US"
    assert page.meta["og:image"] == [
        f"{url}idlib.jpg",
        "https://cdn.example.org/second.jpg",
    ]
    assert page.one("twitter:card") == "summary_large_image"
    assert page.one("twitter:image") == f"{url}idlib.jpg"
    assert page.one("twitter:title") == release.title


def test_english_page_json_ld_is_a_news_article(tmp_path: Path, ctx: RenderContext) -> None:
    release = english(tmp_path)
    article = Page(render(release, ctx)["html"]).json_ld()

    assert article["@type"] == "NewsArticle"
    assert article["headline"] == release.title
    assert article["datePublished"] == "2020-02-11T09:00:00+02:00"
    assert article["description"] == release.summary
    assert article["inLanguage"] == "en"
    assert article["publisher"]["name"] == "Syrian Coalition Press Office"
    assert article["url"] == f"{PUBLIC_URL}/releases/2020-02-11-idlib-attack/"
    assert article["image"][0] == f"{PUBLIC_URL}/releases/2020-02-11-idlib-attack/idlib.jpg"


def test_english_page_body_shows_everything_a_reader_needs(
    tmp_path: Path, ctx: RenderContext
) -> None:
    page = Page(render(english(tmp_path), ctx)["html"])
    text = page.visible_text

    assert "February 11, 2020" in text
    assert "Press Releases" in text
    assert "launched a deadly attack" in text
    assert "Idlib" in text and "Civilians" in text
    assert "Department of Media and Communications" in text
    assert "Civil defence" in text  # the caption
    images = [attrs for tag, attrs in page.tags if tag == "img"]
    assert images[0]["src"] == f"{PUBLIC_URL}/releases/2020-02-11-idlib-attack/idlib.jpg"
    assert images[0]["alt"] == "Rescue teams in Idlib"
    anchors = [attrs.get("href") for tag, attrs in page.tags if tag == "a"]
    assert "https://un.org/2254" in anchors
    assert "../../categories/press-releases/" in anchors
    assert "../../style.css" in [link.get("href") for link in page.links]


def test_arabic_page_is_right_to_left_with_arabic_dates(ctx: RenderContext) -> None:
    release = arabic()
    page = Page(render(release, ctx)["html"])

    assert page.html_attrs == {"lang": "ar", "dir": "rtl"}
    assert "فبراير" in page.visible_text  # February, in Arabic
    assert page.one("og:locale") == "ar_EG"
    assert page.one("twitter:card") == "summary"
    assert "og:image" not in page.meta
    assert "الرئيسية" in page.visible_text  # "Home": the interface speaks Arabic too
    article = page.json_ld()
    assert article["headline"] == release.title
    assert article["inLanguage"] == "ar"
    assert article["datePublished"] == "2020-02-11T09:00:00+02:00"


def test_translation_links_to_its_original(ctx: RenderContext) -> None:
    page = Page(render(arabic(), ctx)["html"])

    anchors = [attrs.get("href") for tag, attrs in page.tags if tag == "a"]
    assert "../../releases/2020-02-11-idlib-attack/" in anchors
    original = page.json_ld()["translationOfWork"]["@id"]
    assert original == f"{PUBLIC_URL}/releases/2020-02-11-idlib-attack/"


def test_description_falls_back_to_the_start_of_the_body(ctx: RenderContext) -> None:
    release = arabic(summary="", body="كلمة " * 200)
    description = Page(render(release, ctx)["html"]).one("description")

    assert description.startswith("كلمة كلمة")
    assert description.endswith("…")
    assert len(description) <= 201


def test_hostile_html_and_script_title_are_harmless(ctx: RenderContext) -> None:
    title = "</script><script>alert('title')</script> & \"quotes\""
    release = release_from_mapping(
        {
            "title": title,
            "date": "2020-02-11",
            "summary": '"><script>alert("lede")</script>',
            "source": "<img src=x onerror=alert(1)>",
            "category": "<b>News</b>",
            "tags": ["<i>tag</i>"],
            "links": [{"title": "<script>x</script>", "url": 'https://example.org/?a=1&b="2"'}],
            "body": "Hello <script>alert('body')</script> <img src=x onerror=alert(2)> "
            "[click](javascript:alert(3)) <iframe src=https://evil.example></iframe>",
        }
    )
    html = render(release, ctx)["html"]
    page = Page(html)

    # The only script is the JSON-LD, and it still holds the exact title.
    assert [attrs.get("type") for attrs, _ in page.scripts] == ["application/ld+json"]
    assert html.count("<script") == 1
    assert page.json_ld()["headline"] == title
    assert page.one("og:title") == title
    assert page.one("description") == '"><script>alert("lede")</script>'
    attributes = [(name, value or "") for _, attrs in page.tags for name, value in attrs.items()]
    assert not [name for name, _ in attributes if name.startswith("on")]
    assert not [value for _, value in attributes if value.lower().startswith("javascript:")]
    assert all(tag not in {"iframe", "b", "i"} for tag, _ in page.tags)
    assert "<img src=x onerror=alert(1)>" in page.visible_text  # the source, as plain text
    assert title in page.visible_text  # shown as text, not run


def test_script_json_escapes_markup_characters() -> None:
    text = script_json({"headline": "</script><!-- & -->"})

    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text) == {"headline": "</script><!-- & -->"}


def test_registry_and_render_json_shape(tmp_path: Path, ctx: RenderContext) -> None:
    assert channels.get("website") is WebsiteChannel
    rendered = render_all(english(tmp_path), ["website"], ctx)

    assert set(rendered["channels"]["website"]) >= {"path", "html"}
    assert rendered["channels"]["website"]["path"].endswith("/index.html")


def test_one_page_renders_well_under_10_ms(tmp_path: Path, ctx: RenderContext) -> None:
    release = english(tmp_path)
    body = body_parts(release)
    WebsiteChannel.render(release, body, ctx)  # warm the template cache
    runs = 50
    started = time.perf_counter()
    for _ in range(runs):
        WebsiteChannel.render(release, body, ctx)
    per_page_ms = (time.perf_counter() - started) / runs * 1000

    assert per_page_ms < 10
