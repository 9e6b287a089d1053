"""The static site build: pages, lists, feed, sitemap; incremental, atomic, all or nothing."""

from __future__ import annotations

import os
import re
import threading
import time
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from publisher.errors import ReleaseErrors
from publisher.render import RenderContext, Templates
from publisher.site import MANIFEST_NAME, build_site, reading

PUBLIC_URL = "https://press.example.org"
ATOM = "{http://www.w3.org/2005/Atom}"
SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"


@pytest.fixture(scope="module")
def ctx() -> RenderContext:
    return RenderContext(
        public_url=PUBLIC_URL, x_thread_max=5, organisation="Press Office", templates=Templates()
    )


def write_release(folder: Path, name: str, body: str = "", **fields: Any) -> Path:
    """A release file as a media officer writes it: YAML front matter, then Markdown."""
    folder.mkdir(parents=True, exist_ok=True)
    front = yaml.safe_dump(fields, allow_unicode=True, sort_keys=False)
    path = folder / name
    path.write_text(f"---\n{front}---\n{body or 'The text of the release.'}\n", encoding="utf-8")
    return path


def seed_releases(src: Path) -> None:
    write_release(
        src,
        "press.md",
        id="2020-02-11-idlib",
        title="Regime jets bomb Idlib",
        date="2020-02-11T09:00:00+02:00",
        category="Press Releases",
        summary="Dozens of civilians were killed.",
        body="The Assad regime forces on Tuesday launched a deadly attack.",
    )
    write_release(
        src,
        "berlin.md",
        id="2020-02-10-berlin",
        title="Coalition delegation meets German envoy",
        date="2020-02-10T12:00:00+02:00",
        category="Coalition News",
    )
    write_release(
        src / "ar",
        "idlib-ar.md",
        id="2020-02-12-idlib-ar",
        title="طائرات النظام تقصف إدلب",
        date="2020-02-12T08:00:00+02:00",
        language="ar",
        category="أخبار محلية",
        translation_of="2020-02-11-idlib",
        body="شنت قوات النظام هجوماً دامياً.",
    )


def read(out: Path, rel: str) -> str:
    return (out / rel).read_text(encoding="utf-8")


def page_files(out: Path) -> dict[str, int]:
    """Every file of the built site (not the manifest or lock) with its mtime."""
    return {
        str(p.relative_to(out)): p.stat().st_mtime_ns
        for p in out.rglob("*")
        if p.is_file() and not p.name.startswith(".publisher-")
    }


def test_site_has_pages_index_categories_feed_and_sitemap(
    tmp_path: Path, ctx: RenderContext
) -> None:
    src, out = tmp_path / "releases", tmp_path / "site"
    seed_releases(src)

    report = build_site([src], out, ctx)

    assert report.releases == 3
    assert report.removed == 0
    index = read(out, "index.html")
    hrefs = re.findall(r'href="\./releases/([^/]+)/"', index)
    assert hrefs == ["2020-02-12-idlib-ar", "2020-02-11-idlib", "2020-02-10-berlin"]
    for rid in hrefs:
        assert (out / "releases" / rid / "index.html").is_file()
    press = read(out, "categories/press-releases/index.html")
    assert "Regime jets bomb Idlib" in press and "German envoy" not in press
    assert "German envoy" in read(out, "categories/coalition-news/index.html")
    arabic_pages = list((out / "categories").glob("c-*/index.html"))
    assert len(arabic_pages) == 1  # a non-Latin name gets a hash slug
    assert "أخبار محلية" in arabic_pages[0].read_text(encoding="utf-8")
    assert "Regime jets bomb Idlib" in read(out, "archive/2020/02/index.html")
    assert (out / "style.css").stat().st_size > 100


def test_feed_is_atom_with_full_entries(tmp_path: Path, ctx: RenderContext) -> None:
    src, out = tmp_path / "releases", tmp_path / "site"
    seed_releases(src)
    build_site([src], out, ctx)

    feed = ET.parse(out / "feed.xml").getroot()
    entries = feed.findall(f"{ATOM}entry")
    assert feed.tag == f"{ATOM}feed"
    assert [e.findtext(f"{ATOM}title") for e in entries] == [
        "طائرات النظام تقصف إدلب",
        "Regime jets bomb Idlib",
        "Coalition delegation meets German envoy",
    ]
    first = entries[1]
    assert first.findtext(f"{ATOM}id") == f"{PUBLIC_URL}/releases/2020-02-11-idlib/"
    assert first.findtext(f"{ATOM}updated") == "2020-02-11T09:00:00+02:00"
    assert first.find(f"{ATOM}link").get("href") == f"{PUBLIC_URL}/releases/2020-02-11-idlib/"  # type: ignore[union-attr]
    assert first.findtext(f"{ATOM}summary") == "Dozens of civilians were killed."
    assert "launched a deadly attack" in (first.findtext(f"{ATOM}content") or "")


