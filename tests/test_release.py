"""The canonical release: parsing, stable ids, and one clear error per problem."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from publisher.errors import ReleaseError, ReleaseErrors
from publisher.release import load_release, make_id, release_from_mapping

GOOD = """---
title: Delegation meets the German envoy
date: 2020-02-11T10:00:00+02:00
category: Coalition News
language: en
summary: The delegation called for action on Idlib.
tags: [idlib, germany]
links:
  - {title: Resolution 2254, url: "https://example.org/2254"}
---
The delegation met the envoy in Berlin.

It stressed the need for aid.
"""


def write(tmp_path: Path, text: str | bytes, name: str = "r.md") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def problems(tmp_path: Path, text: str | bytes, name: str = "r.md") -> list[ReleaseError]:
    """What `validate` reports: the model's own checks, then the channels' (names, overrides)."""
    from publisher.services.releases import channel_problems

    try:
        release = load_release(write(tmp_path, text, name))
    except ReleaseErrors as caught:
        return caught.errors
    found = channel_problems(release)
    assert found, "expected a problem"
    return found


def test_good_release_parses_with_aware_date(tmp_path: Path) -> None:
    release = load_release(write(tmp_path, GOOD))
    assert release.title == "Delegation meets the German envoy"
    assert release.date.utcoffset() == timedelta(hours=2)
    assert release.tags == ("idlib", "germany")
    assert release.links[0].url == "https://example.org/2254"
    assert release.channels == ("telegram", "x", "email", "website")
    assert release.direction == "ltr"


def test_id_is_stable_and_ascii(tmp_path: Path) -> None:
    first = load_release(write(tmp_path, GOOD)).id
    second = load_release(write(tmp_path, GOOD, "copy.md")).id
    assert first == second == "2020-02-11-delegation-meets-the-german-envoy"


def test_arabic_title_gets_hash_id_and_rtl(tmp_path: Path) -> None:
    text = "---\ntitle: وفد الائتلاف يلتقي المبعوث\ndate: 2020-02-11\nlanguage: ar\n---\nنص.\n"
    release = load_release(write(tmp_path, text))
    assert release.direction == "rtl"
    assert release.id.startswith("2020-02-11-")
    assert release.id == make_id(release.title, release.date)
    assert all(c in "abcdefghijklmnopqrstuvwxyz0123456789-" for c in release.id)


def test_title_line_breaks_are_folded() -> None:
    release = release_from_mapping(
        {"title": "One\ntwo\r\nthree", "date": "2024-01-01", "body": "x"}
    )
    assert release.title == "One two three"


def test_date_without_offset_takes_the_organisation_timezone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from publisher.settings import reload_settings

    monkeypatch.setenv("PUBLISHER_TIMEZONE", "Asia/Damascus")
    reload_settings()
    try:
        release = release_from_mapping({"title": "t", "date": "2024-05-01T09:00", "body": "x"})
        assert str(release.date.tzinfo) == "Asia/Damascus"
    finally:
        monkeypatch.delenv("PUBLISHER_TIMEZONE")
        reload_settings()


@pytest.mark.parametrize(
    ("text", "field", "words"),
    [
        ("---\ndate: 2020-02-11\n---\nbody\n", "title", "missing"),
        ("---\ntitle: t\n---\nbody\n", "date", "missing"),
        ("---\ntitle: t\ndate: yesterday-ish\n---\nbody\n", "date", "cannot read"),
        ("---\ntitle: t\ndate: 2020-02-11\n---\n\n  \n", "body", "empty"),
        ("---\ntitle: t\ndate: 2020-02-11\nchannels: [telegram, myspace]\n---\nb\n", "channels",
         "unknown channel"),
        ("---\ntitle: t\ndate: 2020-02-11\nlanguage: english!\n---\nb\n", "language", "BCP 47"),
        ("---\ntitle: t\ndate: 2020-02-11\nlanguage: qq\n---\nb\n", "language", "unknown"),
        ("---\ntitle: [unclosed\ndate: 2020-02-11\n---\nb\n", "front matter", "broken YAML"),
        ("no front matter here\n", "front matter", "missing"),
        ("---\ntitle: t\ndate: 2020-02-11\nid: Not Valid!\n---\nb\n", "id", "not a valid id"),
        ("---\ntitle: t\ndate: 2020-02-11\ncolour: red\n---\nb\n", "colour", "unknown field"),
        ("---\ntitle: t\ndate: 2020-02-11\nimages: [{src: missing.jpg}]\n---\nb\n",
         "images[0].src", "no file"),
        ("---\ntitle: t\ndate: 2020-02-11\nlinks: [{url: 'javascript:alert(1)'}]\n---\nb\n",
         "links[0].url", "not http"),
        ("---\ntitle: t\ndate: 2020-02-11\noverrides: {x: {thread: 'one'}}\n---\nb\n",
         "overrides.x.thread", "must be a non-empty list"),
    ],
)  # fmt: skip
def test_each_problem_names_field_and_fix(
    tmp_path: Path, text: str, field: str, words: str
) -> None:
    found = problems(tmp_path, text)
    matching = [e for e in found if e.field == field]
    assert matching, [str(e) for e in found]
    line = str(matching[0])
    assert words in line
    assert line.startswith(str(tmp_path / "r.md"))
    assert "fix:" in line
    assert "\n" not in line


def test_several_problems_reported_at_once(tmp_path: Path) -> None:
    found = problems(tmp_path, "---\nlanguage: 12\n---\n\n")
    assert {e.field for e in found} >= {"title", "date", "body", "language"}


def test_binary_and_missing_files(tmp_path: Path) -> None:
    assert "binary" in str(problems(tmp_path, b"\x89PNG\x00\x01\x02")[0])
    assert "not UTF-8" in str(problems(tmp_path, b"---\ntitle: \xff\xfe\n---\n")[0])
    with pytest.raises(ReleaseErrors) as caught:
        load_release(tmp_path / "nope.md")
    assert "no such file" in str(caught.value)


def test_json_form(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '{"title": "From the API", "date": "2024-03-01T12:00:00Z", "body": "Hello"}',
        "r.json",
    )
    release = load_release(path)
    assert release.id == "2024-03-01-from-the-api"
    assert release.date.utcoffset() == timedelta(0)
