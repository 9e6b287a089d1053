"""The releases' list and a release's page over HTTP, against the real app under uvicorn on the
session's Redis: every page for each role, filters and paging, approving what was looked at
(a stale hash is 409, the author's own 403), publishing, scheduling, cancelling, and forms
without their CSRF token refused with nothing changed."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import redis

from publisher import services
from publisher.services import approval, drafts
from publisher.services.accounts import User
from publisher.settings import Settings
from publisher.store import Store
from publisher.web import create_app
from tests.accounts.conftest import Newsroom
from tests.services.test_releases import RecordingQueue
from tests.web.conftest import ORGANISATION, SECRET, LiveServer, free_port

ZONE = "Asia/Damascus"
FIELDS: dict[str, Any] = {
    "title": "Envoy meets delegation",
    "date": "2024-05-01T09:00:00+03:00",
    "summary": "A short lede.",
    "body": "First paragraph.\n\nSecond paragraph.",
    "category": "Press Releases",
    "channels": ["telegram", "x", "email", "website"],
}


@dataclass
class Office(Newsroom):
    """The newsroom with a queue the tests can read, and releases made through the services."""

    queue: RecordingQueue = field(default_factory=RecordingQueue)

    def draft(self, author: str = "olivia", role: str = "officer", **fields: Any) -> str:
        who = User(author, role, False, 0.0)
        return drafts.create(self.backend, {**FIELDS, **fields}, who).id

    def submitted(self, author: str = "olivia", role: str = "officer", **fields: Any) -> str:
        release_id = self.draft(author, role, **fields)
        approval.submit(self.backend, release_id, User(author, role, False, 0.0))
        return release_id

    def approved(self, **fields: Any) -> str:
        release_id = self.submitted(**fields)
        approval.approve(self.backend, release_id, User("eleni", "editor", False, 0.0))
        return release_id

    def state(self, release_id: str) -> str:
        return drafts.get(self.backend, release_id).state

    def post(
        self, client: httpx.Client, path: str, page: str | None = None, **data: str
    ) -> httpx.Response:
        """A form's POST with the CSRF token of `page` (the path's page by default)."""
        data.setdefault("csrf", self.csrf(client, page or path.rsplit("/", 1)[0]))
        return client.post(path, data=data)


@pytest.fixture(scope="module")
def office_server(
    redis_server: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, services.Backend, RecordingQueue]]:
    """The app over a backend whose queue records, in the organisation's own time zone."""
    port = free_port()
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        redis_url=redis_server,
        publisher_data_dir=tmp_path_factory.mktemp("office-var"),
        public_url=f"http://127.0.0.1:{port}",
        publisher_secret_key=SECRET,
        organisation_name=ORGANISATION,
        publisher_templates=None,
        publisher_timezone=ZONE,
        telegram_channel="@press_office",
    )
    queue = RecordingQueue()
    client = redis.Redis.from_url(redis_server)
    backend = services.Backend(Store(client), settings, make_queue=lambda: queue)
    server = LiveServer(create_app(backend), port)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}", backend, queue
    finally:
        server.stop()
        client.close()


@pytest.fixture
def office(
    office_server: tuple[str, services.Backend, RecordingQueue], redis_client: redis.Redis
) -> Office:
    """The app over an emptied Redis (`redis_client` empties it) and an empty queue."""
    base, backend, queue = office_server
    queue.published.clear()
    queue.delivered.clear()
    return Office(base, backend, redis_client, queue)


ROW_LINK = r'<a href="/newsroom/releases/[a-z0-9-]+[^"]*" dir="auto">([^<]+)</a>'


def text_of(page: str) -> str:
    """The page's text, without its tags."""
    return re.sub(r"<[^>]+>", "", page)


def hash_in(page: str) -> str:
    found = re.search(r'name="content_hash" value="([0-9a-f]+)"', page)
    assert found, "the page has no approve form"
    return found.group(1)


# --- roles ----------------------------------------------------------------------------------


