"""The daily briefing through the services on a real Redis: the day's published releases by
category, to the journalists whose cadence and beats call for it, once a day and language."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from publisher import services
from publisher.fanout import Offer, fan_out, wants
from publisher.services import briefing
from publisher.settings import get_settings
from tests.conftest import publisher_env, run_cli
from tests.services.test_releases import RecordingQueue

DAY = date(2024, 5, 1)


@pytest.fixture
def backend(data_dir: Path, redis_client: object) -> services.Backend:
    return services.connect(RecordingQueue, get_settings())


def publish(backend: services.Backend, folder: Path, **front: str) -> str:
    fields = {"date": "2024-05-01T09:00:00+03:00", "channels": ["email"], **front}
    path = folder / f"{front['id']}.md"
    text = "---\n" + "".join(f"{k}: {json.dumps(v)}\n" for k, v in fields.items())
    path.write_text(text + "---\nA paragraph.\n", encoding="utf-8")
    release = services.load(path)
    services.submit(backend, release, "amira")
    backend.store.mark_fanned_out(release.id)  # as the worker's fan-out does
    return release.id


def audience(backend: services.Backend, release_id: str) -> set[str]:
    fan_out(backend.store, backend.settings, release_id, ["email"], lambda r, c, b: None)
    return {record.recipient for record in backend.store.records(release_id, "email")}


def briefings_queued(backend: services.Backend) -> list[str]:
    queued: list[str] = backend.queue.published  # type: ignore[attr-defined]
    return [r for r in queued if r.startswith("briefing-")]


@pytest.fixture
def day(tmp_path: Path, backend: services.Backend) -> services.Backend:
    publish(backend, tmp_path, id="aid", title="Statement on aid", category="Press Releases",
            summary="The coalition calls for access.")  # fmt: skip
    publish(backend, tmp_path, id="roads", title="Roads reopen", category="Local News")
    publish(backend, tmp_path, id="envoy", title="Envoy <b>meets</b> delegation",
            category="Press Releases")  # fmt: skip
    publish(backend, tmp_path, id="roads-ar", title="إعادة فتح الطرق", category="أخبار محلية",
            language="ar", translation_of="roads")  # fmt: skip
    publish(backend, tmp_path, id="later", title="Next day", category="Local News",
            date="2024-05-02T09:00:00+03:00")  # fmt: skip
    journalists = tmp_path / "j.csv"
    journalists.write_text(
        "email,language,beats,cadence\n"
        "instant@example.org,en,,instant\n"
        "daily@example.org,en,,daily\n"
        "local@example.org,en,local-news,daily\n"
        "sport@example.org,en,Sport,daily\n"
        "both@example.org,both,,both\n"
        "arabic@example.org,ar,Local News,daily\n",
        encoding="utf-8",
    )
    assert services.import_journalists(backend, journalists, "admin").problems == []
    return backend


def test_the_days_releases_are_grouped_by_category_in_order_of_first_appearance(
    day: services.Backend,
) -> None:
    made = briefing.build(day, DAY, "en")
    assert made is not None
    assert [item.release_id for item in made.items] == ["aid", "roads", "envoy"]
    email = made.rendered["channels"]["email"]  # type: ignore[index]
    text = email["text"]
    assert text.index("Press Releases") < text.index("Local News")
    assert text.index("Statement on aid") < text.index("Envoy") < text.index("Local News")
    assert "Next day" not in text and "إعادة" not in text
    assert "<b>meets</b>" not in email["html"] and "&lt;b&gt;meets" in email["html"]
    assert email["subject"] == "Press Office: daily briefing, May 1, 2024"
    arabic = briefing.build(day, DAY, "ar")
    assert arabic is not None
    assert 'dir="rtl"' in arabic.rendered["channels"]["email"]["html"]  # type: ignore[index]
    assert "مايو" in arabic.rendered["channels"]["email"]["subject"]  # type: ignore[index]
    assert briefing.build(day, date(2024, 4, 30), "en") is None


def test_it_reaches_the_daily_readers_whose_beats_match_once(day: services.Backend) -> None:
    first = briefing.send(day, DAY, "en", "scheduler")
    assert first is not None and first.action == "queued"
    assert first.release_id == "briefing-2024-05-01-en"
    assert audience(day, first.release_id) == {
        "daily@example.org",
        "local@example.org",
        "both@example.org",
    }
    again = briefing.send(day, DAY, "en", "another-scheduler")
    assert again is not None and again.action == "already-published"
    assert briefings_queued(day) == [first.release_id]
    arabic = briefing.send(day, DAY, "ar", "scheduler")
    assert arabic is not None
    assert audience(day, arabic.release_id) == {"arabic@example.org", "both@example.org"}
    # A release goes out at once only to the instant readers (and to both).
    offer = Offer.of(day.store, day.store.load_release_json("aid"))
    instant = {a for a, info in day.store.iter_recipients("email") if wants(info, offer)}
    assert instant == {"instant@example.org", "both@example.org"}
    assert briefing.send(day, date(2024, 4, 30), "en", "scheduler") is None
    assert "briefing-2024-05-01-en" not in [p.id for p in services.subscribers.latest(day, "en")]


def test_the_scheduler_sends_each_language_once_at_the_briefing_time(
    day: services.Backend,
) -> None:
    zone = ZoneInfo("UTC")
    assert briefing.send_due(day, datetime(2024, 5, 1, 17, 59, tzinfo=zone)) == []
    sent = briefing.send_due(day, datetime(2024, 5, 1, 18, 0, 30, tzinfo=zone))
    assert sorted(sent) == ["briefing-2024-05-01-ar", "briefing-2024-05-01-en"]
    assert briefing.send_due(day, datetime(2024, 5, 1, 18, 1, tzinfo=zone)) == []
    assert sorted(briefings_queued(day)) == sorted(sent)


def test_the_command_prints_then_sends_once(tmp_path: Path, day: services.Backend) -> None:
    env = publisher_env(Path(str(get_settings().data_dir)), REDIS_URL=str(get_settings().redis_url))
    printed = run_cli("briefing", "--date", "2024-05-01", "--language", "en", env=env)
    assert printed.returncode == 0, printed.stderr
    assert "Subject: Press Office: daily briefing" in printed.stdout
    assert "Statement on aid" in printed.stdout
    bad = run_cli("briefing", "--date", "May 1", env=env)
    assert bad.returncode == 2 and "YYYY-MM-DD" in bad.stderr
