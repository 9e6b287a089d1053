"""A release's web page, shared by the website channel (what `render` shows and the sender
publishes) and the site builder (which also lists it on index, category and month pages).

The page carries everything a reader and a link preview need: the sanitised body, the date in
the release's language, images with absolute URLs, OpenGraph and Twitter card meta, and a
JSON-LD NewsArticle. Every value is autoescaped by the template except the body, which
`markdown_to_html` has already sanitised.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from babel.core import get_global

from publisher.release import Release, locale_for
from publisher.render import BodyParts, RenderContext, format_release_date
from publisher.slugs import category_slug

DESCRIPTION_MAX = 200

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


def page_with_context(
    release: Release,
    body: BodyParts,
    ctx: RenderContext,
    translations: Sequence[Translation] | None = None,
) -> tuple[str, dict[str, Any]]:
    """A release's full HTML page and its context (the site's lists reuse date and lede)."""
    context = page_context(release, body, ctx, translations)
    return ctx.templates.render_html("website/release.html", **context), context


def render_page(
    release: Release,
    body: BodyParts,
    ctx: RenderContext,
    translations: Sequence[Translation] | None = None,
) -> str:
    """The full HTML page of a release."""
    return page_with_context(release, body, ctx, translations)[0]
