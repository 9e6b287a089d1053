"""Every role against every endpoint of the REST API: allowed (anything but 401 and 403) or
refused with 403 problem details, as the role table of `publisher.services.accounts` says."""

from __future__ import annotations

import pytest

from publisher.services import accounts
from tests.api.conftest import RELEASE, Api, problem_of
from tests.api.routes import Endpoint, endpoints

ENDPOINTS = endpoints()


@pytest.mark.parametrize("role", accounts.ROLES)
def test_each_role_may_call_exactly_what_it_may_do(api: Api, role: str) -> None:
    author = api.as_role("officer")
    assert author.post("/api/v1/releases", json=RELEASE).status_code == 201
    refused: list[str] = []
    allowed: list[str] = []
    with api.as_role(role) as client:
        for endpoint in ENDPOINTS:
            answer = client.request(endpoint.method, endpoint.url, json=_body(endpoint))
            assert answer.status_code != 401, (endpoint, answer.text)
            if answer.status_code == 403:
                problem_of(answer, 403)
                refused.append(str(endpoint))
            else:
                assert answer.status_code < 500, (endpoint, answer.text)
                allowed.append(str(endpoint))
    expected = [str(e) for e in ENDPOINTS if e.action is None or accounts.allowed(role, e.action)]
    assert allowed == expected
    assert set(refused) == {str(e) for e in ENDPOINTS} - set(expected)


def _body(endpoint: Endpoint) -> object:
    if endpoint.path == "/api/v1/journalists":
        return {"email": "reem@example.org"}
    if endpoint.path == "/api/v1/subscribers":
        return {"chat_id": "12345"}
    if endpoint.path.endswith(("approve", "publish")):
        return None
    return RELEASE
