"""The website sender: the stored page, then the site rebuilt, with only checked images copied."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from publisher.channels.base import Recipient, SendContext
from publisher.channels.website import WebsiteChannel
from publisher.release import load_release
from publisher.render import RenderContext, Templates, body_parts
from publisher.senders.website import WebsiteSender
from publisher.settings import Settings, reload_settings
from tests.conftest import ROOT

JPEG = (ROOT / "tests" / "data" / "images" / "python.jpg").read_bytes()
SECRET = b"DKIM_PRIVATE_KEY=-----BEGIN PRIVATE KEY-----\n"
RELEASE = """---
id: 2020-02-11-photo
title: With a photo
date: 2020-02-11
images: [{src: photo.jpg, alt: Rubble}, {src: "https://cdn.example.org/a.jpg"}]
---
The text.
"""


@pytest.fixture
def settings(tmp_path: Path) -> Iterator[Settings]:
    """This test's data dir, for the sender and for the site build it runs."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PUBLISHER_DATA_DIR", str(tmp_path / "var"))
        patch.setenv("PUBLIC_URL", "https://press.example.org")
        yield reload_settings()
    reload_settings()


def stored_payload(folder: Path) -> dict[str, Any]:
    """The website payload of the release in `folder`, as the store keeps it (JSON)."""
    release = load_release(folder / "r.md")
    ctx = RenderContext("https://press.example.org", 5, "Press Office", Templates())
    payload = WebsiteChannel.render(release, body_parts(release), ctx)
    result: dict[str, Any] = json.loads(json.dumps(payload))
    return result


def deliver(settings: Settings, payload: dict[str, Any]) -> list[str]:
    sender = WebsiteSender(settings)
    return asyncio.run(sender.deliver(payload, Recipient("site"), SendContext("2020-02-11-photo")))


def everything_under(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in folder.rglob("*") if p.is_file())


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    folder = tmp_path / "releases"
    folder.mkdir()
    (folder / "photo.jpg").write_bytes(JPEG)
    (folder / "r.md").write_text(RELEASE, encoding="utf-8")
    return folder


def test_a_checked_image_is_kept_beside_the_source_and_published(
    settings: Settings, folder: Path
) -> None:
    ids = deliver(settings, stored_payload(folder))

    data = settings.data_dir
    assert ids == ["https://press.example.org/releases/2020-02-11-photo/"]
    assert (data / "site" / "releases" / "2020-02-11-photo" / "photo.jpg").read_bytes() == JPEG
    source = json.loads((data / "site-sources" / "2020-02-11-photo.json").read_text("utf-8"))
    assert [image["src"] for image in source["images"]] == [
        ".images/2020-02-11-photo/photo.jpg",
        "https://cdn.example.org/a.jpg",
    ]
    assert (data / "site-sources" / ".images" / "2020-02-11-photo" / "photo.jpg").is_file()


def test_an_image_swapped_after_rendering_is_left_out(
    settings: Settings, folder: Path, tmp_path: Path
) -> None:
    payload = stored_payload(folder)
    secret = tmp_path / "dkim.pem"
    secret.write_bytes(SECRET)
    os.link(folder / "photo.jpg", tmp_path / "kept.jpg")  # its inode number stays taken
    (folder / "photo.new").symlink_to(secret)
    os.replace(folder / "photo.new", folder / "photo.jpg")  # between render and delivery

    deliver(settings, payload)

    data = settings.data_dir
    assert (data / "site" / "releases" / "2020-02-11-photo" / "index.html").is_file()
    assert not (data / "site" / "releases" / "2020-02-11-photo" / "photo.jpg").exists()
    assert SECRET not in everything_under(data)
    source = json.loads((data / "site-sources" / "2020-02-11-photo.json").read_text("utf-8"))
    assert [image["src"] for image in source["images"]] == ["https://cdn.example.org/a.jpg"]


def test_a_local_image_without_its_checked_file_is_left_out(
    settings: Settings, folder: Path, tmp_path: Path
) -> None:
    """A payload that names a path but not the checked file (an older version's) copies nothing."""
    payload = stored_payload(folder)
    secret = tmp_path / "secret.jpg"
    secret.write_bytes(JPEG[:16] + SECRET)
    payload["_release"]["images"][0] = {"src": str(secret), "alt": "", "caption": ""}

    deliver(settings, payload)

    assert SECRET not in everything_under(settings.data_dir)
