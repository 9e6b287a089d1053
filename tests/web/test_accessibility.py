"""Accessibility of the pages that exist, checked by axe-core (tests/a11y.py) in Debian's
Chromium: the newsroom's sign-in page and the public sign-up page (as first shown and with
their error messages), and the built website's index, a category page and a release page, in
English and Arabic, in the light and the dark colour scheme. Serious and critical violations
fail, and so do serious and critical results axe-core leaves for a person to review: these
pages have none today."""

from __future__ import annotations

import shutil
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from publisher.render import RenderContext
from publisher.site import build_site
from tests.a11y import assert_accessible, axe_version
from tests.test_site import seed_releases, write_release
from tests.web.conftest import Site
from tests.web.test_browser import CHROMIUM

LANGUAGES = ["en", "ar"]
SCHEMES = ["light", "dark"]
APP_PAGES = ["/newsroom/login", "/subscribe"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(params=SCHEMES)
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A page in a browser of its own, in one colour scheme (JavaScript on, for axe-core;
    the pages carry none of their own)."""
    context = browser.new_context(
        color_scheme=request.param, viewport={"width": 1000, "height": 800}
    )
    try:
        yield context.new_page()
    finally:
        context.close()


def check(page: Any, label: str) -> None:
    __tracebackhide__ = True
    assert_accessible(page, label, incomplete=True)


def scheme(page: Any) -> str:
    dark = page.evaluate("() => matchMedia('(prefers-color-scheme: dark)').matches")
    return "dark" if dark else "light"


def visit(page: Any, url: str, language: str) -> None:
    answer = page.goto(url)
    assert answer is not None and answer.status == 200, url
    assert page.locator("html").get_attribute("lang") == language, url
    assert page.locator("html").get_attribute("dir") == ("rtl" if language == "ar" else "ltr")


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("path", APP_PAGES)
def test_app_pages(site: Site, page: Any, path: str, language: str) -> None:
    visit(page, f"{site.base}{path}?lang={language}", language)
    check(page, f"{path} {language} {scheme(page)}")


@pytest.mark.parametrize("language", LANGUAGES)
def test_app_pages_with_their_errors(site: Site, page: Any, language: str) -> None:
    visit(page, f"{site.base}/subscribe?lang={language}", language)
    page.fill("#email", "not an address")
    page.locator("form button[type=submit]").click()
    assert page.locator("html").get_attribute("lang") == language
    assert page.locator(".summary[role=alert]").count() == 1
    assert page.locator("#email[aria-invalid=true]").count() == 1
    check(page, f"/subscribe {language} {scheme(page)} with errors")

    visit(page, f"{site.base}/newsroom/login?lang={language}", language)
    page.fill("#username", "nobody")
    page.fill("#password", "not the password")
    page.locator("main form button[type=submit]").click()
    assert page.locator("html").get_attribute("lang") == language
    assert page.locator("#signin-error").count() == 1
    check(page, f"/newsroom/login {language} {scheme(page)} refused")


def png() -> bytes:
    """A real 2x2 PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00" + b"\x0b\x5c\xad" * 2 + b"\x00" + b"\xff\xbf\x47" * 2)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


CONVOY = "2020-03-01-convoy"
CONVOY_AR = "2020-03-01-convoy-ar"


def write_releases(src: Path, language: str) -> None:
    """The site tests' three releases, and a release with everything a page can show (images,
    a caption, links, tags, a source, a Markdown body) in English and in Arabic; for an Arabic
    site, two more Arabic releases, so most are Arabic and so is the index."""
    seed_releases(src)
    for folder in (src, src / "ar"):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "convoy.png").write_bytes(png())
        (folder / "road.png").write_bytes(png())
    write_release(
        src,
        "convoy.md",
        id=CONVOY,
        title="Aid convoy reaches Idlib",
        date="2020-03-01T10:00:00+02:00",
        category="Press Releases",
        summary="Forty lorries crossed at Bab al-Hawa.",
        source="Department of Media and Communications",
        tags=["Idlib", "aid"],
        images=[
            {"src": "convoy.png", "alt": "Lorries at the crossing", "caption": "Bab al-Hawa"},
            {"src": "road.png", "alt": "The road to Idlib"},
        ],
        links=[{"title": "The full statement", "url": "https://example.org/statement"}],
        body=(
            "The convoy **crossed** on Sunday.\n\n## What it carries\n\n- food\n- medicine\n\n"
            "> We will keep going.\n\n[Read more](https://example.org/more)"
        ),
    )
    write_release(
        src / "ar",
        "convoy-ar.md",
        id=CONVOY_AR,
        title="قافلة مساعدات تصل إدلب",
        date="2020-03-01T11:00:00+02:00",
        language="ar",
        category="أخبار محلية",
        translation_of=CONVOY,
        summary="عبرت أربعون شاحنة من معبر باب الهوى.",
        source="دائرة الإعلام والاتصال",
        tags=["إدلب", "مساعدات"],
        images=[
            {"src": "convoy.png", "alt": "شاحنات عند المعبر", "caption": "باب الهوى"},
            {"src": "road.png", "alt": "الطريق إلى إدلب"},
        ],
        links=[{"title": "البيان الكامل", "url": "https://example.org/statement-ar"}],
        body="عبرت القافلة **يوم الأحد**.\n\n## ما تحمله\n\n- غذاء\n- دواء\n\n> سنواصل.",
    )
    if language == "ar":
        for day in ("02", "03"):
            write_release(
                src / "ar",
                f"more-{day}.md",
                id=f"2020-03-{day}-statement-ar",
                title=f"بيان صحفي {day}",
                date=f"2020-03-{day}T09:00:00+02:00",
                language="ar",
                category="بيانات صحفية",
            )


