"""The newsroom's pages for the recipients: Telegram subscribers (counts, search) and journalists
(import, add, edit, suppress). Administrators only (the "recipients" action)."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from publisher import services
from publisher.errors import ReleaseError, ReleaseErrors
from publisher.services import newsroom_views
from publisher.services.accounts import Principal, User
from publisher.services.drafts import actor
from publisher.services.recipients import JOURNALISTS as EMAIL_CHANNEL
from publisher.web.deps import BackendDep, PagesDep, page_language, require_role
from publisher.web.newsroom import render
from publisher.web.pages import Pages
from publisher.web.words import LANGUAGES

router = APIRouter()

SUBSCRIBERS = "/newsroom/recipients/subscribers"
JOURNALISTS = "/newsroom/recipients/journalists"
PAGE_SIZE = 50

Admin = Annotated[Principal, require_role("recipients")]
Text = Annotated[str, Form()]
Offset = Annotated[int, Query(ge=0, le=10_000_000)]
Search = Annotated[str, Query(max_length=200)]


def _user(who: Principal) -> User | None:
    return who if isinstance(who, User) else None


def _kept(request: Request, **query: Any) -> dict[str, Any]:
    """The query of a link from this page: `query` without its empty values, and the page's
    language when it was asked for."""
    kept = {k: v for k, v in query.items() if v not in ("", None)}
    if request.query_params.get("lang") in LANGUAGES:
        kept["lang"] = request.query_params["lang"]
    return kept


def _paging(request: Request, path: str, found: newsroom_views.RecipientPage) -> dict[str, Any]:
    def at(offset: int) -> str:
        return f"{path}?{urlencode(_kept(request, q=found.query, offset=offset))}"

    return {
        "first": found.offset + 1 if found.rows else 0,
        "last": found.offset + len(found.rows),
        "previous": at(max(0, found.offset - found.limit)) if found.offset > 0 else "",
        "following": at(found.offset + found.limit)
        if found.offset + found.limit < found.total
        else "",
    }


def _lang_query(request: Request) -> str:
    kept = _kept(request)
    return f"?{urlencode(kept)}" if kept else ""


@router.api_route(SUBSCRIBERS, methods=["GET", "HEAD"], response_class=HTMLResponse)
def subscribers_page(
    request: Request,
    backend: BackendDep,
    pages: PagesDep,
    who: Admin,
    q: Search = "",
    offset: Offset = 0,
) -> Response:
    """Telegram subscribers: counts by language, category and state; search; a paged list."""
    found = newsroom_views.find_subscribers(backend, q, offset, PAGE_SIZE)
    return render(
        request,
        pages,
        "subscribers",
        page_language(request),
        user=_user(who),
        found=found,
        lang_query=_lang_query(request),
        **_paging(request, SUBSCRIBERS, found),
    )


def _journalists(
    request: Request,
    backend: BackendDep,
    pages: Pages,
    who: Principal,
    status: int = 200,
    q: str = "",
    offset: int = 0,
    **view: Any,
) -> HTMLResponse:
    found = newsroom_views.find_journalists(backend, q, offset, PAGE_SIZE)
    view.setdefault("notice", "")
    view.setdefault("problem", "")
    view.setdefault("report", None)
    view.setdefault("entered", {})
    view.setdefault("detail", "")
    return render(
        request,
        pages,
        "journalists",
        page_language(request),
        user=_user(who),
        status=status,
        found=found,
        lang_query=_lang_query(request),
        **_paging(request, JOURNALISTS, found),
        **view,
    )


@router.api_route(JOURNALISTS, methods=["GET", "HEAD"], response_class=HTMLResponse)
def journalists_page(
    request: Request,
    backend: BackendDep,
    pages: PagesDep,
    who: Admin,
    q: Search = "",
    offset: Offset = 0,
    done: str = "",
) -> Response:
    """Journalists, searched and paged, each with their choices or suppression's cause."""
    notice = f"journalists_done_{done}" if done in ("saved", "suppressed") else ""
    if done == "left_out":
        notice = "journalists_left_out"
    return _journalists(request, backend, pages, who, q=q, offset=offset, notice=notice)


def _done(request: Request, done: str) -> RedirectResponse:
    return RedirectResponse(
        f"{JOURNALISTS}?{urlencode(_kept(request, done=done))}", status_code=303
    )