def test_sitemap_lists_every_page_url(tmp_path: Path, ctx: RenderContext) -> None:
    src, out = tmp_path / "releases", tmp_path / "site"
    seed_releases(src)
    build_site([src], out, ctx)

    locs = {
        url.findtext(f"{SITEMAP}loc")
        for url in ET.parse(out / "sitemap.xml").getroot().findall(f"{SITEMAP}url")
    }
    pages = {
        f"{PUBLIC_URL}/{p.relative_to(out).parent}/".replace("/./", "/")
        for p in out.rglob("index.html")
    }
    assert pages == locs
    assert f"{PUBLIC_URL}/releases/2020-02-10-berlin/" in locs
    assert all(loc and loc.startswith(PUBLIC_URL + "/") for loc in locs)


def test_translation_and_original_link_to_each_other(tmp_path: Path, ctx: RenderContext) -> None:
    src, out = tmp_path / "releases", tmp_path / "site"
    seed_releases(src)
    build_site([src], out, ctx)

    original = read(out, "releases/2020-02-11-idlib/index.html")
    translation = read(out, "releases/2020-02-12-idlib-ar/index.html")
    assert 'href="../../releases/2020-02-12-idlib-ar/" hreflang="ar"' in original
    assert 'href="../../releases/2020-02-11-idlib/" hreflang="en"' in translation
    assert '<html lang="ar" dir="rtl">' in translation


def test_adding_one_release_rewrites_only_what_it_touches(
    tmp_path: Path, ctx: RenderContext
) -> None:
    src, out = tmp_path / "releases", tmp_path / "site"
    seed_releases(src)
    build_site([src], out, ctx)
    before = page_files(out)
    time.sleep(0.01)

    write_release(
        src,
        "march.md",
        id="2020-03-01-aid",
        title="Coalition calls for urgent aid",
        date="2020-03-01T10:00:00+02:00",
        category="Press Releases",
    )
    report = build_site([src], out, ctx)

    expected = {
        "releases/2020-03-01-aid/index.html",
        "index.html",
        "categories/press-releases/index.html",
        "archive/2020/03/index.html",
        "feed.xml",
        "sitemap.xml",
    }
    assert set(report.written_paths) == expected
    assert report.written == len(expected)
    assert report.removed == 0
    assert report.parsed == 1
    after = page_files(out)
    changed = {rel for rel, mtime in after.items() if before.get(rel) != mtime}
    assert changed == expected
    assert report.unchanged == len(after) - len(expected)

    again = build_site([src], out, ctx)
    assert again.written == 0
    assert again.parsed == 0
    assert page_files(out) == after


def test_editing_a_release_rewrites_its_page(tmp_path: Path, ctx: RenderContext) -> None:
    src, out = tmp_path / "releases", tmp_path / "site"
    seed_releases(src)
    build_site([src], out, ctx)

    write_release(
        src,
        "berlin.md",
        id="2020-02-10-berlin",
        title="Coalition delegation meets German envoy in Berlin",
        date="2020-02-10T12:00:00+02:00",
        category="Coalition News",
    )
    report = build_site([src], out, ctx)

    assert "releases/2020-02-10-berlin/index.html" in report.written_paths
    assert "categories/coalition-news/index.html" in report.written_paths
    assert "releases/2020-02-11-idlib/index.html" not in report.written_paths
    assert "in Berlin" in read(out, "releases/2020-02-10-berlin/index.html")


def test_removed_release_loses_its_pages(tmp_path: Path, ctx: RenderContext) -> None:
    src, out = tmp_path / "releases", tmp_path / "site"
    seed_releases(src)
    build_site([src], out, ctx)

    (src / "berlin.md").unlink()
    report = build_site([src], out, ctx)

    assert set(report.removed_paths) == {
        "releases/2020-02-10-berlin/index.html",
        "categories/coalition-news/index.html",
    }
    assert not (out / "releases" / "2020-02-10-berlin").exists()
    assert not (out / "categories" / "coalition-news").exists()
    assert "German envoy" not in read(out, "index.html")
    assert "2020-02-10-berlin" not in read(out, "sitemap.xml")