def test_every_page_for_each_role(office: Office) -> None:
    release_id = office.submitted()
    pages = [
        "/newsroom/",
        "/newsroom/releases",
        f"/newsroom/releases/{release_id}",
        f"/newsroom/releases/{release_id}/delivery",
        "/newsroom/recipients/subscribers",
        "/newsroom/recipients/journalists",
    ]
    expected = {
        "officer": [200, 200, 200, 200, 403, 403],
        "editor": [200, 200, 200, 200, 403, 403],
        "admin": [200] * 6,
    }
    for role, statuses in expected.items():
        client = office.signed_in(f"{role}-1", role)
        got = [client.get(path).status_code for path in pages]
        assert got == statuses, role
    stranger = office.client()
    for path in pages[1:]:
        answer = stranger.get(path)
        assert answer.status_code == 303 and "/newsroom/login" in answer.headers["location"]
    home = office.signed_in("admin-2", "admin").get("/newsroom/").text
    for link in ("/newsroom/releases", "/newsroom/releases/new", "/newsroom/recipients/"):
        assert link in home
    assert "/newsroom/recipients/" not in office.signed_in("ed-2", "editor").get("/newsroom/").text


def test_an_officer_sees_no_editor_action_and_is_refused_them(office: Office) -> None:
    release_id = office.approved()
    officer = office.signed_in("oscar", "officer")
    page = officer.get(f"/newsroom/releases/{release_id}").text
    assert "/publish" not in page and "/approve" not in page
    for action in ("approve", "publish", "schedule", "cancel", "retry", "resume"):
        answer = office.post(officer, f"/newsroom/releases/{release_id}/{action}")
        assert answer.status_code == 403, action
    assert office.state(release_id) == "approved" and not office.queue.published


def test_an_unknown_release_is_404(office: Office) -> None:
    editor = office.signed_in("edward", "editor")
    assert editor.get("/newsroom/releases/no-such-release").status_code == 404
    assert editor.get("/newsroom/releases/no-such-release/delivery").status_code == 404


# --- the list -------------------------------------------------------------------------------


def test_filters_and_paging_over_sixty_releases(office: Office) -> None:
    for n in range(60):
        office.draft(
            author="olivia" if n % 2 else "omar",
            title=f"Release number {n:02d}",
            date=f"2024-05-{n % 28 + 1:02d}T09:00:00+03:00",
            category="Local News" if n % 3 == 0 else "Press Releases",
            language="ar" if n % 4 == 0 else "en",
        )
    for n in range(5):
        office.submitted(title=f"Awaiting {n}", date="2024-06-01T09:00:00+03:00")
    editor = office.signed_in("edward", "editor")

    def titles(query: str) -> list[str]:
        page = editor.get(f"/newsroom/releases?{query}")
        assert page.status_code == 200
        return re.findall(
            r'<a href="/newsroom/releases/[a-z0-9-]+[^"]*" dir="auto">([^<]+)</a>', page.text
        )

    first = editor.get("/newsroom/releases?limit=25").text
    assert "1–25 of 65" in text_of(first)
    assert len(titles("limit=25")) == 25
    assert "Awaiting" in titles("limit=25")[0]  # the newest first
    following = re.search(r'rel="next" href="([^"]+)"', first)
    assert following and 'rel="prev"' not in first
    second = editor.get(following.group(1).replace("&amp;", "&")).text
    assert "26–50 of 65" in text_of(second) and 'rel="prev"' in second
    assert set(titles("limit=25")).isdisjoint(titles("limit=25&offset=25"))
    last = titles("limit=25&offset=50")
    assert len(last) == 15

    assert len(titles("state=awaiting-approval")) == 5
    assert len(titles("state=draft&limit=100")) == 60
    assert len(titles("category=Local+News&limit=100")) == 20
    assert len(titles("language=ar&limit=100")) == 15
    assert len(titles("author=omar&limit=100")) == 30 + 0
    assert len(titles("from=2024-05-01&to=2024-05-02&limit=100")) == 6
    both = titles("category=Local+News&author=omar&limit=100")
    assert both and len(both) == 10

    # the filters stay in the paging links, and the page's language too
    page = editor.get("/newsroom/releases?state=draft&author=olivia&limit=10&lang=ar").text
    link = re.search(r'rel="next" href="([^"]+)"', page)
    assert link
    href = link.group(1).replace("&amp;", "&")
    for kept in ("state=draft", "author=olivia", "limit=10", "lang=ar", "offset=10"):
        assert kept in href
    assert 'dir="rtl"' in page and "مسودة" in page  # the state as a word in Arabic
    # a date that is not one is left out, and said so
    assert "YYYY-MM-DD" in editor.get("/newsroom/releases?from=yesterday").text


