"""The built site under `/` of the live app (real uvicorn): a folder's index, content types,
ETag and Last-Modified with their 304s, HEAD, cache headers, no listing, no way out of the site
folder, the app's own 404, and pages that change when a release is published."""

from __future__ import annotations

import http.client
import os
import shutil
import struct
import xml.etree.ElementTree as ET
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis

from publisher import services
from publisher.web.pages import CONTENT_SECURITY_POLICY
from publisher.web.site import ASSET, REVALIDATE, SITE_POLICY
from tests import test_pipeline
from tests.conftest import Worker, publisher_env, run_cli
from tests.test_site import seed_releases, write_release

from .conftest import SECRET, Site

MARKER = "outside-the-site-7f3a19"
IDLIB = "/releases/2020-02-11-idlib/"
BERLIN = "/releases/2020-02-10-berlin/"
HTML = "text/html; charset=utf-8"


def png() -> bytes:
    """A real 1x1 PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


class Raw:
    """Requests sent byte for byte as written (httpx would tidy `..` and `%2e` away), over one
    kept-alive connection: a HEAD that sent a body would garble the next answer."""

    def __init__(self, base: str) -> None:
        parts = urlsplit(base)
        self.connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)

    def __call__(self, target: str, method: str = "GET", **headers: str) -> Answer:
        self.connection.putrequest(method, target, skip_accept_encoding=True)
        for name, value in headers.items():
            self.connection.putheader(name.replace("_", "-"), value)
        self.connection.endheaders()
        response = self.connection.getresponse()
        body = response.read()
        found = {name.lower(): value for name, value in response.getheaders()}
        return Answer(response.status, found, body)

    def close(self) -> None:
        self.connection.close()


@dataclass
class Built:
    """The live app's site folder, built from release files in `src`."""

    site: Site
    root: Path
    src: Path
    raw: Raw

    def build(self) -> None:
        services.build_site([self.src], self.root)

    def file(self, path: str) -> Path:
        rel = path.lstrip("/")
        return self.root / (rel + "index.html" if rel.endswith("/") or not rel else rel)


def clear(data_dir: Path) -> None:
    for name in ("site", "site-sources"):
        shutil.rmtree(data_dir / name, ignore_errors=True)


@pytest.fixture
def built(site: Site, tmp_path: Path) -> Iterator[Built]:
    root = site.backend.settings.site_dir
    clear(root.parent)
    src = tmp_path / "releases"
    seed_releases(src)
    outside = root.parent / "outside.txt"  # beside the site: what an escape would reach
    outside.write_text(MARKER)
    raw = Raw(site.base)
    result = Built(site, root, src, raw)
    result.build()
    try:
        yield result
    finally:
        raw.close()
        outside.unlink(missing_ok=True)
        clear(root.parent)


def test_folders_are_served_by_their_index_and_files_by_their_type(built: Built) -> None:
    client = built.site.client()
    for path in ("/", IDLIB, f"{IDLIB}index.html", "/categories/press-releases/"):
        answer = client.get(path)
        assert answer.status_code == 200, path
        assert answer.headers["content-type"] == HTML
        assert answer.content == built.file(path).read_bytes()
        assert answer.headers["cache-control"] == REVALIDATE
    assert "Regime jets bomb Idlib" in client.get(IDLIB).text
    assert "طائرات النظام تقصف إدلب" in client.get("/releases/2020-02-12-idlib-ar/").text

    feed = client.get("/feed.xml")
    assert feed.headers["content-type"] == "application/atom+xml; charset=utf-8"
    assert feed.headers["cache-control"] == REVALIDATE
    assert ET.fromstring(feed.content).tag == "{http://www.w3.org/2005/Atom}feed"
    assert client.get("/sitemap.xml").headers["content-type"] == "application/xml; charset=utf-8"
    css = client.get("/style.css")
    assert css.headers["content-type"] == "text/css; charset=utf-8"
    assert css.headers["cache-control"] == ASSET
    assert css.content == (built.root / "style.css").read_bytes()

    moved = client.get(IDLIB.rstrip("/") + "?from=feed")
    assert moved.status_code == 301
    assert moved.headers["location"] == IDLIB + "?from=feed"


def test_an_image_is_served_beside_its_page_with_its_type(built: Built) -> None:
    (built.src / "photo.png").write_bytes(png())
    write_release(
        built.src,
        "convoy.md",
        id="2020-03-01-convoy",
        title="Aid convoy reaches Idlib",
        date="2020-03-01T10:00:00+02:00",
        images=[
            {"src": "photo.png", "alt": "The convoy"},
            {"src": "https://images.example.org/convoy.jpg", "alt": "From the road"},
        ],
    )
    built.build()
    client = built.site.client()
    image = client.get("/releases/2020-03-01-convoy/photo.png")
    assert image.status_code == 200
    assert image.headers["content-type"] == "image/png"
    assert image.headers["cache-control"] == ASSET
    assert image.content == png()
    page = client.get("/releases/2020-03-01-convoy/")
    assert "https://images.example.org/convoy.jpg" in page.text
    # The app's policy, except that a release's image may be any https URL.
    assert page.headers["content-security-policy"] == SITE_POLICY
    assert SITE_POLICY == CONTENT_SECURITY_POLICY.replace("data:", "data: https:", 1)


