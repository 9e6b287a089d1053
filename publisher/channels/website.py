"""The website channel: one full HTML5 page per release, plus helpers the site builder shares.

The page carries everything a reader and a link preview need: the sanitised body, the date in
the release's language, images with absolute URLs, OpenGraph and Twitter card meta, and a
JSON-LD NewsArticle. Every value is autoescaped by the template except the body, which
`markdown_to_html` has already sanitised.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape as xml_escape

from babel.core import get_global
from babel.dates import format_skeleton, get_month_names
from feedgen.feed import FeedGenerator

from publisher.channels.base import Channel
from publisher.release import Release, locale_for, slugify
from publisher.render import BodyParts, RenderContext, format_release_date

DESCRIPTION_MAX = 200
# Characters XML 1.0 forbids; a release may carry them, the feed must not.
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")

# Interface words of the pages; a language missing here falls back to English.
LABELS: dict[str, dict[str, str]] = {
    "en": {
        "home": "Home",
        "press_release": "Press release",
        "source": "Source",
        "links": "Related links",
        "tags": "Tags",
        "original": "Original",
        "read_original": "Read the original",
        "also_in": "Also in",
        "latest": "Latest releases",
        "categories": "Categories",
        "archive": "Archive",
        "feed": "Atom feed",
        "no_releases": "No releases yet.",
    },
    "ar": {
        "home": "الرئيسية",
        "press_release": "بيان صحفي",
        "source": "المصدر",
        "links": "روابط ذات صلة",
        "tags": "الوسوم",
        "original": "الأصل",
        "read_original": "اقرأ النص الأصلي",
        "also_in": "متوفر أيضاً بـ",
        "latest": "أحدث البيانات",
        "categories": "التصنيفات",
        "archive": "الأرشيف",
        "feed": "خلاصة Atom",
        "no_releases": "لا توجد بيانات بعد.",
    },
}


@dataclass(frozen=True)
class Translation:
    """Another language version of a release, as known to the site builder."""

    id: str
    language: str
    title: str
    is_original: bool = False


@lru_cache(maxsize=64)
def labels_for(language: str) -> dict[str, str]:
    """The interface words for a language (its primary subtag), English when unknown."""
    return LABELS.get(language.split("-")[0].lower(), LABELS["en"])


@lru_cache(maxsize=64)
def language_name(language: str) -> str:
    """A language's name in itself ("English", "العربية"), for language switch links."""
    locale = locale_for(language)
    return locale.get_display_name(locale) or language


@lru_cache(maxsize=64)
def direction_of(language: str) -> str:
    """`rtl` for a right-to-left language, else `ltr`."""
    return "rtl" if locale_for(language).text_direction == "rtl" else "ltr"


@lru_cache(maxsize=64)
def og_locale(language: str) -> str:
    """OpenGraph's language_TERRITORY form of a BCP 47 tag (en -> en_US, ar -> ar_EG)."""
    locale = locale_for(language)
    territory = locale.territory
    if not territory:
        likely = get_global("likely_subtags").get(locale.language, "")
        territory = likely.rsplit("_", 1)[-1] if "_" in likely else ""
    return f"{locale.language}_{territory}" if territory else locale.language


def category_slug(name: str) -> str:
    """The URL slug of a category: ASCII, or a short hash for names without Latin letters."""
    return slugify(name) or "c-" + hashlib.sha1(name.encode()).hexdigest()[:10]


def category_path(name: str) -> str:
    """A category page's folder inside the site (ends with '/')."""
    return f"categories/{category_slug(name)}/"


def description_of(release: Release, body_text: str) -> str:
    """The lede, or the start of the body cut at a word when there is no lede."""
    if release.summary:
        return release.summary
    first = " ".join(body_text.split("\n\n", 1)[0].split())
    if len(first) <= DESCRIPTION_MAX:
        return first
    cut = first[:DESCRIPTION_MAX].rsplit(" ", 1)[0] or first[:DESCRIPTION_MAX]
    return cut.rstrip(" ,;:.،؛") + "…"


