"""Every endpoint of the REST API refuses a missing, wrong or revoked token with 401 problem
details and `WWW-Authenticate: Bearer`, and does nothing; the table is the app's own routes."""

from __future__ import annotations

import pytest

from publisher.services import accounts
from tests.api.conftest import RELEASE, Api, problem_of
from tests.api.routes import ACTIONS, PUBLIC, Endpoint, endpoints

ENDPOINTS = endpoints()


def test_every_route_is_in_the_tables() -> None:
    declared = {(e.method, e.path) for e in endpoints(include_public=True)}
    assert declared == set(ACTIONS) | PUBLIC


def _headers(api: Api, how: str) -> dict[str, str]:
    if how == "missing":
        return {}
    if how == "wrong":
        secret = api.token("admin")
        return {"Authorization": f"Bearer {secret[:-3]}xyz"}
    if how == "revoked":
        secret = api.token("admin", name="gone")
        accounts.revoke_token(api.backend, "gone", "tests")
        return {"Authorization": f"Bearer {secret}"}
    if how == "not-bearer":
        return {"Authorization": f"Basic {api.token('admin')}"}
    raise AssertionError(how)


@pytest.mark.parametrize("how", ["missing", "wrong", "revoked", "not-bearer"])
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_each_endpoint_refuses_a_bad_token(api: Api, endpoint: Endpoint, how: str) -> None:
    headers = {**_headers(api, how), "Idempotency-Key": f"key-{how}"}
    before = api.release_ids()
    with api.client(**headers) as client:
        answer = client.request(endpoint.method, endpoint.url, json=RELEASE)
    problem_of(answer, 401)
    assert answer.headers["www-authenticate"].startswith("Bearer")
    assert api.release_ids() == before and api.queue.published == []


def test_the_openapi_document_is_public_and_documents_the_bearer_scheme(api: Api) -> None:
    with api.client() as client:
        doc = client.get("/api/v1/openapi.json").json()
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert doc["security"] == [{"bearer": []}]
    for endpoint in ENDPOINTS:
        operation = doc["paths"][endpoint.path][endpoint.method.lower()]
        for status in ("401", "403", "422"):
            assert "application/problem+json" in operation["responses"][status]["content"]
        if endpoint.method == "POST":
            names = [p["name"] for p in operation.get("parameters", [])]
            assert "Idempotency-Key" in names and "409" in operation["responses"]
