"""The newsroom's drafts and approvals called directly, on a real Redis, as every face calls
them: a draft's id, edits that send it back for approval, the author who may not approve, an
approval of content that changed, and publishing only what was approved."""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path
from typing import Any

import pytest

from publisher import services
from publisher.errors import ApprovalRefused, ReleaseErrors, StateConflict
from publisher.services import approval, drafts
from publisher.services.accounts import User
from publisher.settings import get_settings
from tests.services.test_releases import RecordingQueue

OFFICER = User("olivia", "officer", False, 0.0)
EDITOR = User("edward", "editor", False, 0.0)
OTHER_EDITOR = User("eleni", "editor", False, 0.0)
FIELDS: dict[str, Any] = {
    "title": "Envoy meets delegation",
    "date": "2024-05-01T09:00:00+03:00",
    "summary": "A short lede.",
    "body": "First paragraph.\n\nSecond paragraph.",
    "category": "Press Releases",
    "channels": ["telegram", "x", "email", "website"],
}


@pytest.fixture
def backend(data_dir: Path, redis_client: object) -> tuple[services.Backend, RecordingQueue]:
    queue = RecordingQueue()
    return services.connect(lambda: queue, get_settings()), queue


def _approved(svc: services.Backend) -> drafts.Draft:
    draft = drafts.create(svc, FIELDS, OFFICER)
    approval.submit(svc, draft.id, OFFICER)
    return approval.approve(svc, draft.id, EDITOR, drafts.get(svc, draft.id).content_hash)


def test_a_draft_gets_the_id_a_file_would_and_a_second_one_a_suffix(
    backend: tuple[services.Backend, RecordingQueue],
) -> None:
    svc, _ = backend
    first = drafts.create(svc, FIELDS, OFFICER)
    second = drafts.create(svc, FIELDS, OFFICER)
    assert first.id == "2024-05-01-envoy-meets-delegation"
    assert second.id == first.id + "-2"
    assert (first.state, first.author) == ("draft", "user:olivia")
    with pytest.raises(StateConflict):
        drafts.create(svc, {**FIELDS, "id": first.id}, OFFICER)


def test_an_invalid_draft_is_kept_as_typed_and_its_problems_name_fields(
    backend: tuple[services.Backend, RecordingQueue],
) -> None:
    svc, _ = backend
    draft = drafts.create(svc, FIELDS, OFFICER)
    half = {**FIELDS, "body": "", "language": "not a language!"}
    kept = drafts.update(svc, draft.id, half, OFFICER)
    assert kept.fields["language"] == "not a language!"
    found = {p.field for p in drafts.preview(kept.fields).problems}
    assert {"body", "language"} <= found
    with pytest.raises(ReleaseErrors):
        approval.submit(svc, draft.id, OFFICER)
    assert drafts.get(svc, draft.id).state == "draft"


def test_the_author_cannot_approve_their_own_and_an_edit_withdraws_an_approval(
    backend: tuple[services.Backend, RecordingQueue],
) -> None:
    svc, queue = backend
    draft = drafts.create(svc, FIELDS, EDITOR)
    submitted = approval.submit(svc, draft.id, EDITOR)
    assert submitted.state == "awaiting-approval" and submitted.content_hash
    with pytest.raises(ApprovalRefused):
        approval.approve(svc, draft.id, EDITOR)
    with pytest.raises(StateConflict):  # nobody approved it
        approval.publish(svc, draft.id, EDITOR)
    approved = approval.approve(svc, draft.id, OTHER_EDITOR, submitted.content_hash)
    assert approved.state == "approved" and approved.approved_by == "user:eleni"
    edited = drafts.update(svc, draft.id, {**FIELDS, "summary": "Changed."}, EDITOR)
    assert edited.state == "awaiting-approval" and edited.approved_by == ""
    assert edited.content_hash != submitted.content_hash
    with pytest.raises(StateConflict, match="changed since"):
        approval.approve(svc, draft.id, OTHER_EDITOR, submitted.content_hash)
    kinds = [e["type"] for e in drafts.get(svc, draft.id).events]
    assert kinds == ["drafted", "submitted", "approved", "edited", "approval-withdrawn"]
    assert queue.published == []


def test_an_edit_that_changes_nothing_keeps_the_approval(
    backend: tuple[services.Backend, RecordingQueue],
) -> None:
    svc, _ = backend
    approved = _approved(svc)
    again = drafts.update(svc, approved.id, FIELDS, OFFICER)
    assert again.state == "approved" and again.approved_by == "user:edward"