def script_json(data: Any) -> str:
    """JSON safe inside a <script> element: '<', '>' and '&' become \\u escapes."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    # Inside <script> the HTML parser ends the element at '</script'; JSON strings may carry
    # these characters escaped with no change of meaning.
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def news_article(
    release: Release, ctx: RenderContext, description: str, image_urls: Sequence[str]
) -> dict[str, Any]:
    """The schema.org NewsArticle of a release (JSON-LD)."""
    url = ctx.page_url(release)
    article: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "headline": release.title,
        "datePublished": release.date.isoformat(),
        "description": description,
        "inLanguage": release.language,
        "url": url,
        "mainEntityOfPage": url,
        "publisher": {"@type": "Organization", "name": ctx.organisation},
    }
    if image_urls:
        article["image"] = list(image_urls)
    if release.category:
        article["articleSection"] = release.category
    if release.tags:
        article["keywords"] = list(release.tags)
    if release.source:
        article["sourceOrganization"] = {"@type": "Organization", "name": release.source}
    if release.translation_of:
        article["translationOfWork"] = {
            "@id": f"{ctx.public_url}/releases/{release.translation_of}/"
        }
    return article


def page_context(
    release: Release,
    body: BodyParts,
    ctx: RenderContext,
    translations: Sequence[Translation] | None = None,
) -> dict[str, Any]:
    """Everything `website/release.html` is given.

    `translations` is None when the caller does not know the site (a preview): the page then
    links to the original by id alone; the site builder passes the versions that exist.
    """
    page_path = ctx.page_path(release)
    root = "../" * page_path.count("/")
    description = description_of(release, body.text)
    images = [
        {"url": ctx.image_url(release, i.src), "alt": i.alt, "caption": i.caption}
        for i in release.images
    ]
    versions: list[dict[str, Any]] = []
    if translations is None and release.translation_of:
        translations = [Translation(release.translation_of, "", "", is_original=True)]
    for version in translations or ():
        versions.append(
            {
                "url": f"{ctx.public_url}/releases/{version.id}/",
                "path": f"releases/{version.id}/",
                "language": version.language,
                "name": language_name(version.language) if version.language else "",
                "title": version.title,
                "is_original": version.is_original,
            }
        )
    return {
        "release": release,
        "body_html": body.html,
        "lang": release.language,
        "dir": direction_of(release.language),
        "labels": labels_for(release.language),
        "page_title": f"{release.title} – {ctx.organisation}",
        "description": description,
        "canonical": ctx.page_url(release),
        "page_url": ctx.page_url(release),
        "site_url": ctx.public_url,
        "site_title": ctx.organisation,
        "organisation": ctx.organisation,
        "root": root,
        "date_iso": release.date.isoformat(),
        "date_text": format_release_date(release.date, release.language),
        "og_locale": og_locale(release.language),
        "images": images,
        "category_path": category_path(release.category) if release.category else "",
        "versions": versions,
        "json_ld": script_json(news_article(release, ctx, description, [i["url"] for i in images])),
    }


def render_page(
    release: Release,
    body: BodyParts,
    ctx: RenderContext,
    translations: Sequence[Translation] | None = None,
) -> str:
    """The full HTML page of a release."""
    context = page_context(release, body, ctx, translations)
    return ctx.templates.render_html("website/release.html", **context)


def render_listing(
    ctx: RenderContext,
    template: str,
    page_path: str,
    language: str,
    heading: str,
    items: Sequence[dict[str, Any]],
    **extra: Any,
) -> str:
    """A page of the site that lists releases (the index, a category, a month).

    `items` are the site builder's release records (id, title, date, date_text, language,
    dir, path, description).
    """
    folder = page_path.removesuffix("index.html")
    labels = labels_for(language)
    title = ctx.organisation if not folder else f"{heading} – {ctx.organisation}"
    return ctx.templates.render_html(
        template,
        lang=language,
        dir=direction_of(language),
        labels=labels,
        page_title=title,
        description="",
        canonical=f"{ctx.public_url}/{folder}",
        site_url=ctx.public_url,
        site_title=ctx.organisation,
        organisation=ctx.organisation,
        root="../" * page_path.count("/") or "./",
        heading=heading,
        items=items,
        **extra,
    )


def release_record(
    release: Release, body: BodyParts, ctx: RenderContext, page_ctx: dict[str, Any] | None = None
) -> dict[str, Any]:
    """What the index, category pages, feed and sitemap need of a release (kept in the manifest).

    `page_ctx`, the release page's context when it was just rendered, saves formatting twice.
    """
    page_ctx = page_ctx or {}
    page = ctx.page_path(release)
    record: dict[str, Any] = {
        "id": release.id,
        "title": release.title,
        "date": release.date.isoformat(),
        "ts": release.date.timestamp(),
        "date_text": page_ctx.get("date_text")
        or format_release_date(release.date, release.language),
        "language": release.language,
        "dir": direction_of(release.language),
        "description": page_ctx.get("description") or description_of(release, body.text),
        "category": release.category,
        "month": f"{release.date:%Y/%m}",
        "translation_of": release.translation_of,
        "page": page,
        "path": page.removesuffix("index.html"),
        "url": ctx.page_url(release),
        "web": "website" in release.channels,
        "publish_ts": release.publish_at.timestamp() if release.publish_at else None,
    }
    listed = ("title", "date", "date_text", "language", "description", "category", "path")
    signature = json.dumps([record[k] for k in listed]).encode()
    record["sig"] = hashlib.blake2b(signature, digest_size=16).hexdigest()
    return record


def month_name(month: str, language: str) -> str:
    """'2020/02' as 'February 2020' in a language."""
    year, number = month.split("/")
    return format_skeleton("yMMMM", date(int(year), int(number), 1), locale=locale_for(language))


def archive_years(months: Sequence[tuple[str, int]], language: str) -> list[dict[str, Any]]:
    """Month folders ('archive/2020/02/', count), newest first, grouped by year for the index."""
    names = get_month_names("abbreviated", "stand-alone", locale=locale_for(language))
    years: dict[str, list[dict[str, Any]]] = {}
    for folder, count in months:
        year, number = folder.split("/")[1:3]
        month = {"name": names[int(number)], "path": folder, "count": count}
        years.setdefault(year, []).append(month)
    return [{"year": year, "months": items} for year, items in years.items()]


def majority_language(records: Sequence[dict[str, Any]]) -> str:
    """The language most of a page's releases are in (ties: the newest's): the page's chrome."""
    if not records:
        return "en"
    counts = Counter(r["language"] for r in records)
    top = max(counts.values())
    return str(next(r["language"] for r in records if counts[r["language"]] == top))


