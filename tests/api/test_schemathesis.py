"""Schemathesis against the live API's own OpenAPI document, with an administrator's token:
generated requests for every operation must get no server error and no answer that breaks
the document (status, media type, headers and body schema)."""

from __future__ import annotations

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from publisher.web import api as api_module
from tests.api.conftest import RELEASE, Api

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
MAX_EXAMPLES = 25
KNOWN_ID = "2024-05-01-envoy-meets-delegation"
OPERATIONS = [
    (method.upper(), path)
    for path, operations in api_module.document()["paths"].items()
    for method in operations
]


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_generated_requests_get_documented_answers(api: Api, method: str, path: str) -> None:
    secret = api.token("admin")
    auth = {"Authorization": f"Bearer {secret}"}
    # A release that exists, so that operations on an id get past 404 half of the time.
    api.as_role("officer").post("/api/v1/releases", json=RELEASE).raise_for_status()
    schema = schemathesis.openapi.from_url(f"{api.base}/api/v1/openapi.json")
    operation = schema[path][method]

    @hypothesis.given(case=operation.as_strategy(), known=st.booleans())
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: schemathesis.Case, known: bool) -> None:
        if known and case.path_parameters and "release_id" in case.path_parameters:
            case.path_parameters["release_id"] = KNOWN_ID
        case.call_and_validate(base_url=api.base, headers=auth, checks=CHECKS)

    run()
