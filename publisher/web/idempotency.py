"""`Idempotency-Key` on every POST of the REST API: a route class that wraps each POST route's
handler (the business is `publisher.services.idempotency`).

With the header and a valid token, the request is claimed before anything runs: the same key
and body again get the first answer (with `Idempotent-Replayed: true`), another body a 422,
and a request while the first still runs a 409. Every answer is kept, refusals too (a retry
of a bad request is as bad), except a server error's: the key is then freed for a retry.
Without the header, or without a valid token (the route answers 401), nothing changes.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Header, Request, Response
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from publisher.errors import StoreUnavailable
from publisher.services import accounts
from publisher.services import idempotency as idem
from publisher.web.deps import get_backend

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
Handler = Callable[[Request], Coroutine[Any, Any, Response]]


def declared_key(
    key: Annotated[
        str | None,
        Header(
            alias=HEADER,
            max_length=idem.MAX_KEY,
            description="retrying with the same key and body gives the first answer again "
            "(kept 24 hours); the same key with another body is refused",
        ),
    ] = None,
) -> None:
    """Declares the header in the OpenAPI document and checks its length; the route class
    below does the work, before the route runs."""


class IdempotentRoute(APIRoute):
    """An API route whose POST honours `Idempotency-Key`."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        methods = {m.upper() for m in kwargs.get("methods") or ()}
        if "POST" in methods:
            kwargs["dependencies"] = [*(kwargs.get("dependencies") or []), Depends(declared_key)]
        super().__init__(path, endpoint, **kwargs)

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()
        if "POST" not in (self.methods or set()):
            return handler

        async def idempotent(request: Request) -> Response:
            key = request.headers.get(HEADER)
            if not key or len(key) > idem.MAX_KEY:
                return await handler(request)  # a key too long is refused by `declared_key`
            return await _once(request, key, handler)

        return idempotent


async def _once(request: Request, key: str, handler: Handler) -> Response:
    backend = get_backend(request)
    scheme, _, bearer = request.headers.get("authorization", "").partition(" ")
    token = None
    if scheme.lower() == "bearer" and bearer.strip():
        token = await run_in_threadpool(accounts.token_user, backend, bearer.strip())
    if token is None:
        return await handler(request)  # 401: no token, no key of its own
    body = await request.body()  # kept by the request: the route reads it again
    fingerprint = idem.fingerprint(
        request.method, _path(request), request.headers.get("content-type", ""), body
    )
    begun = await run_in_threadpool(idem.begin, backend, token.name, key, fingerprint)
    if isinstance(begun, idem.Replay):
        answer = begun.answer
        return Response(
            answer.body.encode(),
            status_code=answer.status,
            media_type=answer.media_type or None,
            headers={REPLAYED: "true"},
        )
    if isinstance(begun, idem.Busy):
        return _problem(409, f"a request with this {HEADER} is still running; try again shortly")
    if isinstance(begun, idem.Reused):
        return _problem(422, f"this {HEADER} was used for another request; use a new key")
    try:
        response = await handler(request)
    except Exception as exc:
        response = await _answer_to(request, exc, begun, backend)
    if response.status_code >= 500 or not hasattr(response, "body"):
        await _forget(backend, begun)
        return response
    answer = idem.Answer(
        response.status_code,
        response.headers.get("content-type", ""),
        bytes(response.body).decode("utf-8", "replace"),
    )
    await run_in_threadpool(idem.finish, backend, begun, answer)
    return response


async def _answer_to(request: Request, exc: Exception, run: idem.Run, backend: Any) -> Response:
    """The app's own answer to an exception of the route (its handlers, as the app would
    give it), so that the answer can be kept; an exception nobody handles frees the key."""
    handlers = request.app.exception_handlers
    for cls in type(exc).__mro__:
        found = handlers.get(cls)
        if found is not None:
            response: Response = await found(request, exc)
            return response
    await _forget(backend, run)
    raise exc


async def _forget(backend: Any, run: idem.Run) -> None:
    """Free the key after a server error; with the store down it frees itself (RUNNING_S)."""
    try:
        await run_in_threadpool(idem.forget, backend, run)
    except StoreUnavailable:
        pass


def _path(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def _problem(status: int, detail: str) -> Response:
    from publisher.web.app import problem

    title = {409: "Conflict", 422: "Unprocessable Content"}[status]
    errors = [{"field": HEADER, "problem": detail, "fix": "send a new key for a new request"}]
    return problem(status, title, detail, errors=errors)
