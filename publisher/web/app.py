"""`create_app(backend)`: the one FastAPI app of `publisher serve`.

Errors are answered in the asker's terms: a person gets a page in their language; a program
(`/healthz`, `/api/...`, or a client that asks for JSON and not HTML) gets RFC 9457 problem
details, `application/problem+json`.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from publisher import links, services
from publisher.errors import (
    ApprovalRefused,
    ReleaseError,
    ReleaseErrors,
    RenderError,
    StateConflict,
    StoreUnavailable,
    TokenError,
    UnknownChannelError,
)
from publisher.services import Backend
from publisher.services.journalists import Limits
from publisher.web import api, compose, newsroom, public, recipients, releases, site
from publisher.web.deps import BackendDep, NotAllowed, SignInRequired, page_language
from publisher.web.pages import Pages, SecurityHeaders
from publisher.web.words import words

PROBLEM = "application/problem+json"
#: status -> the words of its page
PAGES = {
    400: ("bad_request_title", "bad_request_body"),
    404: ("not_found_title", "not_found_body"),
    503: ("unavailable_title", "unavailable_body"),
}


def create_app(backend: Backend, limits: Limits | None = None) -> FastAPI:
    """The web app over one backend (its store and settings); `limits` for the sign-up form."""
    app = FastAPI(
        title="publisher",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,  # the public pages are no API; the REST API documents itself
    )
    app.state.backend = backend
    app.state.pages = Pages(backend.settings, links.secret_key(backend.settings))
    app.state.limits = limits or Limits()
    app.add_middleware(SecurityHeaders)
    app.include_router(public.router)
    app.include_router(newsroom.router)
    app.include_router(compose.router)
    app.include_router(releases.router)
    app.include_router(recipients.router)
    app.include_router(api.router)

    @app.get("/healthz")
    def healthz(backend: BackendDep) -> dict[str, Any]:
        """`{"status": "ok"|"degraded", "redis": "ok", "workers": N}` with 200 while Redis
        answers; 503 problem details when it does not. No worker seen in the last minute makes
        the status "degraded" but still 200: the web app itself works (its pages, the site, the
        API queue what they submit), so a container healthcheck keeps it up."""
        return services.health(backend)

    @app.get("/static/web.css", include_in_schema=False)
    def stylesheet(request: Request) -> Response:
        pages: Pages = request.app.state.pages
        return Response(
            pages.stylesheet,
            media_type="text/css; charset=utf-8",
            headers={"Cache-Control": "public, max-age=3600"},
        )

    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(StoreUnavailable, _store_unavailable)
    app.add_exception_handler(TokenError, public.bad_link)
    for refusal in (ReleaseError, ReleaseErrors, RenderError, UnknownChannelError):
        app.add_exception_handler(refusal, _refused)
    app.add_exception_handler(StateConflict, _refused)
    app.add_exception_handler(ApprovalRefused, _refused)
    app.add_exception_handler(SignInRequired, newsroom.sign_in_required)
    app.add_exception_handler(NotAllowed, newsroom.not_allowed)
    # Last: whatever no route takes is a file of the built site, or the app's 404. The
    # router's default, not a mount at /: a mount would take a route's wrong method too.
    app.router.default = site.Website(backend.settings.site_dir)
    return app


def wants_problem(request: Request) -> bool:
    """A program rather than a person: /healthz, /api/, or JSON asked for and not HTML."""
    path = request.url.path
    if path == "/healthz" or path.startswith("/api/"):
        return True
    accept = request.headers.get("accept", "")
    return "json" in accept and "text/html" not in accept


def problem(
    status: int,
    title: str,
    detail: str = "",
    headers: dict[str, str] | None = None,
    errors: list[dict[str, str]] | None = None,
) -> JSONResponse:
    """RFC 9457 problem details; `errors` names each field at fault and its fix."""
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def _page(request: Request, status: int, headers: dict[str, str] | None = None) -> Response:
    pages: Pages = request.app.state.pages
    language = page_language(request)
    title, body = PAGES.get(status, PAGES[400] if status < 500 else PAGES[503])
    t = words(language)
    return pages.render(
        request, "message", language, status=status, headers=headers, title=t[title], body=t[body]
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    headers = dict(exc.headers or {})
    if wants_problem(request) or exc.status_code not in (400, 404):
        return problem(exc.status_code, _reason(exc.status_code), str(exc.detail), headers)
    return _page(request, exc.status_code, headers)


async def _invalid_request(request: Request, exc: Exception) -> Response:
    if request.url.path.startswith("/api/"):
        assert isinstance(exc, RequestValidationError)
        errors = [_field_problem(e) for e in exc.errors()]
        return problem(422, _reason(422), "the request's fields are not as expected", errors=errors)
    if wants_problem(request):
        return problem(400, "Bad Request", "the request's fields are not as expected")
    return _page(request, 400)


def _field_problem(error: Any) -> dict[str, str]:
    """One of FastAPI's validation errors as a problem naming its field (`body.title`,
    `query.limit`, `header.Idempotency-Key`)."""
    field = ".".join(str(part) for part in error.get("loc", ()))
    return {"field": field or "body", "problem": str(error.get("msg", "")), "fix": ""}


#: A refusal of the services -> its status: bad input 422, a state that does not allow it 409,
#: the author approving their own 403. An unknown id (a ReleaseError on field "id") is a 404.
REFUSALS: dict[type[Exception], int] = {
    ReleaseError: 422,
    ReleaseErrors: 422,
    RenderError: 422,
    UnknownChannelError: 422,
    StateConflict: 409,
    ApprovalRefused: 403,
}


def refusal_problem(exc: Exception) -> JSONResponse:
    """Problem details for a refusal of the services, each problem naming its field and fix
    under `errors` (RFC 9457's extension member)."""
    status = REFUSALS.get(type(exc), 422)
    errors: list[dict[str, str]] = []
    if isinstance(exc, ReleaseError):
        if exc.field == "id" and exc.problem == "no such release":
            status = 404
        errors = [{"field": exc.field, "problem": exc.problem, "fix": exc.fix}]
    elif isinstance(exc, ReleaseErrors):
        errors = [{"field": e.field, "problem": e.problem, "fix": e.fix} for e in exc.errors]
    elif isinstance(exc, RenderError):
        errors = [{"field": f"channels.{exc.channel}", "problem": exc.message, "fix": ""}]
    detail = str(exc).splitlines()[0] if str(exc) else ""
    return problem(status, _reason(status), detail, errors=errors)


async def _refused(request: Request, exc: Exception) -> Response:
    """What the services refused, in the asker's terms (pages show their own problems next
    to their fields; this is the answer when a route did not)."""
    answer = refusal_problem(exc)
    if wants_problem(request):
        return answer
    return _page(request, answer.status_code)


async def _store_unavailable(request: Request, exc: Exception) -> Response:
    headers = {"Retry-After": "30"}
    if wants_problem(request):
        return problem(503, "Service Unavailable", "the store does not answer", headers)
    return _page(request, 503, headers)


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