def test_etag_and_last_modified_give_304s(built: Built) -> None:
    client = built.site.client()
    for path in (IDLIB, "/feed.xml", "/style.css"):
        first = client.get(path)
        etag, modified = first.headers["etag"], first.headers["last-modified"]
        assert etag.startswith('"') and etag.endswith('"'), "a strong ETag"
        assert modified == formatdate(built.file(path).stat().st_mtime, usegmt=True)
        for sent in (etag, f'"other", {etag}', f"W/{etag}", "*"):
            again = client.get(path, headers={"If-None-Match": sent})
            assert again.status_code == 304, sent
            assert again.content == b""
            assert again.headers["etag"] == etag
            assert again.headers["cache-control"] == first.headers["cache-control"]
            assert again.headers["last-modified"] == modified
        assert client.get(path, headers={"If-None-Match": '"other"'}).status_code == 200
        assert client.get(path, headers={"If-Modified-Since": modified}).status_code == 304
        later = formatdate(built.file(path).stat().st_mtime + 3600, usegmt=True)
        earlier = formatdate(built.file(path).stat().st_mtime - 3600, usegmt=True)
        assert client.get(path, headers={"If-Modified-Since": later}).status_code == 304
        assert client.get(path, headers={"If-Modified-Since": earlier}).status_code == 200
        assert client.get(path, headers={"If-Modified-Since": "yesterday"}).status_code == 200
        # If-None-Match decides when both are sent.
        both = {"If-None-Match": '"other"', "If-Modified-Since": modified}
        assert client.get(path, headers=both).status_code == 200


def test_head_answers_what_get_would_without_a_body(built: Built) -> None:
    for path in ("/", IDLIB, "/feed.xml", "/style.css"):
        head = built.raw(path, "HEAD")
        get = built.raw(path)  # on the same connection: a body after the HEAD would break it
        assert (head.status, get.status) == (200, 200)
        assert head.body == b""
        for name in ("content-type", "content-length", "etag", "last-modified", "cache-control"):
            assert head.headers[name] == get.headers[name], name
        assert int(head.headers["content-length"]) == len(get.body)
        assert built.raw(path, "HEAD", If_None_Match=get.headers["etag"]).status == 304
    missing = built.raw("/no-such-page.html", "HEAD")
    assert missing.status == 404 and missing.body == b""
    assert built.raw("/").status == 200


def escapes(built: Built) -> list[str]:
    """Request targets that try to leave the site folder or see what it hides."""
    outside = built.root.parent / "outside.txt"
    return [
        "/../outside.txt",
        "/releases/../../outside.txt",
        "/%2e%2e/outside.txt",
        "/%2E%2E/outside.txt",
        "/.%2e/outside.txt",
        "/%2e%2e%2foutside.txt",
        "/..%2Foutside.txt",
        "/releases/%2e%2e/%2e%2e/outside.txt",
        "/releases/2020-02-11-idlib/%2e%2e/%2e%2e/%2e%2e/outside.txt",
        "/%252e%252e/outside.txt",
        "/..%5Coutside.txt",
        "/..\\outside.txt",
        "/./index.html",
        "//outside.txt",
        f"/{outside}",
        "/" + str(outside).replace("/", "%2F"),
        f"http://{urlsplit(built.site.base).netloc}/../outside.txt",
        "/leak.txt",  # a symlink to the file outside
        "/up/outside.txt",  # a symlink to the folder above
        "/releases/etc/passwd",  # a symlink to /etc
        "/fifo",  # not a regular file (and opening it must not hang)
        "/.publisher-manifest.json",
        "/%2epublisher-manifest.json",
        "/.publisher-lock",
        "/releases/.hidden.html",
        "/index.html%00.png",
        "/%00",
        "/releases/",  # a folder without an index: no listing
        "/releases",
        "/archive/",
        "/empty/",
        "/empty",
    ]


def test_no_way_out_of_the_site_folder_and_no_listing(built: Built) -> None:
    root = built.root
    (root / "leak.txt").symlink_to(root.parent / "outside.txt")
    (root / "up").symlink_to(root.parent, target_is_directory=True)
    (root / "releases" / "etc").symlink_to("/etc", target_is_directory=True)
    (root / "releases" / ".hidden.html").write_text("<p>hidden</p>")
    (root / "empty").mkdir()
    os.mkfifo(root / "fifo")
    (root / "same.css").symlink_to("style.css")  # a link that stays inside is served
    for target in escapes(built):
        answer = built.raw(target)
        assert answer.status == 404, target
        assert MARKER.encode() not in answer.body and b"root:" not in answer.body, target
        assert answer.headers["content-type"] == HTML, target
        assert "Page not found" in answer.text, target  # the app's own 404 page
        assert answer.headers["cache-control"] == "no-store"
        problem = built.raw(target, Accept="application/json")
        assert problem.status == 404, target
        assert problem.headers["content-type"] == "application/problem+json"
    assert built.raw("/same.css").body == (root / "style.css").read_bytes()
    assert built.raw("/").status == 200, "the connection served every attempt"