@dataclass
class SiteLists:
    """How the site groups its releases (records, newest first): by category and by month."""

    records: Sequence[dict[str, Any]]
    language: str = "en"
    categories: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    months: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @classmethod
    def of(cls, records: Sequence[dict[str, Any]]) -> SiteLists:
        lists = cls(records, majority_language(records))
        folder_of: dict[str, str] = {}  # slugify once per category, not once per release
        for record in records:
            if name := record["category"]:
                if name not in folder_of:
                    folder_of[name] = category_path(name)
                lists.categories.setdefault(folder_of[name], []).append(record)
            lists.months.setdefault(f"archive/{record['month']}/", []).append(record)
        lists.months = dict(sorted(lists.months.items(), reverse=True))
        return lists

    def pages(self) -> dict[str, tuple[str, list[dict[str, Any]]]]:
        """Each list page's folder, heading and releases."""
        result = {
            folder: (items[0]["category"], items) for folder, items in self.categories.items()
        }
        for folder, items in self.months.items():
            result[folder] = (month_name(folder[8:-1], majority_language(items)), items)
        return result

    def index_links(self) -> dict[str, Any]:
        """The home page's links to every category and month."""
        categories = [
            {"name": items[0]["category"], "path": folder, "count": len(items)}
            for folder, items in self.categories.items()
        ]
        categories.sort(key=lambda c: (str(c["name"]).casefold(), c["path"]))
        months = [(folder, len(items)) for folder, items in self.months.items()]
        return {"categories": categories, "archive": archive_years(months, self.language)}

    def folders(self) -> list[tuple[str, str]]:
        """Every list page's folder and its newest release's date (for the sitemap)."""
        groups = [*self.categories.items(), *self.months.items()]
        return [(folder, items[0]["date"]) for folder, items in groups]


