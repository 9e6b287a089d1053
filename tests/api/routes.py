"""Every route of the REST API, read from the app itself (a new route is in every table at
once), with what its role must allow and a request that fills its path."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import routing

from publisher.web import api

#: (method, path) -> the action its role must allow; None: any valid token.
ACTIONS: dict[tuple[str, str], str | None] = {
    ("GET", "/api/v1/whoami"): None,
    ("GET", "/api/v1/tokens"): "tokens",
    ("POST", "/api/v1/releases"): "draft",
    ("GET", "/api/v1/releases"): "draft",
    ("GET", "/api/v1/releases/{release_id}"): "draft",
    ("PUT", "/api/v1/releases/{release_id}"): "draft",
    ("POST", "/api/v1/releases/{release_id}/submit"): "submit",
    ("POST", "/api/v1/releases/{release_id}/approve"): "approve",
    ("POST", "/api/v1/releases/{release_id}/publish"): "publish",
    ("POST", "/api/v1/releases/{release_id}/cancel"): "cancel",
    ("POST", "/api/v1/releases/{release_id}/resume"): "resume",
    ("POST", "/api/v1/releases/{release_id}/retry"): "retry",
    ("GET", "/api/v1/releases/{release_id}/status"): "draft",
    ("GET", "/api/v1/releases/{release_id}/deliveries"): "draft",
    ("GET", "/api/v1/journalists"): "recipients",
    ("POST", "/api/v1/journalists"): "recipients",
    ("DELETE", "/api/v1/journalists/{email}"): "recipients",
    ("POST", "/api/v1/journalists/{email}/remove"): "recipients",
    ("GET", "/api/v1/subscribers"): "recipients",
    ("POST", "/api/v1/subscribers"): "recipients",
    ("DELETE", "/api/v1/subscribers/{chat_id}"): "recipients",
}
#: Documentation, public on purpose: it holds no data (the public pages have none at all).
PUBLIC = {("GET", "/api/v1/openapi.json")}
PATH_VALUES = {
    "release_id": "2024-05-01-envoy-meets-delegation",
    "email": "reem@example.org",
    "chat_id": "12345",
}


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # as declared, with {params}

    @property
    def url(self) -> str:
        return self.path.format(**PATH_VALUES)

    @property
    def action(self) -> str | None:
        return ACTIONS[(self.method, self.path)]

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def endpoints(include_public: bool = False) -> list[Endpoint]:
    """Every method of every route under /api/ of the API router the app includes (with the
    routers it includes in turn)."""
    found = []
    for route in routing.iter_route_contexts(api.router.routes):
        if not (route.path or "").startswith("/api/"):
            continue
        for method in sorted(route.methods or ()):
            if (method, route.path) in PUBLIC and not include_public:
                continue
            found.append(Endpoint(method, route.path))
    return found