# --- a release's page and its actions -------------------------------------------------------


def test_the_release_page_shows_its_fields_history_and_links(office: Office) -> None:
    release_id = office.submitted(tags=["envoy", "talks"])
    editor = office.signed_in("edward", "editor")
    page = editor.get(f"/newsroom/releases/{release_id}").text
    for text in (
        "Envoy meets delegation",
        "Awaiting approval",
        "olivia",
        "Press Releases",
        "envoy, talks",
        f"/newsroom/releases/{release_id}/edit",
        f"/newsroom/releases/{release_id}/download",
        f"/newsroom/releases/{release_id}/delivery",
        "drafted",
        "submitted",
        ZONE,
    ):
        assert text in page, text
    event = drafts.get(office.backend, release_id).events[0]
    local = datetime.fromtimestamp(float(event["at"]), ZoneInfo(ZONE))
    assert local.strftime("%Y-%m-%d %H:%M") in page  # the history in the org's time zone
    assert hash_in(page) == drafts.get(office.backend, release_id).content_hash


def test_approving_binds_to_the_hash_that_was_looked_at(office: Office) -> None:
    release_id = office.submitted()
    editor = office.signed_in("edward", "editor")
    looked_at = hash_in(editor.get(f"/newsroom/releases/{release_id}").text)
    officer = User("olivia", "officer", False, 0.0)
    drafts.update(office.backend, release_id, {**FIELDS, "summary": "Changed lede."}, officer)
    assert drafts.get(office.backend, release_id).content_hash != looked_at

    stale = office.post(editor, f"/newsroom/releases/{release_id}/approve", content_hash=looked_at)
    assert stale.status_code == 409
    assert "changed since you looked at it" in stale.text
    assert office.state(release_id) == "awaiting-approval"

    fresh = hash_in(stale.text)  # the page shown again carries the new content's hash
    done = office.post(editor, f"/newsroom/releases/{release_id}/approve", content_hash=fresh)
    assert done.status_code == 303 and "done=approve" in done.headers["location"]
    assert office.state(release_id) == "approved"
    assert drafts.get(office.backend, release_id).approved_by == "user:edward"
    assert "Approved." in editor.get(done.headers["location"]).text


def test_the_author_may_not_approve_their_own(office: Office) -> None:
    editor = office.signed_in("edward", "editor")
    release_id = office.submitted(author="edward", role="editor")
    page = editor.get(f"/newsroom/releases/{release_id}").text
    assert "another editor must approve it" in page and 'name="content_hash"' not in page
    content_hash = drafts.get(office.backend, release_id).content_hash
    answer = office.post(
        editor, f"/newsroom/releases/{release_id}/approve", content_hash=content_hash
    )
    assert answer.status_code == 403 and "another editor must approve it" in answer.text
    assert office.state(release_id) == "awaiting-approval"


def test_publish_moves_the_release_and_a_second_publish_is_409(office: Office) -> None:
    release_id = office.approved()
    editor = office.signed_in("edward", "editor")
    assert "/publish" in editor.get(f"/newsroom/releases/{release_id}").text
    done = office.post(editor, f"/newsroom/releases/{release_id}/publish")
    assert done.status_code == 303
    assert office.state(release_id) == "sending"
    assert office.queue.published == [release_id]
    page = editor.get(done.headers["location"]).text
    assert "Sending" in page and "it is on its way" in page
    again = office.post(
        editor, f"/newsroom/releases/{release_id}/publish", page=f"/newsroom/releases/{release_id}"
    )
    assert again.status_code == 409 and "no longer applies" in again.text
    assert office.queue.published == [release_id]