@dataclass
class Website:
    base: str
    language: str
    release: str  # the path of the rich release in the site's language


def clear(data_dir: Path) -> None:
    for name in ("site", "site-sources"):
        shutil.rmtree(data_dir / name, ignore_errors=True)


@pytest.fixture(params=LANGUAGES)
def website(site: Site, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Website]:
    """The live app's website (its settings' site_dir, served under `/`), mostly in one
    language. Built as `services.build_site` builds it, but with the live app's settings, so
    the pages' image URLs are the live app's and the browser (and its CSP) lets them load."""
    language = request.param
    root = site.backend.settings.site_dir
    clear(root.parent)
    src = tmp_path / "releases"
    write_releases(src, language)
    build_site([src], root, RenderContext.from_settings(site.backend.settings))
    release = CONVOY_AR if language == "ar" else CONVOY
    assert (root / "releases" / release / "index.html").is_file()
    try:
        yield Website(site.base, language, f"/releases/{release}/")
    finally:
        clear(root.parent)


def test_website_pages(website: Website, page: Any) -> None:
    language, mode = website.language, scheme(page)
    visit(page, website.base + "/", language)
    check(page, f"website index {language} {mode}")

    visit(page, website.base + website.release, language)
    loaded = "() => [...document.images].map((i) => i.complete && i.naturalWidth > 0)"
    assert page.evaluate(loaded) == [True, True]
    check(page, f"website release {language} {mode}")

    page.locator(".kicker a").click()  # the release's category: its two releases, both in it
    assert page.locator("html").get_attribute("lang") == language
    assert page.locator("ol.releases li").count() == 2
    check(page, f"website category {language} {mode}")


def test_a_violation_fails_with_a_readable_message(site: Site, browser: Any) -> None:
    """axe-core gets into a page under the app's Content-Security-Policy (no script allowed)
    and a broken page fails with what is wrong and where."""
    context = browser.new_context()
    try:
        page = context.new_page()
        answer = page.goto(f"{site.base}/subscribe")
        assert answer is not None
        assert "default-src 'none'" in answer.headers["content-security-policy"]
        page.evaluate("() => document.querySelector('label[for=email]').remove()")
        with pytest.raises(AssertionError) as failed:
            assert_accessible(page, "subscribe without a label")
        message = str(failed.value)
        assert message.startswith(f"subscribe without a label: axe-core {axe_version()} found 1 ")
        assert "- label [critical] Form elements must have labels (1 element;" in message
        assert '["#email"]: <input id="email"' in message
    finally:
        context.close()
