"""The compose page over HTTP against the live app: create and save drafts, problems next to
their fields, CSRF and role refusals, image uploads, import and download."""

from __future__ import annotations

import re
import struct
import zlib

import frontmatter
import pytest

from tests.accounts.conftest import location
from tests.newsroom.conftest import Newsroom, csrf_of, post_form

NEW = "/newsroom/releases/new"


def png(width: int = 2, height: int = 2, shade: int = 90) -> bytes:
    """A small real PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + bytes([shade, 120, 200]) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def test_an_officer_creates_then_saves_a_draft(newsroom: Newsroom) -> None:
    client = newsroom.signed_in("olga", "officer")
    page = client.get(NEW)
    assert page.status_code == 200, page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert '<script src="/static/htmx.min.js' in page.text
    csrf = csrf_of(page.text)
    created = post_form(
        client, "/newsroom/releases", csrf, title="Water returns to Idlib", body="First.\n\nSecond."
    )
    assert created.status_code == 303, created.text
    edit = location(created).split("?")[0]
    release_id = edit.split("/")[3]
    assert edit == f"/newsroom/releases/{release_id}/edit"
    page = client.get(edit)
    assert 'value="Water returns to Idlib"' in page.text
    assert 'value="2024-05-01T09:00"' in page.text  # shown back in the organisation's zone
    saved = post_form(
        client, f"/newsroom/releases/{release_id}", csrf, title="Water returns", body="Changed.",
        tags="water, ، idlib", link_title=["", "Report"], link_url=["", "https://example.org/r"],
    )  # fmt: skip
    assert saved.status_code == 303, saved.text
    page = client.get(edit)
    assert 'value="Water returns"' in page.text and "Changed." in page.text
    assert 'value="water, idlib"' in page.text and 'value="https://example.org/r"' in page.text
    assert newsroom.backend.store.release_fields(release_id, "author")["author"] == "user:olga"


def test_autosave_answers_with_the_time_and_names_the_new_draft(newsroom: Newsroom) -> None:
    client = newsroom.signed_in("olga", "officer")
    csrf = csrf_of(client.get(NEW).text)
    hx = {"HX-Request": "true"}
    first = post_form(client, "/newsroom/releases", csrf, hx, title="Autosaved", body="x")
    assert first.status_code == 200 and first.headers["vary"] == "HX-Request"
    assert re.search(r'Saved at <bdi class="time">\d\d:\d\d</bdi>', first.text)
    found = re.search(r'id="release-id" name="release_id" value="([^"]+)" hx-swap-oob', first.text)
    assert found
    again = post_form(
        client, "/newsroom/releases", csrf, hx, title="Autosaved", body="y", release_id=found[1]
    )
    assert "Saved at" in again.text
    assert len(newsroom.backend.store.release_ids()) == 1  # one draft, saved twice
    assert first.headers["hx-replace-url"] == f"/newsroom/releases/{found[1]}/edit"
    # without title and date, an autosave says what it needs and keeps nothing
    empty = post_form(client, "/newsroom/releases", csrf, hx, title="", date="", body="z")
    assert "Not saved:" in empty.text and "title" in empty.text


def test_problems_are_shown_next_to_their_fields(newsroom: Newsroom) -> None:
    client = newsroom.signed_in("olga", "officer")
    csrf = csrf_of(client.get(NEW).text)
    answer = post_form(client, "/newsroom/releases", csrf, title="", date="", body="")
    assert answer.status_code == 422
    slot = re.search(r'<div class="field-errors" id="err-title">(.*?)</div>', answer.text)
    assert slot and "required" in slot[1]
    assert re.search(r'id="err-date"><p class="error">', answer.text)
    assert 'id="title" name="title" value="" dir="auto" required aria-invalid="true"' in answer.text
    created = post_form(
        client, "/newsroom/releases", csrf, title="T", body="b", image_src="missing.png",
        image_alt="a", link_url="ftp://x",
    )  # fmt: skip
    page = client.get(location(created))
    assert re.search(r'id="err-images-0-src"><p class="error">[^<]*missing\.png', page.text)
    assert re.search(r'id="err-links-0-url"><p class="error">', page.text)
    # a valid release whose hand-written X post is too long: the problem is the X channel's
    long = post_form(
        client, "/newsroom/releases", csrf, title="U", body="b", override_x_thread="a " * 200
    )
    page = client.get(location(long))
    assert re.search(r'id="err-channels-x"><p class="error">', page.text), page.text


def test_forms_without_the_csrf_token_are_refused(newsroom: Newsroom) -> None:
    client = newsroom.signed_in("olga", "officer")
    csrf_of(client.get(NEW).text)
    for path in ("/newsroom/releases", "/newsroom/preview", "/newsroom/media"):
        answer = post_form(client, path, "forged", title="T", body="b")
        assert answer.status_code == 403, path
    assert newsroom.backend.store.release_ids() == []


def test_signing_in_is_required_and_every_role_may_draft(newsroom: Newsroom) -> None:
    anonymous = newsroom.client()
    for answer in (anonymous.get(NEW), anonymous.post("/newsroom/preview", data={})):
        assert answer.status_code == 303
        assert location(answer).startswith("/newsroom/login")
    for role in ("officer", "editor", "admin"):
        assert newsroom.signed_in(f"u-{role}", role).get(NEW).status_code == 200


def test_uploads_take_images_only_and_not_too_large(newsroom: Newsroom) -> None:
    client = newsroom.signed_in("olga", "officer")
    csrf = csrf_of(client.get(NEW).text)
    image = png()
    ok = client.post(
        "/newsroom/media",
        data={"csrf": csrf, "image_alt": "A pump"},
        files={"image": ("photo.txt", image, "text/plain")},
        headers={"HX-Request": "true"},
    )
    assert ok.status_code == 200 and ok.headers["hx-trigger-after-swap"] == "image-added"
    name = re.search(r'name="image_src" value="([0-9a-f]{32}\.png)"', ok.text)
    assert name and 'value="A pump"' in ok.text
    stored = newsroom.backend.settings.media_dir / name[1]
    assert stored.read_bytes() == image
    served = client.get(f"/newsroom/site/media/{name[1]}")
    assert served.headers["content-type"] == "image/png" and served.content == image
    fake = client.post(
        "/newsroom/media", data={"csrf": csrf},
        files={"image": ("evil.png", b"<svg onload=alert(1)>", "image/png")},
    )  # fmt: skip
    assert fake.status_code == 415 and "not a JPEG, PNG, GIF or WebP" in fake.text
    big = image + b"\x00" * (10 * 1024 * 1024)
    huge = client.post("/newsroom/media", data={"csrf": csrf}, files={"image": ("b.png", big)})
    assert huge.status_code == 413
    assert sorted(p.name for p in stored.parent.iterdir()) == [name[1]]


@pytest.mark.parametrize(
    ("title", "body"),
    [("Import round trip", "One.\n\nTwo."), ("عودة المياه إلى إدلب", "فقرة أولى.\n\nفقرة ثانية.")],
)
def test_import_then_download_gives_the_file_back(
    newsroom: Newsroom, title: str, body: str
) -> None:
    client = newsroom.signed_in("olga", "officer")
    csrf = csrf_of(client.get(NEW).text)
    language = "ar" if title.startswith("ع") else "en"
    source = (
        f"---\ntitle: {title}\ndate: 2024-05-02T10:00:00+03:00\nlanguage: {language}\n"
        f"tags: [water]\n---\n{body}\n"
    )
    imported = client.post(
        "/newsroom/releases/import", data={"csrf": csrf},
        files={"file": ("release.md", source.encode(), "text/markdown")},
    )  # fmt: skip
    assert imported.status_code == 303, imported.text
    release_id = location(imported).split("/")[3]
    download = client.get(f"/newsroom/releases/{release_id}/download")
    assert download.status_code == 200
    assert download.headers["content-type"] == "text/markdown; charset=utf-8"
    assert download.headers["content-disposition"] == f'attachment; filename="{release_id}.md"'
    post = frontmatter.loads(download.content.decode())
    assert post["title"] == title and post["language"] == language and post["tags"] == ["water"]
    assert post.content.strip() == body
    again = client.post(
        "/newsroom/releases/import", data={"csrf": csrf},
        files={"file": ("again.md", download.content, "text/markdown")},
    )  # fmt: skip
    assert again.status_code == 409 or again.status_code == 422  # its id is taken already
    assert "exists already" in again.text


def test_a_bad_release_file_shows_its_problems(newsroom: Newsroom) -> None:
    client = newsroom.signed_in("olga", "officer")
    csrf = csrf_of(client.get(NEW).text)
    answer = client.post(
        "/newsroom/releases/import", data={"csrf": csrf},
        files={"file": ("bad.md", b"---\ntitle: x\n---\n", "text/markdown")},
    )  # fmt: skip
    assert answer.status_code == 422
    assert re.search(r'id="err-import"><p class="error">date: missing', answer.text)


def test_submit_asks_for_approval_then_goes_to_the_release(newsroom: Newsroom) -> None:
    client = newsroom.signed_in("olga", "officer")
    csrf = csrf_of(client.get(NEW).text)
    created = post_form(client, "/newsroom/releases", csrf, title="Ready", body="Text.")
    release_id = location(created).split("/")[3]
    submitted = client.post(f"/newsroom/releases/{release_id}/submit", data={"csrf": csrf})
    assert (
        submitted.status_code == 303 and location(submitted) == f"/newsroom/releases/{release_id}"
    )
    assert newsroom.backend.store.release_fields(release_id, "status")["status"] == (
        "awaiting-approval"
    )
