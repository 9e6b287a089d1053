"""The REST API under /api/v1, for programs with a bearer token (`publisher tokens create`).

Every route takes who acts from `publisher.web.deps`: `ApiPrincipal` for any valid token, or
`require_role(action)` where a role is needed. A missing, wrong or revoked token gets 401
problem details with `WWW-Authenticate: Bearer`; a token beyond its role, 403. Every POST
honours `Idempotency-Key` (`publisher.web.idempotency`).

    api.py             who a token is, the tokens (administrators), the OpenAPI document
    api_releases.py    releases: create, list, get, edit, submit, approve, publish, cancel,
                       resume, retry, status, deliveries
    api_recipients.py  journalists and Telegram subscribers: list, add, remove
    api_models.py      the request and response bodies
"""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any

from fastapi import APIRouter
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse

from publisher import __version__
from publisher.services import accounts
from publisher.services.accounts import Principal
from publisher.web import api_recipients, api_releases
from publisher.web.api_models import Open, responses
from publisher.web.deps import ApiPrincipal, BackendDep, require_role
from publisher.web.idempotency import IdempotentRoute

PREFIX = "/api/v1"
PROBLEM = "application/problem+json"
router = APIRouter(prefix=PREFIX, route_class=IdempotentRoute)


class WhoAmI(Open):
    name: str
    role: str
    kind: str


class TokenOut(Open):
    name: str
    role: str
    created: float
    last_used: float | None


@router.get("/whoami", responses=responses(), tags=["tokens"], summary="Who the token is")
def whoami(token: ApiPrincipal) -> WhoAmI:
    """The token's name and role."""
    return WhoAmI(name=token.name, role=token.role, kind=token.kind)


@router.get("/tokens", responses=responses(), tags=["tokens"], summary="Every API token")
def tokens(
    backend: BackendDep, who: Annotated[Principal, require_role("tokens")]
) -> list[TokenOut]:
    """Every API token: name, role, created and last used (never a secret)."""
    return [
        TokenOut(name=t.name, role=t.role, created=t.created, last_used=t.last_used)
        for t in accounts.list_tokens(backend)
    ]


router.include_router(api_releases.router)
router.include_router(api_recipients.router)


@router.get("/openapi.json", include_in_schema=False)
def openapi_document() -> JSONResponse:
    """The OpenAPI document of the API's routes (the public pages are no API)."""
    return JSONResponse(document())


@cache
def document() -> dict[str, Any]:
    """The API's OpenAPI document, made once: its routes, the bearer scheme, and every error
    answer as `application/problem+json`."""
    doc = get_openapi(
        title="publisher REST API",
        version=__version__,
        description="One press release to Telegram, X, email and the website.",
        routes=router.routes,
        servers=[{"url": "/"}],
    )
    components = doc.setdefault("components", {})
    components["securitySchemes"] = {
        "bearer": {"type": "http", "scheme": "bearer", "description": "publisher tokens create"}
    }
    doc["security"] = [{"bearer": []}]
    for operations in doc.get("paths", {}).values():
        for operation in operations.values():
            for status, answer in operation.get("responses", {}).items():
                content = answer.get("content", {})
                if int(status) >= 400 and "application/json" in content:
                    answer["content"] = {PROBLEM: content.pop("application/json")}
                if status == "401":
                    answer["headers"] = {"WWW-Authenticate": {"schema": {"type": "string"}}}
    return doc
