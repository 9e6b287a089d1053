"""The release use cases called directly, as every face calls them, on a real Redis; the
queue is a recording one (the Queue protocol), so what would reach the workers is visible."""

from __future__ import annotations

from pathlib import Path

import pytest

from publisher import services
from publisher.errors import ReleaseError, ReleaseErrors, UnknownChannelError
from publisher.settings import get_settings
from publisher.store import Store


class RecordingQueue:
    """Keeps what the services queue instead of sending it to Celery."""

    def __init__(self) -> None:
        self.published: list[str] = []
        self.delivered: list[tuple[str, str, str]] = []

    def publish(self, release_id: str) -> None:
        self.published.append(release_id)

    def deliver(self, release_id: str, channel: str, batch_id: str) -> None:
        self.delivered.append((release_id, channel, batch_id))

    def workers_alive(self, timeout_s: float) -> bool:
        return True


@pytest.fixture
def backend(data_dir: Path, redis_client: object) -> tuple[services.Backend, RecordingQueue]:
    queue = RecordingQueue()
    return services.connect(lambda: queue, get_settings()), queue


def write(folder: Path, body: str = "A paragraph.", **front: str) -> Path:
    fields = {"title": "Envoy meets delegation", "date": "2024-05-01T09:00:00+03:00", **front}
    text = "---\n" + "".join(f"{k}: {v}\n" for k, v in fields.items()) + "---\n" + body + "\n"
    path = folder / "release.md"
    path.write_text(text, encoding="utf-8")
    return path


def test_submit_stores_then_queues_once_with_who_did_it(
    tmp_path: Path, backend: tuple[services.Backend, RecordingQueue]
) -> None:
    svc, queue = backend
    release = services.load(write(tmp_path))
    result = services.submit(svc, release, "amira", channels=["telegram", "x"])
    assert (result.action, queue.published) == ("queued", [release.id])
    stored = svc.store.load_rendered(release.id)["channels"]
    assert sorted(stored) == ["telegram", "x"]  # --channels replaces the file's, payloads too
    events = svc.store.events(release.id)
    assert events[0]["type"] == "submitted" and events[0]["who"] == "amira"


def test_a_future_time_schedules_without_queueing_and_cancel_withdraws(
    tmp_path: Path, backend: tuple[services.Backend, RecordingQueue]
) -> None:
    svc, queue = backend
    release = services.load(write(tmp_path))
    at = services.parse_time("2099-01-01T09:00")
    assert services.submit(svc, release, "amira", at=at).action == "scheduled"
    assert queue.published == []
    assert services.cancel(svc, release.id, "editor") == "withdrawn before it was published"
    assert services.release_status(svc, release.id)["state"] == "cancelled"
    assert [e["type"] for e in svc.store.events(release.id)][-1] == "cancelled"


@pytest.mark.parametrize(
    "front, body, problem",
    [
        ({}, "<script>alert(1)</script>", "script"),
        ({"channels": "[telegram, myspace]"}, "Body.", "unknown channel 'myspace'"),
        ({"overrides": "{x: {thread: 'one'}}"}, "Body.", "must be a non-empty list"),
    ],
)
def test_bad_input_stores_and_queues_nothing(
    tmp_path: Path,
    backend: tuple[services.Backend, RecordingQueue],
    front: dict[str, str],
    body: str,
    problem: str,
) -> None:
    svc, queue = backend
    release = services.load(write(tmp_path, body, **front))
    with pytest.raises(ReleaseErrors, match=problem):
        services.submit(svc, release, "amira")
    assert queue.published == [] and not svc.store.release_exists(release.id)
    assert any(problem in line for line in services.validate([tmp_path / "release.md"]))


def test_unknown_names_and_ids_are_bad_input(
    tmp_path: Path, backend: tuple[services.Backend, RecordingQueue]
) -> None:
    svc, _ = backend
    with pytest.raises(UnknownChannelError, match="mastodon"):
        services.submit(svc, services.load(write(tmp_path)), "amira", channels=["mastodon"])
    for call in (services.release_status, services.deliveries):
        with pytest.raises(ReleaseError, match="no such release"):
            call(svc, "no-such-id")
    with pytest.raises(ReleaseError, match="no such release"):
        services.resume(svc, "no-such-id", "editor")


def test_resume_requeues_only_what_a_fault_paused(
    tmp_path: Path, backend: tuple[services.Backend, RecordingQueue]
) -> None:
    svc, queue = backend
    store: Store = svc.store
    release = services.load(write(tmp_path))
    services.submit(svc, release, "amira", channels=["telegram"])
    store.set_channel_state(release.id, "telegram", paused="bad token")
    store.create_batch(release.id, "telegram", ["1", "2"])
    assert services.resume(svc, release.id, "editor") == {"telegram": 0}  # none paused yet
    kinds = [e["type"] for e in store.events(release.id)]
    assert kinds[-1] == "resumed" and store.events(release.id)[-1]["who"] == "editor"