def test_schedule_in_the_org_time_zone_then_withdraw(office: Office) -> None:
    release_id = office.approved()
    editor = office.signed_in("edward", "editor")
    page = editor.get(f"/newsroom/releases/{release_id}").text
    assert 'type="datetime-local"' in page and ZONE in page
    past = office.post(editor, f"/newsroom/releases/{release_id}/schedule", at="2020-01-01T09:00")
    assert past.status_code == 422 and "in the future" in past.text
    when = (datetime.now(ZoneInfo(ZONE)) + timedelta(days=2)).replace(second=0, microsecond=0)
    local = when.strftime("%Y-%m-%dT%H:%M")
    done = office.post(editor, f"/newsroom/releases/{release_id}/schedule", at=local)
    assert done.status_code == 303 and office.state(release_id) == "scheduled"
    assert office.backend.store.scheduled_at(release_id) == when.timestamp()
    page = editor.get(done.headers["location"]).text
    assert when.strftime("%Y-%m-%d %H:%M") in page and "Withdraw the schedule" in page
    assert not office.queue.published
    withdrawn = office.post(editor, f"/newsroom/releases/{release_id}/cancel")
    assert withdrawn.status_code == 303 and office.state(release_id) == "cancelled"
    assert office.backend.store.scheduled_at(release_id) is None


def test_forms_without_their_csrf_token_are_refused_and_change_nothing(office: Office) -> None:
    approved = office.approved()
    waiting = office.submitted(title="Another one")
    editor = office.signed_in("edward", "editor")
    editor.get(f"/newsroom/releases/{approved}")  # the CSRF cookie is set, the token missing
    before = {
        r: office.backend.store.release_fields(r, "status", "hash") for r in (approved, waiting)
    }
    events = {r: len(office.backend.store.events(r)) for r in (approved, waiting)}
    content_hash = drafts.get(office.backend, waiting).content_hash
    for release_id, action, data in (
        (waiting, "approve", {"content_hash": content_hash}),
        (approved, "publish", {}),
        (approved, "schedule", {"at": "2099-01-01T09:00"}),
        (approved, "cancel", {}),
        (approved, "retry", {}),
        (approved, "resume", {}),
        (waiting, "approve", {"content_hash": content_hash, "csrf": "forged"}),
    ):
        answer = editor.post(f"/newsroom/releases/{release_id}/{action}", data=data)
        assert answer.status_code == 403, action
        assert "The form expired" in answer.text
    after = {
        r: office.backend.store.release_fields(r, "status", "hash") for r in (approved, waiting)
    }
    assert after == before
    assert {r: len(office.backend.store.events(r)) for r in (approved, waiting)} == events
    assert not office.queue.published


def test_arabic_release_page_is_right_to_left_and_keeps_its_language(office: Office) -> None:
    release_id = office.submitted()
    editor = office.signed_in("edward", "editor")
    page = editor.get(f"/newsroom/releases/{release_id}?lang=ar").text
    assert 'dir="rtl"' in page and "الموافقة على هذا المحتوى" in page
    assert f'action="/newsroom/releases/{release_id}/approve?lang=ar"' in page
    done = office.post(
        editor,
        f"/newsroom/releases/{release_id}/approve?lang=ar",
        page=f"/newsroom/releases/{release_id}?lang=ar",
        content_hash=hash_in(page),
    )
    assert done.status_code == 303 and "lang=ar" in done.headers["location"]


def test_the_list_page_of_ten_thousand_releases_renders_only_its_rows(
    office: Office, tmp_path: Path
) -> None:
    store = office.backend.store
    for n in range(2000):  # enough to see that the page stays small; bench/ measures 10,000
        store.create_draft(
            f"2024-01-01-r{n}",
            {"id": f"2024-01-01-r{n}", "title": f"R {n}"},
            {"title": f"R {n}", "category": "", "language": "en", "date": "2024-01-01"},
        )
    editor = office.signed_in("edward", "editor")
    page = editor.get("/newsroom/releases")
    assert page.status_code == 200
    assert page.text.count("<tr>") == 25 + 1 and "1–25 of 2000" in text_of(page.text)
    assert page.elapsed.total_seconds() < 2
