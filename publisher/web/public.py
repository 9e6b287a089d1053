"""The journalists' public pages: sign up, confirm, preferences, unsubscribe.

A GET never changes anything (mail scanners follow links): confirming and unsubscribing take a
POST, from the page's button or, for unsubscribe, RFC 8058's one-click POST. Each route reads
the form, calls one function of `publisher.services.journalists` and renders its answer.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from publisher import links
from publisher.errors import (
    DeliveryError,
    PermanentDeliveryError,
    ReleaseErrors,
    TokenError,
)
from publisher.recipients import CADENCES
from publisher.services import journalists
from publisher.services.journalists import Journalist, RateLimited, SignUpForm
from publisher.web.deps import (
    BackendDep,
    ClientDep,
    LimitsDep,
    PagesDep,
    actor,
    get_pages,
    page_language,
)
from publisher.web.words import ENDONYMS, minutes, words

router = APIRouter()

Text = Annotated[str, Form()]
Texts = Annotated[list[str] | None, Form()]
SENT_RETRY_AFTER_S = 60


def _topics(backend: BackendDep, language: str, chosen: list[str]) -> list[dict[str, Any]]:
    """The categories to choose from, named in the page's language, sorted by that name."""
    topics = []
    for slug, names in journalists.categories(backend).items():
        name = names.get(language) or names.get("en") or next(iter(names.values()), "") or slug
        topics.append({"slug": slug, "name": name, "checked": slug in chosen})
    return sorted(topics, key=lambda topic: topic["name"].casefold())


def _choices(language: str) -> dict[str, Any]:
    t = words(language)
    return {
        "language_choices": list(ENDONYMS.items()),
        "cadence_choices": [(c, t[f"cadence_{c}"]) for c in CADENCES],
    }


def _message(
    pages: PagesDep,
    request: Request,
    language: str,
    title: str,
    body: str,
    status: int,
    headers: dict[str, str] | None = None,
    **view: Any,
) -> HTMLResponse:
    """A page of one heading and one paragraph (words keys), with optional links."""
    t = words(language)
    return pages.render(
        request,
        "message",
        language,
        status=status,
        headers=headers,
        title=t[title],
        body=t[body],
        **view,
    )


def bad_link(request: Request, error: Exception) -> HTMLResponse:
    """400: a tampered, expired or wrong-purpose link, said plainly; nothing changed. The
    app's handler of TokenError, so that no route needs its own."""
    assert isinstance(error, TokenError)
    pages = get_pages(request)
    language = page_language(request)
    title, body = {
        "expired": ("bad_link_expired_title", "bad_link_expired"),
        "wrong purpose": ("bad_link_wrong_title", "bad_link_wrong"),
    }.get(error.reason, ("bad_link_title", "bad_link_tampered"))
    return _message(pages, request, language, title, body, 400, signup_link=True)


# --- sign up ------------------------------------------------------------------------------


@router.api_route("/subscribe", methods=["GET", "HEAD"], response_class=HTMLResponse)
def subscribe_form(request: Request, backend: BackendDep, pages: PagesDep) -> Response:
    """The sign-up form."""
    language = page_language(request)
    return _signup_page(request, backend, pages, language, {"language": language}, {}, 200)


def _signup_page(
    request: Request,
    backend: BackendDep,
    pages: PagesDep,
    language: str,
    values: dict[str, Any],
    errors: dict[str, str],
    status: int,
) -> HTMLResponse:
    return pages.render(
        request,
        "subscribe",
        language,
        status=status,
        form=True,
        values={"cadence": "instant", **values},
        errors=errors,
        topics=_topics(backend, language, values.get("beats") or []),
        **_choices(language),
    )


