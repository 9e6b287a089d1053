"""`Idempotency-Key` on the REST API's POSTs, against the live app and real Redis: a retry
with the same key and body gets the first answer and does nothing again; another body 422;
many at once, exactly one runs; a server error frees the key for a retry."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx

from publisher import services
from publisher.services import idempotency
from tests.api.conftest import RELEASE, Api, problem_of
from tests.redis_fixtures import data_dir

__all__ = ["data_dir"]


def _approved(api: Api) -> str:
    officer, editor = api.as_role("officer"), api.as_role("editor")
    release_id: str = officer.post("/api/v1/releases", json=RELEASE).json()["id"]
    officer.post(f"/api/v1/releases/{release_id}/submit").raise_for_status()
    editor.post(f"/api/v1/releases/{release_id}/approve").raise_for_status()
    return release_id


def test_the_same_key_and_body_replays_the_first_answer_without_a_second_draft(api: Api) -> None:
    client = api.as_role("officer")
    first = client.post("/api/v1/releases", json=RELEASE, headers={"Idempotency-Key": "k1"})
    again = client.post("/api/v1/releases", json=RELEASE, headers={"Idempotency-Key": "k1"})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert again.headers["content-type"] == first.headers["content-type"]
    assert api.release_ids() == [first.json()["id"]]
    # Without a key, the same body is a new request: a second draft.
    assert client.post("/api/v1/releases", json=RELEASE).json()["id"].endswith("-2")


def test_the_same_key_with_another_body_is_422_and_does_nothing(api: Api) -> None:
    client = api.as_role("officer")
    client.post("/api/v1/releases", json=RELEASE, headers={"Idempotency-Key": "k2"})
    other = client.post(
        "/api/v1/releases", json={**RELEASE, "title": "Other"}, headers={"Idempotency-Key": "k2"}
    )
    assert problem_of(other, 422)["errors"][0]["field"] == "Idempotency-Key"
    other_path = client.post("/api/v1/releases/x/submit", headers={"Idempotency-Key": "k2"})
    problem_of(other_path, 422)
    assert len(api.release_ids()) == 1


def test_keys_belong_to_their_token(api: Api) -> None:
    one, two = api.as_role("officer"), api.as_role("officer")
    a = one.post("/api/v1/releases", json=RELEASE, headers={"Idempotency-Key": "shared"})
    b = two.post("/api/v1/releases", json=RELEASE, headers={"Idempotency-Key": "shared"})
    assert a.status_code == b.status_code == 201 and a.json()["id"] != b.json()["id"]
    assert "idempotent-replayed" not in b.headers


def test_ten_requests_at_once_with_one_key_make_one_release(api: Api) -> None:
    secret = api.token("officer")
    barrier = threading.Barrier(10)
    answers: list[httpx.Response] = []
    lock = threading.Lock()

    def send() -> None:
        with api.client(secret) as client:
            barrier.wait()
            answer = client.post(
                "/api/v1/releases", json=RELEASE, headers={"Idempotency-Key": "race"}
            )
        with lock:
            answers.append(answer)

    threads = [threading.Thread(target=send) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    statuses = sorted(a.status_code for a in answers)
    ran = [a for a in answers if a.status_code == 201 and "idempotent-replayed" not in a.headers]
    assert len(ran) == 1, statuses
    for answer in answers:
        if answer.status_code == 409:
            assert "still running" in problem_of(answer, 409)["detail"]
        else:
            assert answer.status_code == 201 and answer.json() == ran[0].json()
    assert api.release_ids() == [ran[0].json()["id"]]


def test_a_publish_retried_with_the_same_key_publishes_once(api: Api) -> None:
    release_id = _approved(api)
    editor = api.as_role("editor")
    headers = {"Idempotency-Key": "publish-once"}
    first = editor.post(f"/api/v1/releases/{release_id}/publish", headers=headers)
    again = editor.post(f"/api/v1/releases/{release_id}/publish", headers=headers)
    assert first.status_code == again.status_code == 202 and again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert api.queue.published == [release_id]
    # A new key is a new request: the release is no longer approved.
    problem_of(
        editor.post(f"/api/v1/releases/{release_id}/publish", headers={"Idempotency-Key": "n"}),
        409,
    )
    events = [e["type"] for e in editor.get(f"/api/v1/releases/{release_id}").json()["history"]]
    assert events.count("published") <= 1 and api.queue.published == [release_id]


def test_a_refusal_is_kept_too(api: Api) -> None:
    editor = api.as_role("editor")
    headers = {"Idempotency-Key": "refused"}
    first = editor.post("/api/v1/releases/no-such/submit", headers=headers)
    api.as_role("officer").post("/api/v1/releases", json={**RELEASE, "id": "no-such"})
    again = editor.post("/api/v1/releases/no-such/submit", headers=headers)
    problem_of(first, 404)
    assert again.status_code == 404 and again.headers["idempotent-replayed"] == "true"


def test_a_server_error_frees_the_key_for_a_retry(api: Api) -> None:
    client = api.as_role("officer")
    api.queue.fail = 1
    release_id = _approved(api)
    secret = api.token("editor")
    headers = {"Idempotency-Key": "broker-down"}
    with api.client(secret) as editor:
        failed = editor.post(f"/api/v1/releases/{release_id}/publish", headers=headers)
    assert failed.status_code == 500
    with api.client(secret) as editor:  # uvicorn closes a connection after a server error
        retried = editor.post(f"/api/v1/releases/{release_id}/publish", headers=headers)
    assert "idempotent-replayed" not in retried.headers
    assert retried.status_code != 500  # it ran again (and the state now answers for itself)
    assert client.get(f"/api/v1/releases/{release_id}").status_code == 200


def test_a_key_too_long_is_refused_by_name(api: Api) -> None:
    answer = api.as_role("officer").post(
        "/api/v1/releases", json=RELEASE, headers={"Idempotency-Key": "k" * 300}
    )
    assert problem_of(answer, 422)["errors"][0]["field"] == "header.Idempotency-Key"
    assert api.release_ids() == []


def test_the_service_claims_a_key_once_and_forgets_it_on_request(data_dir: Path) -> None:
    backend = services.connect()
    print_ = idempotency.fingerprint("POST", "/api/v1/releases", "application/json", b"{}")
    first = idempotency.begin(backend, "cms", "k", print_)
    assert isinstance(first, idempotency.Run)
    assert isinstance(idempotency.begin(backend, "cms", "k", print_), idempotency.Busy)
    assert isinstance(idempotency.begin(backend, "cms", "k", "other"), idempotency.Reused)
    assert isinstance(idempotency.begin(backend, "other-token", "k", print_), idempotency.Run)
    idempotency.finish(backend, first, idempotency.Answer(201, "application/json", '{"id":1}'))
    replay = idempotency.begin(backend, "cms", "k", print_)
    assert replay == idempotency.Replay(idempotency.Answer(201, "application/json", '{"id":1}'))
    idempotency.forget(backend, first)
    assert isinstance(idempotency.begin(backend, "cms", "k", print_), idempotency.Run)


def test_a_multipart_fingerprint_ignores_the_boundary() -> None:
    def body(boundary: str) -> bytes:
        return f"--{boundary}\r\nContent-Disposition: form-data; name=file\r\n\r\nx\r\n".encode()

    one = idempotency.fingerprint("POST", "/p", "multipart/form-data; boundary=aaa", body("aaa"))
    two = idempotency.fingerprint("POST", "/p", "multipart/form-data; boundary=bbb", body("bbb"))
    assert one == two
    assert one != idempotency.fingerprint("POST", "/p", "multipart/form-data; boundary=c", b"y")
