"""What routes are given, declared once: the backend, the pages, the client, who is acting."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.exceptions import HTTPException

from publisher.services import Backend, accounts
from publisher.services.accounts import ApiToken, Principal, User
from publisher.services.journalists import Limits
from publisher.web.pages import Pages
from publisher.web.words import pick


def get_backend(request: Request) -> Backend:
    backend: Backend = request.app.state.backend
    return backend


def get_pages(request: Request) -> Pages:
    pages: Pages = request.app.state.pages
    return pages


def get_limits(request: Request) -> Limits:
    limits: Limits = request.app.state.limits
    return limits


def client_of(request: Request) -> str:
    """The client's address (behind a proxy uvicorn trusts, the one it forwarded for)."""
    return request.client.host if request.client else "unknown"


def page_language(request: Request, *chosen: str | None) -> str:
    """The page language: the switch (?lang=), then what the person chose (a journalist's
    language, a signed-in user's choice), then the browser's Accept-Language, then English."""
    user = getattr(request.state, "user", None)
    return pick(
        request.query_params.get("lang"),
        *chosen,
        user.language if user is not None else None,
        accept_language=request.headers.get("accept-language"),
    )


def actor(request: Request) -> str:
    """Who acts on a public page, for the event stream: the person, and from where."""
    return f"self (web, {client_of(request)})"


#: The newsroom's session cookie (HttpOnly, SameSite=Lax, path /newsroom, Secure under https).
SESSION_COOKIE = "publisher_session"
BEARER_REALM = 'Bearer realm="publisher"'


class SignInRequired(Exception):
    """Raised when a newsroom page is asked for without a live session: the answer is the
    sign-in page (`publisher.web.newsroom` handles it)."""


class NotAllowed(Exception):
    """Raised when a signed-in user's role may not do what a page does: a 403 page."""

    def __init__(self, role: str, action: str) -> None:
        super().__init__(role, action)
        self.role = role
        self.action = action


def is_api(request: Request) -> bool:
    """A request of the REST API (bearer tokens, problem details), not of a page."""
    return request.url.path.startswith("/api/")


def current_user(request: Request) -> User:
    """The signed-in user of a newsroom page, from the session cookie; SignInRequired (the
    sign-in page) when there is none, it expired or ended, or its user is disabled."""
    user = accounts.session_user(get_backend(request), request.cookies.get(SESSION_COOKIE))
    if user is None:
        raise SignInRequired()
    request.state.user = user  # the page's language is the one they chose
    return user


def api_principal(request: Request) -> ApiToken:
    """The API token of a request (`Authorization: Bearer ...`); 401 problem details with
    WWW-Authenticate when it is missing, wrong or revoked."""
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        raise HTTPException(401, "a bearer token is required", {"WWW-Authenticate": BEARER_REALM})
    token = accounts.token_user(get_backend(request), credentials.strip())
    if token is None:
        raise HTTPException(
            401,
            "the bearer token is wrong or revoked",
            {"WWW-Authenticate": f'{BEARER_REALM}, error="invalid_token"'},
        )
    return token


def require_role(action: str) -> Any:
    """A dependency that gives who acts (the token under /api/, else the signed-in user) when
    their role may do `action`, and refuses with 403 otherwise (problem details for the API, a
    page for a person). Use it as `who: Annotated[Principal, require_role("publish")]`.

    An action no role knows fails here, when the route is declared.
    """
    accounts.check_action(action)

    def check(request: Request) -> Principal:
        principal: Principal = api_principal(request) if is_api(request) else current_user(request)
        if not accounts.allowed(principal.role, action):
            if is_api(request):
                detail = f"the {principal.role} role does not allow '{action}'"
                raise HTTPException(403, detail)
            raise NotAllowed(principal.role, action)
        return principal

    return Depends(check)


# FastAPI runs a plain function dependency in its thread pool: a hop of a thread for each
# request and dependency. These read the request only, so they run on the event loop.


async def _backend(request: Request) -> Backend:
    return get_backend(request)


async def _pages(request: Request) -> Pages:
    return get_pages(request)


async def _limits(request: Request) -> Limits:
    return get_limits(request)


async def _client(request: Request) -> str:
    return client_of(request)


BackendDep = Annotated[Backend, Depends(_backend)]
PagesDep = Annotated[Pages, Depends(_pages)]
LimitsDep = Annotated[Limits, Depends(_limits)]
ClientDep = Annotated[str, Depends(_client)]
CurrentUser = Annotated[User, Depends(current_user)]
ApiPrincipal = Annotated[ApiToken, Depends(api_principal)]