def test_publish_sends_what_was_approved_once(
    backend: tuple[services.Backend, RecordingQueue],
) -> None:
    svc, queue = backend
    approved = _approved(svc)
    result = approval.publish(svc, approved.id, OTHER_EDITOR)
    assert result.action == "queued" and queue.published == [approved.id]
    assert drafts.get(svc, approved.id).state == "sending"
    with pytest.raises(StateConflict):
        approval.publish(svc, approved.id, OTHER_EDITOR)
    with pytest.raises(StateConflict):
        drafts.update(svc, approved.id, {**FIELDS, "summary": "Too late."}, OFFICER)
    stored = svc.store.load_release_json(approved.id)
    assert stored["summary"] == "A short lede."
    assert queue.published == [approved.id]


def test_two_editors_publishing_at_once_queue_it_once(
    backend: tuple[services.Backend, RecordingQueue],
) -> None:
    svc, queue = backend
    approved = _approved(svc)
    outcomes: list[str] = []
    barrier = threading.Barrier(8)

    def go() -> None:
        barrier.wait()
        try:
            outcomes.append(approval.publish(svc, approved.id, OTHER_EDITOR).action)
        except StateConflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=go) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["conflict"] * 7 + ["queued"]
    assert queue.published == [approved.id]


def test_a_scheduled_release_edited_is_unscheduled_and_needs_approval_again(
    backend: tuple[services.Backend, RecordingQueue],
) -> None:
    svc, queue = backend
    from datetime import UTC, datetime, timedelta

    approved = _approved(svc)
    at = datetime.now(UTC) + timedelta(hours=2)
    assert approval.publish(svc, approved.id, OTHER_EDITOR, at).action == "scheduled"
    assert drafts.get(svc, approved.id).state == "scheduled"
    edited = drafts.update(svc, approved.id, {**FIELDS, "summary": "New."}, OFFICER)
    assert edited.state == "awaiting-approval"
    assert svc.store.scheduled_at(approved.id) is None
    assert queue.published == []


def test_with_approval_off_an_editor_publishes_their_own(
    backend: tuple[services.Backend, RecordingQueue],
) -> None:
    svc, queue = backend
    svc.settings = svc.settings.model_copy(update={"publisher_approval": "off"})
    draft = drafts.create(svc, FIELDS, EDITOR)
    assert approval.publish(svc, draft.id, EDITOR).action == "queued"
    assert queue.published == [draft.id]


def test_the_list_filters_and_pages(backend: tuple[services.Backend, RecordingQueue]) -> None:
    svc, _ = backend
    for n in range(7):
        fields = {**FIELDS, "title": f"Release {n}", "language": "ar" if n % 2 else "en"}
        made = drafts.create(svc, fields, OFFICER if n < 5 else EDITOR)
        if n == 0:
            approval.submit(svc, made.id, OFFICER)
    every = approval.list_releases(svc)
    assert every.total == 7 and every.items[0]["title"] == "Release 6"
    assert approval.list_releases(svc, language="ar").total == 3
    assert approval.list_releases(svc, author="edward").total == 2
    assert approval.list_releases(svc, state="awaiting-approval").total == 1
    page = approval.list_releases(svc, offset=5, limit=5)
    assert [i["title"] for i in page.items] == ["Release 1", "Release 0"]
    assert approval.list_releases(svc, date_from="2024-05-02").total == 0


def test_a_download_reads_back_as_the_same_release(
    backend: tuple[services.Backend, RecordingQueue], tmp_path: Path
) -> None:
    svc, _ = backend
    draft = drafts.create(svc, {**FIELDS, "title": "بيان صحفي", "language": "ar"}, OFFICER)
    path = tmp_path / "release.md"
    path.write_text(drafts.markdown_file(draft), encoding="utf-8")
    again = services.load(path)
    assert (again.title, again.language, again.id) == ("بيان صحفي", "ar", draft.id)
    assert again.body.strip() == FIELDS["body"]
    with pytest.raises(StateConflict, match="exists already"):  # the same release, again
        drafts.import_file(svc, path.read_bytes(), "release.md", OFFICER)
    other = {k: v for k, v in draft.fields.items() if k != "id"} | {"title": "بيان آخر"}
    text = drafts.markdown_file(dataclasses.replace(draft, fields=other))
    imported = drafts.import_file(svc, text.encode(), "release.md", OFFICER)
    assert imported.state == "draft" and imported.fields["title"] == "بيان آخر"
