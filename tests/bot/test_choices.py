"""Deep-link payloads, button data and toggles, as pure functions."""

from __future__ import annotations

import pytest

from publisher.bot.choices import (
    CALLBACK_DATA_MAX,
    DeepLink,
    category_data,
    parse_data,
    parse_payload,
    toggled,
)

SLUGS = {"local-news", "economy", "c-1a2b3c4d5e"}


@pytest.mark.parametrize(
    ("payload", "link"),
    [
        (None, DeepLink()),
        ("", DeepLink()),
        ("ar", DeepLink(language="ar")),
        ("EN", DeepLink(language="en")),
        ("both", DeepLink(language="both")),
        ("local-news", DeepLink(category="local-news")),
        ("local_news", DeepLink(category="local-news")),
        ("c-1a2b3c4d5e", DeepLink(category="c-1a2b3c4d5e")),
        ("ar-local-news", DeepLink(language="ar", category="local-news")),
        ("both-economy", DeepLink(language="both", category="economy")),
        ("ar-sports", DeepLink(language="ar", understood=False)),
        ("sports", DeepLink(understood=False)),
        ("fr-economy", DeepLink(understood=False)),
        ("a b", DeepLink(understood=False)),
        ("économie", DeepLink(understood=False)),
        ("x" * 64, DeepLink(understood=False)),
        ("x" * 65, DeepLink(understood=False)),
    ],
)
def test_deep_link_payloads(payload: str | None, link: DeepLink) -> None:
    assert parse_payload(payload, lambda: SLUGS) == link


def test_a_language_payload_does_not_look_up_categories() -> None:
    def never() -> set[str]:
        raise AssertionError("looked up")

    assert parse_payload("ar", never) == DeepLink(language="ar")


def test_button_data_fits_telegrams_64_bytes_and_reads_back() -> None:
    long_slug = "a" * 70
    for slug in ("local-news", "b" * 62, long_slug):
        data = category_data(slug)
        assert len(data.encode()) <= CALLBACK_DATA_MAX
        assert parse_data(data, {slug, "other"}) == ("category", slug)
    assert category_data(long_slug).startswith("h:")
    assert parse_data("l:ar", SLUGS) == ("language", "ar")
    for stale in ("l:fr", "c:gone", "h:0000", "zzz", None):
        assert parse_data(stale, SLUGS) is None


@pytest.mark.parametrize(
    ("chosen", "slug", "after"),
    [
        ((), "economy", ["c-1a2b3c4d5e", "local-news"]),  # all on: switch one off
        (("local-news",), "economy", ["economy", "local-news"]),
        (("local-news", "economy"), "c-1a2b3c4d5e", []),  # every one on again: "all"
        (("local-news",), "local-news", None),  # the last one stays on
    ],
)
def test_toggles(chosen: tuple[str, ...], slug: str, after: list[str] | None) -> None:
    assert toggled(chosen, slug, sorted(SLUGS)) == after