def _expired(request: Request, backend: BackendDep, pages: Pages, who: Principal) -> Response:
    return _journalists(request, backend, pages, who, 403, problem="release_problem_form")


@router.post(JOURNALISTS + "/import", response_class=HTMLResponse)
def journalists_import(
    request: Request,
    backend: BackendDep,
    pages: PagesDep,
    who: Admin,
    file: Annotated[UploadFile | None, File()] = None,
    csrf: Text = "",
) -> Response:
    """Journalists from an uploaded CSV; the report (added, left out, bad lines) is shown."""
    if not pages.valid_form(request, csrf):
        return _expired(request, backend, pages, who)
    raw = file.file.read(newsroom_views.MAX_CSV_BYTES + 1) if file is not None else b""
    try:
        report = newsroom_views.import_journalists_csv(backend, raw, actor(who))
    except (ReleaseError, ReleaseErrors) as exc:
        problems = exc.errors if isinstance(exc, ReleaseErrors) else [exc]
        text = "; ".join(f"{p.field}: {p.problem}" for p in problems)
        return _journalists(
            request, backend, pages, who, 422, problem="journalists_problem", detail=text
        )
    return _journalists(request, backend, pages, who, report=report)


def _beats(text: str) -> list[str]:
    return [part.strip() for part in text.replace(",", ";").split(";") if part.strip()]


def _save(
    request: Request,
    backend: BackendDep,
    pages: Pages,
    who: Principal,
    csrf: str,
    fields: dict[str, str],
) -> Response:
    if not pages.valid_form(request, csrf):
        return _expired(request, backend, pages, who)
    try:
        added = services.add_journalist(
            backend,
            fields["email"],
            actor(who),
            name=fields["name"][:200],
            language=fields["language"][:35],
            outlet=fields["outlet"][:200],
            beats=_beats(fields["beats"]),
            cadence=fields["cadence"],
        )
    except ReleaseError as exc:
        detail = f"{exc.field}: {exc.problem}"
        return _journalists(
            request,
            backend,
            pages,
            who,
            422,
            problem="journalists_problem",
            detail=detail,
            entered=fields,
        )
    return _done(request, "saved" if added else "left_out")


@router.post(JOURNALISTS + "/add", response_class=HTMLResponse)
def journalists_add(
    request: Request,
    backend: BackendDep,
    pages: PagesDep,
    who: Admin,
    email: Text = "",
    name: Text = "",
    language: Text = "en",
    outlet: Text = "",
    beats: Text = "",
    cadence: Text = "instant",
    csrf: Text = "",
) -> Response:
    """Add one journalist (a suppressed address is left out, and the page says so)."""
    fields = dict(
        email=email, name=name, language=language, outlet=outlet, beats=beats, cadence=cadence
    )
    return _save(request, backend, pages, who, csrf, fields)


@router.post(JOURNALISTS + "/edit", response_class=HTMLResponse)
def journalists_edit(
    request: Request,
    backend: BackendDep,
    pages: PagesDep,
    who: Admin,
    email: Text = "",
    name: Text = "",
    language: Text = "en",
    outlet: Text = "",
    beats: Text = "",
    cadence: Text = "instant",
    csrf: Text = "",
) -> Response:
    """Change a journalist's name, language, outlet, topics and cadence."""
    fields = dict(
        email=email, name=name, language=language, outlet=outlet, beats=beats, cadence=cadence
    )
    return _save(request, backend, pages, who, csrf, fields)


@router.post(JOURNALISTS + "/suppress", response_class=HTMLResponse)
def journalists_suppress(
    request: Request,
    backend: BackendDep,
    pages: PagesDep,
    who: Admin,
    email: Text = "",
    cause: Text = "",
    csrf: Text = "",
) -> Response:
    """Stop every delivery to a journalist for good, with the cause given."""
    if not pages.valid_form(request, csrf):
        return _expired(request, backend, pages, who)
    cause = " ".join(cause.split())[:200] or "suppressed by staff"
    address = email.strip().lower()
    if "@" not in address:
        detail = "email: is not an email address"
        return _journalists(
            request, backend, pages, who, 422, problem="journalists_problem", detail=detail
        )
    services.suppress(backend, EMAIL_CHANNEL, address, actor(who), cause)
    return _done(request, "suppressed")
