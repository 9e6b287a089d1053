"""What routes are given, declared once: the backend, the pages, the client, who is acting."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from publisher.services import Backend
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


def get_client(request: Request) -> str:
    return client_of(request)


def page_language(request: Request, *chosen: str | None) -> str:
    """The page language: the switch (?lang=), then what the person chose, then the
    browser's Accept-Language, then English."""
    return pick(
        request.query_params.get("lang"),
        *chosen,
        accept_language=request.headers.get("accept-language"),
    )


def actor(request: Request) -> str:
    """Who acts on a public page, for the event stream: the person, and from where."""
    return f"self (web, {client_of(request)})"


BackendDep = Annotated[Backend, Depends(get_backend)]
PagesDep = Annotated[Pages, Depends(get_pages)]
LimitsDep = Annotated[Limits, Depends(get_limits)]
ClientDep = Annotated[str, Depends(get_client)]