def _xml_text(text: str) -> str:
    return NOT_XML.sub("", text)


def atom_feed(
    ctx: RenderContext, entries: Sequence[tuple[dict[str, Any], str]], language: str
) -> bytes:
    """The site's Atom feed: (release record, body HTML) pairs, newest first."""
    feed = FeedGenerator()
    feed.id(f"{ctx.public_url}/")
    feed.title(_xml_text(ctx.organisation))
    feed.author({"name": _xml_text(ctx.organisation)})
    feed.link(href=f"{ctx.public_url}/", rel="alternate")
    feed.link(href=f"{ctx.public_url}/feed.xml", rel="self")
    feed.language(language)
    # The newest release's date, not the clock: an unchanged site gives an unchanged feed.
    newest = entries[0][0]["date"] if entries else "1970-01-01T00:00:00+00:00"
    feed.updated(datetime.fromisoformat(newest))
    for record, content in entries:
        when = datetime.fromisoformat(record["date"])
        entry = feed.add_entry(order="append")
        entry.id(record["url"])
        entry.title(_xml_text(record["title"]))
        entry.link(href=record["url"], rel="alternate")
        entry.published(when)
        entry.updated(when)
        if record["description"]:
            entry.summary(_xml_text(record["description"]))
        entry.content(_xml_text(content), type="html")
        if record["category"]:
            entry.category(term=_xml_text(record["category"]))
    data: bytes = feed.atom_str(pretty=True)
    return data


def sitemap(
    ctx: RenderContext, records: Sequence[dict[str, Any]], folders: Sequence[tuple[str, str]]
) -> bytes:
    """sitemap.xml: the home page, the listing folders (path, newest date) and every release."""
    newest = records[0]["date"] if records else datetime(1970, 1, 1, tzinfo=UTC).isoformat()
    urls = [(f"{ctx.public_url}/", newest)]
    urls += [(f"{ctx.public_url}/{folder}", last) for folder, last in folders]
    urls += [(r["url"], r["date"]) for r in records]
    lines = ['<?xml version="1.0" encoding="UTF-8"?>']
    lines.append('<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">')
    lines += [
        f"<url><loc>{xml_escape(url)}</loc><lastmod>{last}</lastmod></url>" for url, last in urls
    ]
    lines.append("</urlset>\n")
    return "\n".join(lines).encode()


class WebsiteChannel(Channel):
    """The organisation's website: one page per release, built into a static site."""

    name = "website"
    max_text = 0  # a web page has no length limit

    @classmethod
    def render(cls, release: Release, body: BodyParts, ctx: RenderContext) -> dict[str, Any]:
        """The page of a release, where it lives in the site, and the release itself.

        `release` lets the website sender add the release to the site's index, feeds and
        category pages; its local images are given by absolute path so they can be copied.
        """
        source = release.to_json()
        folder = Path(release.source_path).parent if release.source_path else None
        for image in source["images"]:
            if folder is not None and not image["src"].startswith(("http://", "https://")):
                image["src"] = str((folder / image["src"]).resolve())
        return {
            "path": ctx.page_path(release),
            "html": render_page(release, body, ctx),
            "_release": source,  # for the sender; `render --json` leaves `_` keys out
        }