@router.post("/subscribe", response_class=HTMLResponse)
def subscribe_submit(
    request: Request,
    backend: BackendDep,
    pages: PagesDep,
    limits: LimitsDep,
    client: ClientDep,
    email: Text = "",
    name: Text = "",
    outlet: Text = "",
    language: Text = "",
    cadence: Text = "",
    beats: Texts = None,
    csrf: Text = "",
) -> Response:
    """Keep the sign-up and send its confirmation; the same answer for every address."""
    page = page_language(request, language)
    if not pages.valid_form(request, csrf):
        return _message(
            pages, request, page, "forbidden_title", "forbidden_body", 403, signup_link=True
        )
    form = SignUpForm(email, name, outlet, language, list(beats or []), cadence)
    try:
        address = journalists.sign_up(backend, form, actor(request), client, limits)
    except ReleaseErrors as exc:
        t = words(page)
        errors = {e.field: t.get(f"error_{e.field}", t["bad_request_body"]) for e in exc.errors}
        values = {
            "email": email,
            "name": name,
            "outlet": outlet,
            "language": language,
            "cadence": cadence,
            "beats": list(beats or []),
        }
        return _signup_page(request, backend, pages, page, values, errors, 400)
    except RateLimited as exc:
        return _message(
            pages,
            request,
            page,
            "too_many_title",
            "too_many_body",
            429,
            headers={"Retry-After": str(exc.retry_after_s)},
            values={"minutes": minutes(-(-exc.retry_after_s // 60), page)},
        )
    except PermanentDeliveryError:
        return _message(
            pages,
            request,
            page,
            "refused_title",
            "refused_body",
            400,
            values={"address": email.strip()},
            signup_link=True,
        )
    except DeliveryError:
        return _message(
            pages,
            request,
            page,
            "not_sent_title",
            "not_sent_body",
            503,
            headers={"Retry-After": str(SENT_RETRY_AFTER_S)},
        )
    return pages.render(request, "sent", page, address=address)


# --- confirm ------------------------------------------------------------------------------


@router.api_route("/confirm/{token}", methods=["GET", "HEAD"], response_class=HTMLResponse)
def confirm_page(token: str, request: Request, backend: BackendDep, pages: PagesDep) -> Response:
    """A page with one button that confirms (a GET confirms nothing)."""
    journalist = journalists.look_up(backend, token, "confirm")
    language = page_language(request, journalist.language)
    if journalist.pending is None:
        outcome = "already" if journalist.subscribed else "nothing"
        return _confirmed(request, pages, language, outcome, journalist)
    return pages.render(request, "confirm", language, address=journalist.address)


@router.post("/confirm/{token}", response_class=HTMLResponse)
def confirm_submit(token: str, request: Request, backend: BackendDep, pages: PagesDep) -> Response:
    """Subscribe with the pending sign-up's choices (the person's own consent)."""
    done = journalists.confirm(backend, token, actor(request))
    language = page_language(request, done.journalist.language)
    return _confirmed(request, pages, language, done.outcome, done.journalist)


def _confirmed(
    request: Request, pages: PagesDep, language: str, outcome: str, journalist: Journalist
) -> HTMLResponse:
    if outcome == "nothing":
        return _message(
            pages, request, language, "nothing_title", "nothing_body", 200, signup_link=True
        )
    return pages.render(
        request,
        "confirmed",
        language,
        again=outcome == "already",
        address=journalist.address,
        preferences_url=_link(pages, "preferences", journalist),
    )


def _link(pages: PagesDep, purpose: str, journalist: Journalist) -> str:
    """A page's own link to another page of the same person (relative: this host)."""
    token = links.make_token(purpose, journalist.channel, journalist.address, pages.settings)
    return f"/{purpose}/{token}"


# --- preferences --------------------------------------------------------------------------


@router.api_route("/preferences/{token}", methods=["GET", "HEAD"], response_class=HTMLResponse)
def preferences_page(
    token: str, request: Request, backend: BackendDep, pages: PagesDep
) -> Response:
    """The journalist's choices, to change, or a way out."""
    journalist = journalists.look_up(backend, token, "preferences")
    language = page_language(request, journalist.language)
    return _preferences(request, backend, pages, language, journalist, {}, saved=False)


def _preferences(
    request: Request,
    backend: BackendDep,
    pages: PagesDep,
    language: str,
    journalist: Journalist,
    errors: dict[str, str],
    saved: bool,
    status: int = 200,
) -> HTMLResponse:
    if not journalist.subscribed:
        template = "unsubscribed" if journalist.state != "unknown" else "not_subscribed"
        return pages.render(request, template, language, address=journalist.address)
    values = {
        "language": journalist.language,
        "cadence": journalist.cadence,
        "beats": journalist.beats,
    }
    return pages.render(
        request,
        "preferences",
        language,
        status=status,
        form=True,
        address=journalist.address,
        values=values,
        errors=errors,
        saved=saved,
        topics=_topics(backend, language, journalist.beats),
        **_choices(language),
    )


@router.post("/preferences/{token}", response_class=HTMLResponse)
def preferences_submit(
    token: str,
    request: Request,
    backend: BackendDep,
    pages: PagesDep,
    language: Text = "",
    cadence: Text = "",
    beats: Texts = None,
    action: Text = "save",
    csrf: Text = "",
) -> Response:
    """Save the new choices, or unsubscribe (the form's second button)."""
    journalist = journalists.look_up(backend, token, "preferences")
    page = page_language(request, journalist.language)
    if not pages.valid_form(request, csrf):
        return _message(pages, request, page, "forbidden_title", "forbidden_body", 403)
    who = actor(request)
    if action == "unsubscribe":
        journalists.unsubscribe(backend, token, who, "preferences page", "preferences")
        return pages.render(request, "unsubscribed", page, address=journalist.address)
    try:
        journalist = journalists.update_preferences(
            backend, token, who, language, list(beats or []), cadence
        )
    except ReleaseErrors as exc:
        t = words(page)
        errors = {e.field: t.get(f"error_{e.field}", t["bad_request_body"]) for e in exc.errors}
        return _preferences(request, backend, pages, page, journalist, errors, False, 400)
    page = page_language(request, journalist.language)
    return _preferences(request, backend, pages, page, journalist, {}, saved=True)


# --- unsubscribe --------------------------------------------------------------------------


@router.api_route("/unsubscribe/{token}", methods=["GET", "HEAD"], response_class=HTMLResponse)
def unsubscribe_page(
    token: str, request: Request, backend: BackendDep, pages: PagesDep
) -> Response:
    """A page with one button that unsubscribes (a GET unsubscribes nobody)."""
    journalist = journalists.look_up(backend, token, "unsubscribe")
    language = page_language(request, journalist.language)
    if journalist.state not in ("subscribed", "unknown"):
        return pages.render(request, "unsubscribed", language, address=journalist.address)
    preferences = _link(pages, "preferences", journalist) if journalist.channel == "email" else ""
    return pages.render(
        request,
        "unsubscribe",
        language,
        address=journalist.address,
        preferences_url=preferences if journalist.subscribed else "",
    )


@router.post("/unsubscribe/{token}", response_class=HTMLResponse)
def unsubscribe_submit(
    token: str,
    request: Request,
    backend: BackendDep,
    pages: PagesDep,
    one_click: Annotated[str, Form(alias="List-Unsubscribe")] = "",
    source: Text = "",
) -> Response:
    """RFC 8058's one-click POST (no cookie, no CSRF token, no redirect: 200, idempotent),
    which the page's button sends too."""
    language = page_language(request)
    if one_click != "One-Click":
        return _message(pages, request, language, "bad_request_title", "bad_request_body", 400)
    how = "unsubscribe page" if source == "page" else "one-click"
    journalists.unsubscribe(backend, token, actor(request), how)
    journalist = journalists.look_up(backend, token, "unsubscribe")
    language = page_language(request, journalist.language)
    return pages.render(request, "unsubscribed", language, address=journalist.address)
