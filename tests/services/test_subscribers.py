"""Subscribers managing themselves (the bot's use cases) and the choices the fan-out honours:
an English release and its Arabic translation each reach exactly the readers who chose them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from publisher import services
from publisher.fanout import fan_out
from publisher.services import subscribers
from publisher.settings import get_settings
from tests.services.test_releases import RecordingQueue


@pytest.fixture
def backend(data_dir: Path, redis_client: object) -> services.Backend:
    return services.connect(RecordingQueue, get_settings())


def write(folder: Path, name: str, **front: str) -> Path:
    fields = {"date": "2024-05-01T09:00:00+03:00", **front}
    text = "---\n" + "".join(f"{k}: {json.dumps(v)}\n" for k, v in fields.items())
    path = folder / name
    path.write_text(text + "---\nA paragraph.\n", encoding="utf-8")
    return path


def fanned_out(backend: services.Backend, release_id: str) -> set[str]:
    """Who the fan-out queued on Telegram (the public channel aside)."""
    batches: list[str] = []
    fan_out(backend.store, backend.settings, release_id, ["telegram"], lambda r, c, b: None)
    for record in backend.store.records(release_id, "telegram"):
        batches.append(record.recipient)
    return set(batches)


def test_each_reader_gets_the_version_their_choices_call_for(
    tmp_path: Path, backend: services.Backend
) -> None:
    english = services.load(
        write(tmp_path, "en.md", title="Envoy meets delegation", category="Local News", id="envoy")
    )
    arabic = services.load(
        write(
            tmp_path,
            "ar.md",
            title="المبعوث يلتقي الوفد",
            category="أخبار محلية",
            language="ar",
            id="envoy-ar",
            translation_of="envoy",
        )
    )
    untranslated = services.load(
        write(tmp_path, "other.md", title="Statement on aid", category="Press Releases", id="aid")
    )
    for release in (english, arabic, untranslated):
        services.submit(backend, release, "amira", channels=["telegram"])

    readers = {
        "1": ("en", None),
        "2": ("ar", None),
        "3": ("both", None),
        "4": ("ar", ["local-news"]),  # the website's slug of the original's category
        "5": ("en", ["press-releases"]),
        "6": ("both", ["press-releases"]),
    }
    for chat, (language, categories) in readers.items():
        subscribers.start(backend, chat, "private", f"telegram:{chat}", language, categories)
    subscribers.start(backend, "7", "private", "telegram:7", "ar")
    assert subscribers.stop(backend, "7", "telegram:7")
    subscribers.start(backend, "8", "private", "telegram:8", "en")
    assert subscribers.block(backend, "8", "telegram", "bot was blocked by the user")

    assert fanned_out(backend, "envoy") == {"1", "3"}
    assert fanned_out(backend, "envoy-ar") == {"2", "3", "4"}, (
        "the translation counts as Local News"
    )
    assert fanned_out(backend, "aid") == {"1", "3", "5", "6"}, (
        "no Arabic version: Arabic readers wait"
    )

    status = services.release_status(backend, "envoy-ar")
    audience = status["channels"]["telegram"]["audience"]
    assert audience["language"] == {"ar": 2, "both": 1}
    assert audience["category"] == {"all": 2, "local-news": 1}


def test_stop_then_start_restores_the_choices_and_states_are_listed(
    backend: services.Backend,
) -> None:
    subscribers.start(backend, "42", "private", "telegram:42", "ar", ["local-news"])
    first = subscribers.find(backend, "42")
    assert first is not None and first.since
    assert subscribers.stop(backend, "42", "telegram:42")
    assert not subscribers.stop(backend, "42", "telegram:42"), "stopping twice changes nothing"
    stopped = subscribers.find(backend, "42")
    assert stopped is not None and stopped.state == "stopped"
    assert stopped.language == "ar" and stopped.categories == ("local-news",)
    assert subscribers.choose(backend, "42", "telegram:42", language="en") is None

    again = subscribers.start(backend, "42", "private", "telegram:42")
    assert (again.state, again.language, again.categories) == ("subscribed", "ar", ("local-news",))
    subscribers.start(backend, "-100777", "supergroup", "telegram:1", "en")
    assert subscribers.block(backend, "-100777", "telegram", "the bot was removed from the group")

    rows = {row["chat_id"]: row for row in services.list_recipients(backend, "telegram")}
    assert rows["42"]["state"] == "subscribed" and rows["-100777"]["state"] == "blocked"
    assert rows["-100777"]["type"] == "supergroup"
    for row in rows.values():
        assert set(row) >= {"chat_id", "type", "language", "categories", "state", "since", "source"}
        assert row["source"] == "bot" and row["since"].endswith("+00:00")
    counts = services.stats(backend, "telegram")
    assert counts["state"] == {"subscribed": 1, "blocked": 1}
    assert counts["language"] == {"ar": 1} and counts["category"] == {"local-news": 1}

    kinds = [e["type"] for e in backend.store.recipient_events("telegram")]
    assert kinds == ["subscribed", "suppressed", "subscribed", "subscribed", "suppressed"]
    assert all(float(e["at"]) > 0 for e in backend.store.recipient_events("telegram"))


def test_choices_change_in_place_and_a_moved_group_keeps_them(backend: services.Backend) -> None:
    subscribers.start(backend, "-5", "group", "telegram:1", "en")
    changed = subscribers.choose(backend, "-5", "telegram:1", categories=["local-news"])
    assert changed is not None and changed.categories == ("local-news",)
    every = subscribers.choose(backend, "-5", "telegram:1", language="both", categories=[])
    assert every is not None and every.categories == () and every.language == "both"
    assert subscribers.move(backend, "-5", "-1005", "telegram")
    assert subscribers.find(backend, "-5") is None
    moved = subscribers.find(backend, "-1005")
    assert moved is not None and moved.language == "both"
    with pytest.raises(ValueError, match="language 'fr'"):
        subscribers.start(backend, "9", "private", "telegram:9", "fr")


def test_latest_lists_published_releases_in_the_readers_language(
    tmp_path: Path, backend: services.Backend
) -> None:
    for n in range(7):
        release = services.load(
            write(tmp_path, f"{n}.md", title=f"Release {n}", id=f"r{n}", category="Local News")
        )
        services.submit(backend, release, "amira", channels=["telegram"])
        backend.store.mark_fanned_out(release.id)
    arabic = services.load(
        write(tmp_path, "ar.md", title="بيان", id="r-ar", language="ar", translation_of="r6")
    )
    services.submit(backend, arabic, "amira", channels=["telegram"])
    backend.store.mark_fanned_out("r-ar")
    english = subscribers.latest(backend, "en")
    assert [p.id for p in english] == ["r6", "r5", "r4", "r3", "r2"]
    assert english[0].url == f"{backend.settings.public_url}/releases/r6/"
    assert english[0].title == "Release 6"
    assert [p.id for p in subscribers.latest(backend, "ar")] == ["r-ar"]
    assert [p.id for p in subscribers.latest(backend, "both", 2)] == ["r-ar", "r6"]
    names = {c.slug: c for c in subscribers.categories(backend)}
    assert names["local-news"].name("en") == "Local News"