def test_writes_are_atomic_and_leave_no_temp_files(tmp_path: Path, ctx: RenderContext) -> None:
    src, out = tmp_path / "releases", tmp_path / "site"
    seed_releases(src)
    build_site([src], out, ctx)
    write_release(src, "new.md", title="Another release", date="2020-02-13")
    build_site([src], out, ctx)

    leftovers = [p for p in out.rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []
    umask = os.umask(0o022)
    os.umask(umask)
    # Created like any file (0o666 under the umask), not 0o600: the web server can read it.
    assert (out / "index.html").stat().st_mode & 0o777 == 0o666 & ~umask


def test_invalid_release_writes_nothing(tmp_path: Path, ctx: RenderContext) -> None:
    src, out = tmp_path / "releases", tmp_path / "site"
    seed_releases(src)
    broken = write_release(src, "broken.md", date="2020-02-11", category="Local News")

    with pytest.raises(ReleaseErrors) as caught:
        build_site([src], out, ctx)

    assert any(
        error.file == str(broken) and error.field == "title" for error in caught.value.errors
    )
    assert str(broken) in str(caught.value)
    assert not out.exists()


def test_invalid_release_leaves_a_built_site_untouched(tmp_path: Path, ctx: RenderContext) -> None:
    src, out = tmp_path / "releases", tmp_path / "site"
    seed_releases(src)
    build_site([src], out, ctx)
    before = page_files(out)
    manifest = (out / MANIFEST_NAME).read_bytes()

    write_release(src, "good.md", title="A good one", date="2020-02-14")
    write_release(src, "bad.md", title="Bad date", date="the eleventh")
    with pytest.raises(ReleaseErrors) as caught:
        build_site([src], out, ctx)

    assert [e.file for e in caught.value.errors] == [str(src / "bad.md")]
    assert page_files(out) == before
    assert (out / MANIFEST_NAME).read_bytes() == manifest


def test_duplicate_ids_name_both_files(tmp_path: Path, ctx: RenderContext) -> None:
    src, out = tmp_path / "releases", tmp_path / "site"
    first = write_release(src, "a.md", id="same-id", title="First", date="2020-02-11")
    second = write_release(src, "b.md", id="same-id", title="Second", date="2020-02-12")

    with pytest.raises(ReleaseErrors) as caught:
        build_site([src], out, ctx)

    message = str(caught.value)
    assert str(first) in message and str(second) in message
    assert not out.exists()


def test_local_images_are_published_beside_the_page(tmp_path: Path, ctx: RenderContext) -> None:
    src, out = tmp_path / "releases", tmp_path / "site"
    src.mkdir()
    (src / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0 a photo")
    write_release(
        src,
        "with-image.md",
        id="2020-02-11-photo",
        title="With a photo",
        date="2020-02-11",
        images=[{"src": "photo.jpg", "alt": "Rescue teams", "caption": "Idlib"}],
    )
    build_site([src], out, ctx)

    published = out / "releases" / "2020-02-11-photo" / "photo.jpg"
    assert published.read_bytes() == b"\xff\xd8\xff\xe0 a photo"
    page = read(out, "releases/2020-02-11-photo/index.html")
    assert f'src="{PUBLIC_URL}/releases/2020-02-11-photo/photo.jpg"' in page

    (src / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0 a better photo")
    report = build_site([src], out, ctx)
    assert report.written_paths == ["releases/2020-02-11-photo/photo.jpg"]
    assert published.read_bytes() == b"\xff\xd8\xff\xe0 a better photo"


def test_embargoed_and_off_site_releases_stay_off(tmp_path: Path, ctx: RenderContext) -> None:
    src, out = tmp_path / "releases", tmp_path / "site"
    write_release(src, "now.md", id="now", title="Out now", date="2020-02-11")
    write_release(
        src,
        "later.md",
        id="later",
        title="Embargoed until noon",
        date="2020-02-11",
        publish_at="2020-02-11T12:00:00+00:00",
    )
    write_release(
        src, "tg.md", id="tg", title="Telegram only", date="2020-02-11", channels=["telegram"]
    )

    morning = build_site([src], out, ctx, now=datetime(2020, 2, 11, 9, tzinfo=UTC))
    assert morning.releases == 1 and morning.held == 2
    assert "Embargoed" not in read(out, "index.html")
    assert not (out / "releases" / "later").exists()

    afternoon = build_site([src], out, ctx, now=datetime(2020, 2, 11, 13, tzinfo=UTC))
    assert "releases/later/index.html" in afternoon.written_paths
    assert afternoon.parsed == 1  # only the page that appeared was rendered again
    assert not (out / "releases" / "tg").exists()


def test_hostile_titles_stay_harmless_in_lists_and_feed(tmp_path: Path, ctx: RenderContext) -> None:
    src, out = tmp_path / "releases", tmp_path / "site"
    title = "</script><script>alert(1)</script> & <b>bold</b>\x0b"
    write_release(src, "x.md", id="hostile", title=title, date="2020-02-11", category="<i>x</i>")
    build_site([src], out, ctx)

    for rel in ("index.html", "archive/2020/02/index.html", "releases/hostile/index.html"):
        html = read(out, rel)
        assert "<script>alert(1)" not in html
        assert "&lt;/script&gt;&lt;script&gt;alert(1)" in html
    feed = ET.parse(out / "feed.xml").getroot()
    assert (
        feed.findtext(f"{ATOM}entry/{ATOM}title")
        == "</script><script>alert(1)</script> & <b>bold</b>"
    )


def test_many_releases_build_fast_and_grow_faster(tmp_path: Path, ctx: RenderContext) -> None:
    src, out = tmp_path / "releases", tmp_path / "site"
    for n in range(300):
        write_release(
            src,
            f"r{n:04d}.md",
            id=f"r{n:04d}",
            title=f"Release {n}",
            date=f"2020-{1 + n % 12:02d}-{1 + n % 28:02d}T09:00:00+02:00",
            category=["Press Releases", "Local News", "Coalition News"][n % 3],
            body="A paragraph of the release.\n\n" * 5,
        )
    started = time.perf_counter()
    build_site([src], out, ctx)
    full_s = time.perf_counter() - started
    write_release(src, "new.md", id="new", title="One more", date="2021-01-01")
    started = time.perf_counter()
    report = build_site([src], out, ctx)
    incremental_s = time.perf_counter() - started

    assert full_s < 15  # generous: shared CI machines; about 1 s on two idle cores
    assert incremental_s < 1.0
    assert report.parsed == 1


def test_template_override_rewrites_only_what_it_changes(
    tmp_path: Path, ctx: RenderContext
) -> None:
    src, out = tmp_path / "releases", tmp_path / "site"
    seed_releases(src)
    build_site([src], out, ctx)
    overrides = tmp_path / "templates"
    (overrides / "website").mkdir(parents=True)
    (overrides / "website" / "style.css").write_text("body { color: #123; }\n")
    styled = RenderContext(
        public_url=PUBLIC_URL,
        x_thread_max=5,
        organisation="Press Office",
        templates=Templates(overrides),
    )

    report = build_site([src], out, styled)

    assert report.parsed == 3  # templates changed: every page is rendered again...
    assert report.written_paths == ["style.css"]  # ...but only the file that differs is written
    assert read(out, "style.css") == "body { color: #123; }\n"


@pytest.mark.parametrize("start", ["fork", "spawn"])
def test_worker_processes_build_the_same_site(
    tmp_path: Path, ctx: RenderContext, monkeypatch: pytest.MonkeyPatch, start: str
) -> None:
    src = tmp_path / "releases"
    seed_releases(src)
    for n in range(6):
        write_release(src, f"r{n}.md", id=f"r{n}", title=f"Release {n}", date=f"2020-01-0{n + 1}")
    build_site([src], tmp_path / "serial", ctx)

    monkeypatch.setattr(reading, "PARALLEL_MIN_FORK", 2)
    monkeypatch.setattr(reading, "PARALLEL_MIN_SPAWN", 2)
    if start == "spawn":  # what a process with threads (a web server) gets
        monkeypatch.setattr(threading, "active_count", lambda: 2)
    report = build_site([src], tmp_path / "parallel", ctx)

    assert report.parsed == 9
    assert page_files(tmp_path / "serial").keys() == page_files(tmp_path / "parallel").keys()
    for rel in page_files(tmp_path / "serial"):
        assert (tmp_path / "serial" / rel).read_bytes() == (
            tmp_path / "parallel" / rel
        ).read_bytes()

    write_release(src, "bad.md", title="", date="2020-01-01")
    with pytest.raises(ReleaseErrors) as caught:
        build_site([src], tmp_path / "parallel", ctx)
    assert [e.file for e in caught.value.errors] == [str(src / "bad.md")]


def test_damaged_manifest_means_a_full_build(tmp_path: Path, ctx: RenderContext) -> None:
    src, out = tmp_path / "releases", tmp_path / "site"
    seed_releases(src)
    build_site([src], out, ctx)
    (out / MANIFEST_NAME).write_text('{"format": 2, "releases": [["too", "short"]]}')

    report = build_site([src], out, ctx)

    assert report.parsed == 3
    assert report.releases == 3
    assert build_site([src], out, ctx).written == 0


def test_sources_skip_readme_hidden_files_and_the_site_itself(
    tmp_path: Path, ctx: RenderContext
) -> None:
    src = tmp_path / "releases"
    seed_releases(src)
    (src / "README.md").write_text("# How we write releases\n")
    (src / ".drafts").mkdir()
    (src / ".drafts" / "draft.md").write_text("not a release yet\n")
    (src / "notes.txt").write_text("ignored: not .md or .json\n")

    report = build_site([src, src / "press.md"], src / "site", ctx)  # a file named twice
    again = build_site([src], src / "site", ctx)  # the built site's files are not sources

    assert report.releases == 3
    assert again.releases == 3 and again.written == 0


def test_the_names_others_import_stay_where_they_were() -> None:
    from publisher import site

    for name in ("build_site", "write_atomic", "BuildReport", "MANIFEST_NAME", "find_sources"):
        assert hasattr(site, name), name
