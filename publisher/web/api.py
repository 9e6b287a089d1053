"""The REST API under /api/v1, for programs with a bearer token (`publisher tokens create`).

Every route takes who acts from `publisher.web.deps`: `ApiPrincipal` for any valid token, or
`require_role(action)` where a role is needed. A missing, wrong or revoked token gets 401
problem details with `WWW-Authenticate: Bearer`; a token beyond its role, 403. For now: who a
token is, and the list of tokens (administrators); the releases' endpoints join here.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter

from publisher.services import accounts
from publisher.services.accounts import Principal
from publisher.web.deps import ApiPrincipal, BackendDep, require_role

router = APIRouter(prefix="/api/v1")


@router.get("/whoami")
def whoami(token: ApiPrincipal) -> dict[str, str]:
    """The token's name and role."""
    return {"name": token.name, "role": token.role, "kind": token.kind}


@router.get("/tokens")
def tokens(
    backend: BackendDep, who: Annotated[Principal, require_role("tokens")]
) -> list[dict[str, Any]]:
    """Every API token: name, role, created and last used (never a secret)."""
    return [
        {"name": t.name, "role": t.role, "created": t.created, "last_used": t.last_used}
        for t in accounts.list_tokens(backend)
    ]
