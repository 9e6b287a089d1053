"""A release through the REST API from its first POST to its status, as a CMS would drive it:
create, read, edit, submit, approve by another editor, publish, status and deliveries; and
the recipients' endpoints. Errors are problem details naming their field."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import RELEASE, Api, problem_of

STATUS_COUNTS = {"sent", "failed", "pending", "skipped", "paused", "uncertain"}


def test_create_submit_approve_publish_status_end_to_end(api: Api) -> None:
    officer, editor, other = api.as_role("officer"), api.as_role("editor"), api.as_role("editor")
    created = officer.post("/api/v1/releases", json=RELEASE)
    assert created.status_code == 201, created.text
    body = created.json()
    release_id = body["id"]
    assert release_id == "2024-05-01-envoy-meets-delegation" and body["state"] == "draft"
    assert set(body["channels"]) == {"telegram", "x", "email", "website"}
    assert body["channels"]["telegram"]["messages"][0]["parse_mode"] == "HTML"
    assert body["channels"]["x"]["posts"] and body["channels"]["email"]["subject"]
    assert body["problems"] == [] and body["warnings"] == []

    got = officer.get(f"/api/v1/releases/{release_id}").json()
    assert got["fields"]["title"] == RELEASE["title"] and got["author"] == got["author"]
    assert [e["type"] for e in got["history"]] == ["drafted"]

    edited = officer.put(f"/api/v1/releases/{release_id}", json={**RELEASE, "summary": "New."})
    assert edited.status_code == 200 and edited.json()["fields"]["summary"] == "New."

    submitted = officer.post(f"/api/v1/releases/{release_id}/submit")
    assert submitted.status_code == 200, submitted.text
    content_hash = submitted.json()["content_hash"]
    assert submitted.json()["state"] == "awaiting-approval" and content_hash

    # Nobody else approved it yet: publishing is refused, and says what to do.
    refused = problem_of(editor.post(f"/api/v1/releases/{release_id}/publish"), 409)
    assert "approve" in refused["detail"]

    approved = other.post(
        f"/api/v1/releases/{release_id}/approve", json={"content_hash": content_hash}
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["state"] == "approved"
    assert approved.json()["approved_by"].startswith("token:editor-")

    published = editor.post(f"/api/v1/releases/{release_id}/publish")
    assert published.status_code == 202, published.text
    assert published.json() == {"id": release_id, "action": "queued", "at": None}
    assert api.queue.published == [release_id]

    status = editor.get(f"/api/v1/releases/{release_id}/status").json()
    assert status["id"] == release_id
    assert set(status["channels"]) == {"telegram", "x", "email", "website"}
    assert all(STATUS_COUNTS <= set(c) for c in status["channels"].values())
    assert isinstance(status["errors"], list)
    kinds = [e["type"] for e in status["events"]]
    assert kinds[:4] == ["drafted", "edited", "submitted", "approved"]

    page = editor.get(f"/api/v1/releases/{release_id}/deliveries", params={"limit": 2}).json()
    assert set(page) == {"items", "total", "offset", "limit"}
    assert page["limit"] == 2 and len(page["items"]) <= 2

    listed = editor.get("/api/v1/releases", params={"state": "sending"}).json()
    assert [i["id"] for i in listed["items"]] == [release_id] and listed["total"] == 1
    assert editor.get("/api/v1/releases", params={"state": "draft"}).json()["total"] == 0


def test_the_author_may_not_approve_their_own(api: Api) -> None:
    editor = api.as_role("editor")
    release_id = editor.post("/api/v1/releases", json=RELEASE).json()["id"]
    editor.post(f"/api/v1/releases/{release_id}/submit").raise_for_status()
    problem_of(editor.post(f"/api/v1/releases/{release_id}/approve"), 403)


def test_publish_at_a_time_schedules_it(api: Api) -> None:
    officer, editor = api.as_role("officer"), api.as_role("editor")
    release_id = officer.post("/api/v1/releases", json=RELEASE).json()["id"]
    officer.post(f"/api/v1/releases/{release_id}/submit").raise_for_status()
    editor.post(f"/api/v1/releases/{release_id}/approve").raise_for_status()
    later = editor.post(
        f"/api/v1/releases/{release_id}/publish", json={"at": "2099-01-01T09:00:00+00:00"}
    )
    assert later.status_code == 202, later.text
    assert later.json()["action"] == "scheduled" and later.json()["at"].startswith("2099-01-01")
    assert api.queue.published == []
    cancelled = editor.post(f"/api/v1/releases/{release_id}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["id"] == release_id
    assert editor.get(f"/api/v1/releases/{release_id}").json()["state"] == "cancelled"
    problem_of(editor.post(f"/api/v1/releases/{release_id}/publish", json={"at": "soon"}), 422)


def test_a_release_file_upload_makes_a_draft(api: Api) -> None:
    text = (
        "---\ntitle: Uploaded release\ndate: 2024-06-02T10:00:00+03:00\n"
        "category: Local News\n---\nThe body of the file.\n"
    )
    answer = api.as_role("officer").post(
        "/api/v1/releases", files={"file": ("release.md", text.encode(), "text/markdown")}
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["id"] == "2024-06-02-uploaded-release"
    assert "website" in answer.json()["channels"]


def test_errors_are_problem_details_naming_each_field(api: Api) -> None:
    officer = api.as_role("officer")
    wrong_types = officer.post("/api/v1/releases", json={"title": 5, "colour": "red"})
    fields = {e["field"] for e in problem_of(wrong_types, 422)["errors"]}
    assert {"body.title", "body.colour"} <= fields
    missing = problem_of(officer.post("/api/v1/releases", json={"body": "no title"}), 422)
    assert {e["field"] for e in missing["errors"]} >= {"title", "date"}
    not_json = officer.post(
        "/api/v1/releases", content=b"{", headers={"content-type": "application/json"}
    )
    assert problem_of(not_json, 422)["errors"]
    no_file = officer.post("/api/v1/releases", files={"other": ("a.md", b"x", "text/plain")})
    assert [e["field"] for e in problem_of(no_file, 422)["errors"]] == ["body.file"]
    bad_limit = officer.get("/api/v1/releases", params={"limit": 0})
    assert [e["field"] for e in problem_of(bad_limit, 422)["errors"]] == ["query.limit"]
    unknown = problem_of(officer.get("/api/v1/releases/no-such-release"), 404)
    assert unknown["errors"][0]["field"] == "id"
    # A draft that does not validate yet is kept, with its problems next to their fields.
    half = officer.post("/api/v1/releases", json={**RELEASE, "body": "", "language": "zz!"})
    assert half.status_code == 201
    assert {"body", "language"} <= {p["field"] for p in half.json()["problems"]}
    problem_of(officer.post(f"/api/v1/releases/{half.json()['id']}/submit"), 422)


def test_journalists_list_add_remove(api: Api) -> None:
    admin = api.as_role("admin")
    added = admin.post(
        "/api/v1/journalists",
        json={"email": "Reem@Example.org", "name": "Reem", "outlet": "Daily", "beats": ["a"]},
    )
    assert added.status_code == 201, added.text
    rows: list[dict[str, Any]] = admin.get("/api/v1/journalists").json()
    assert [(r["address"], r["state"], r["name"]) for r in rows] == [
        ("reem@example.org", "subscribed", "Reem")
    ]
    problem_of(admin.post("/api/v1/journalists", json={"email": "not an address"}), 422)
    assert admin.delete("/api/v1/journalists/reem@example.org").json()["removed"] is True
    problem_of(admin.delete("/api/v1/journalists/reem@example.org"), 404)
    admin.post("/api/v1/journalists", json={"email": "sam@example.org"}).raise_for_status()
    assert admin.post("/api/v1/journalists/sam@example.org/remove").status_code == 200
    assert admin.get("/api/v1/journalists").json() == []


def test_subscribers_list_add_remove(api: Api) -> None:
    admin = api.as_role("admin")
    added = admin.post(
        "/api/v1/subscribers", json={"chat_id": "12345", "language": "ar", "categories": ["b"]}
    )
    assert added.status_code == 201, added.text
    rows = admin.get("/api/v1/subscribers").json()
    assert [(r["chat_id"], r["state"], r["language"]) for r in rows] == [
        ("12345", "subscribed", "ar")
    ]
    problem_of(admin.post("/api/v1/subscribers", json={"chat_id": "not a chat"}), 422)
    assert admin.delete("/api/v1/subscribers/12345").json()["removed"] is True
    assert [r["state"] for r in admin.get("/api/v1/subscribers").json()] != ["subscribed"]
    # an unsubscribed chat stays suppressed: staff cannot add it back, only its own /start
    again = admin.post("/api/v1/subscribers", json={"chat_id": "12345", "language": "en"})
    assert problem_of(again, 409)["detail"].startswith("chat 12345 is suppressed")
    assert [r["state"] for r in admin.get("/api/v1/subscribers").json()] != ["subscribed"]
