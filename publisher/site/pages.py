"""The site's own pages around the release pages: index, category and month lists, feed, sitemap.

They are built from release records (`release_record`: a release's listing fields, kept in the
build manifest), never from releases, so an incremental build can render a list without reading
the files of the releases on it. The release page itself is `publisher.site.page.render_page`,
which the website channel renders too, so a preview and the site show the same page.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from xml.sax.saxutils import escape as xml_escape

from babel.dates import format_skeleton, get_month_names
from feedgen.feed import FeedGenerator

from publisher.release import Release, locale_for
from publisher.render import BodyParts, RenderContext, format_release_date
from publisher.site.page import category_path, description_of, direction_of, labels_for

# Characters XML 1.0 forbids; a release may carry them, the feed must not.
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


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