def test_routes_keep_their_answers_and_other_methods_are_refused(built: Built) -> None:
    client = built.site.client()
    assert client.get("/subscribe").status_code == 200
    assert client.put("/subscribe").status_code == 405, "a route's wrong method stays its own"
    assert client.get("/healthz").json()["redis"] == "ok"
    assert client.get("/static/web.css").headers["content-type"].startswith("text/css")
    refused = client.post("/index.html")
    assert refused.status_code == 405 and refused.headers["allow"] == "GET, HEAD"
    assert client.delete(IDLIB).status_code == 405
    assert client.post("/nothing-here.html").status_code == 404
    assert built.file(IDLIB).is_file()
    page = client.get("/nothing-here")
    assert page.status_code == 404 and "Page not found" in page.text


def test_site_answers_carry_the_security_headers(built: Built) -> None:
    client = built.site.client()
    first = client.get(IDLIB)
    for answer in (first, client.get(IDLIB, headers={"If-None-Match": first.headers["etag"]})):
        assert answer.headers["content-security-policy"] == SITE_POLICY
        assert "script-src" not in SITE_POLICY and "default-src 'none'" in SITE_POLICY
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["referrer-policy"] == "no-referrer"
        assert answer.headers["cross-origin-opener-policy"] == "same-origin"


def snapshot(root: Path, client: redis.Redis) -> dict[str, Any]:
    """Every file of the data dir (site, manifest, lock) with its bytes' identity, and Redis."""
    files = {
        str(path.relative_to(root.parent)): (path.lstat().st_size, path.lstat().st_mtime_ns)
        for path in sorted(root.parent.rglob("*"))
    }
    return {"files": files, "redis": {key: client.dump(key) for key in sorted(client.keys())}}


def test_a_get_never_changes_anything(built: Built) -> None:
    before = snapshot(built.root, built.site.redis)
    client = built.site.client()
    paths = ["/" + str(p.relative_to(built.root)) for p in built.root.rglob("*") if p.is_file()]
    for path in [*paths, "/", IDLIB, BERLIN.rstrip("/")]:
        answer = client.get(path)
        client.get(path, headers={"If-None-Match": answer.headers.get("etag", "*")})
        client.head(path)
    for target in escapes(built):
        built.raw(target)
    assert snapshot(built.root, built.site.redis) == before


def test_publishing_a_release_changes_what_is_served(built: Built) -> None:
    client = built.site.client()
    index, berlin, feed = client.get("/"), client.get(BERLIN), client.get("/feed.xml")
    new_page = "/releases/2020-03-01-convoy/"
    assert client.get(new_page).status_code == 404
    write_release(
        built.src,
        "convoy.md",
        id="2020-03-01-convoy",
        title="Aid convoy reaches Idlib",
        date="2020-03-01T10:00:00+02:00",
        category="Press Releases",
    )
    built.build()
    assert client.get(new_page).status_code == 200
    assert "Aid convoy reaches Idlib" in client.get(new_page).text
    for before in (index, feed):
        path = str(before.url.path)
        after = client.get(path, headers={"If-None-Match": before.headers["etag"]})
        assert after.status_code == 200, path
        assert after.headers["etag"] != before.headers["etag"]
        assert "Aid convoy reaches Idlib" in after.text
    unchanged = client.get(BERLIN, headers={"If-None-Match": berlin.headers["etag"]})
    assert unchanged.status_code == 304, "a page the release does not touch keeps its ETag"


def test_a_worker_publishing_a_release_puts_its_page_on_the_site(
    built: Built, tmp_path: Path, workers: list[Worker]
) -> None:
    site = built.site
    env = publisher_env(
        built.root.parent,  # the live app's data dir: the worker writes the site it serves
        REDIS_URL=str(site.backend.settings.redis_url),
        PUBLIC_URL=site.base,
        PUBLISHER_SECRET_KEY=SECRET,
    )
    client = site.client()
    index = client.get("/")
    release = test_pipeline.write_release(tmp_path, "convoy.md", title="Convoy statement")
    page = "/releases/2024-05-01-convoy-statement/"
    assert client.get(page).status_code == 404
    workers.append(Worker(env, concurrency=1, log=tmp_path / "worker.log").start())
    result = run_cli("publish", str(release), "--channels", "website", "--wait", env=env)
    assert result.returncode == 0, result.stderr
    answer = client.get(page)
    assert answer.status_code == 200 and answer.headers["content-type"] == HTML
    assert "Convoy statement" in answer.text
    after = client.get("/", headers={"If-None-Match": index.headers["etag"]})
    assert after.status_code == 200 and "Convoy statement" in after.text
    assert "Convoy statement" in client.get("/feed.xml").text
