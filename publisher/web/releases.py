"""The newsroom's pages for the releases' list, a release's page (history; approve, publish,
schedule, cancel, retry, resume) and its delivery page (live progress, retry, resume).

The delivery page polls its own fragment (`/static/delivery.js`, asking with `HX-Request`, as
htmx would) while anything is pending; a request without that header, a history restore among
them, gets the whole page, and both answers say `Vary: HX-Request`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path as FilePath
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from publisher.errors import ApprovalRefused, StateConflict
from publisher.services import accounts, approval, drafts, newsroom_views
from publisher.services.accounts import Principal, User
from publisher.web.deps import BackendDep, PagesDep, page_language, require_role
from publisher.web.newsroom import render
from publisher.web.pages import CONTENT_SECURITY_POLICY, Pages
from publisher.web.words import LANGUAGES, words

router = APIRouter()

LIST = "/newsroom/releases"
PAGE = LIST + "/{release_id}"
SCRIPT = FilePath(__file__).parent / "static" / "delivery.js"
DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
PAGE_SIZE = 25
#: The delivery page runs its own script, which asks this site for its fragment.
DELIVERY_CSP = f"{CONTENT_SECURITY_POLICY}; script-src 'self'; connect-src 'self'"

ReleaseId = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9-]{0,199}$")]
Text = Annotated[str, Form()]
Reader = Annotated[Principal, require_role("draft")]  # every signed-in role reads releases


def _user(who: Principal) -> User | None:
    return who if isinstance(who, User) else None


def _lang_query(request: Request) -> str:
    """`?lang=..` when the page was asked in a language, so that what follows keeps it."""
    lang = request.query_params.get("lang")
    return f"?{urlencode({'lang': lang})}" if lang in LANGUAGES else ""


# --- the list -------------------------------------------------------------------------------


@router.api_route(LIST, methods=["GET", "HEAD"], response_class=HTMLResponse)
def releases_list(
    request: Request,
    backend: BackendDep,
    pages: PagesDep,
    who: Reader,
    state: str = "",
    category: str = "",
    language: str = "",
    author: str = "",
    date_from: Annotated[str, Query(alias="from")] = "",
    date_to: Annotated[str, Query(alias="to")] = "",
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = PAGE_SIZE,
) -> Response:
    """Releases, the newest first, filtered by a GET form and paged."""
    page_lang = page_language(request)
    filters = {
        "state": state if state in approval.STATES else "",
        "category": category.strip()[:200],
        "language": language.strip()[:35],
        "author": author.strip()[:64],
        "from": date_from.strip(),
        "to": date_to.strip(),
    }
    bad_date = False
    for key in ("from", "to"):
        if filters[key] and not DAY.fullmatch(filters[key]):
            filters[key], bad_date = "", True
    found = approval.list_releases(
        backend,
        state=filters["state"] or None,
        category=filters["category"] or None,
        language=filters["language"] or None,
        author=filters["author"] or None,
        date_from=filters["from"] or None,
        date_to=filters["to"] or None,
        offset=offset,
        limit=limit,
    )
    kept = {k: v for k, v in filters.items() if v}
    if request.query_params.get("lang") in LANGUAGES:
        kept["lang"] = request.query_params["lang"]

    def at(new_offset: int) -> str:
        return f"{LIST}?{urlencode({**kept, 'offset': new_offset, 'limit': limit})}"

    previous = at(max(0, offset - limit)) if offset > 0 else ""
    following = at(offset + limit) if offset + limit < found.total else ""
    return render(
        request,
        pages,
        "releases",
        page_lang,
        user=_user(who),
        releases=found.items,
        total=found.total,
        first=offset + 1 if found.items else 0,
        last=offset + len(found.items),
        filters=filters,
        states=approval.STATES,
        bad_date=bad_date,
        previous=previous,
        following=following,
        lang_query=_lang_query(request),
    )


# --- a release's page and its actions -------------------------------------------------------


def _release_page(
    request: Request,
    backend: BackendDep,
    pages: Pages,
    release_id: str,
    who: Principal,
    status: int = 200,
    notice: str = "",
    problem: str = "",
    **values: str,
) -> HTMLResponse:
    view = newsroom_views.release_view(backend, release_id, who)
    return render(
        request,
        pages,
        "release",
        page_language(request),
        user=_user(who),
        status=status,
        view=view,
        draft=view.draft,
        notice=notice,
        problem=problem,
        values=values,
        lang_query=_lang_query(request),
        now=datetime.now(backend.settings.timezone).strftime("%Y-%m-%dT%H:%M"),
    )


@router.api_route(PAGE, methods=["GET", "HEAD"], response_class=HTMLResponse)
def release_page(
    request: Request,
    backend: BackendDep,
    pages: PagesDep,
    release_id: ReleaseId,
    who: Reader,
    done: str = "",
) -> Response:
    """A release: what it says, its state and history, and what the one looking may do."""
    notice = f"release_done_{done}" if done in ACTIONS else ""
    return _release_page(request, backend, pages, release_id, who, notice=notice)


ACTIONS = ("approve", "publish", "schedule", "cancel", "retry", "resume")


def _act(
    request: Request,
    backend: BackendDep,
    pages: Pages,
    release_id: str,
    who: Principal,
    csrf: str,
    action: str,
    call: Callable[[], Any],
) -> Response:
    """Run one action of a release's page; its refusal is shown on the page with its status."""
    if not pages.valid_form(request, csrf):
        return _release_page(
            request, backend, pages, release_id, who, 403, problem="release_problem_form"
        )
    try:
        call()
    except ApprovalRefused:
        return _release_page(
            request, backend, pages, release_id, who, 403, problem="release_problem_own"
        )
    except StateConflict as exc:
        if action == "approve" and exc.state == "awaiting-approval":
            problem = "release_problem_stale"
        else:
            problem = "release_problem_state"
        t = words(page_language(request))
        shown = drafts.display_state(exc.state)
        state = t.get(f"releases_state_{shown}", shown)
        return _release_page(
            request, backend, pages, release_id, who, 409, problem=problem, state=state
        )
    query = {"done": action}
    if request.query_params.get("lang") in LANGUAGES:
        query["lang"] = request.query_params["lang"]
    return RedirectResponse(f"{LIST}/{release_id}?{urlencode(query)}", status_code=303)


@router.post(PAGE + "/approve", response_class=HTMLResponse)
def approve(
    request: Request,
    backend: BackendDep,
    pages: PagesDep,
    release_id: ReleaseId,
    who: Annotated[Principal, require_role("approve")],
    content_hash: Text = "",
    csrf: Text = "",
) -> Response:
    """Approve the content that was looked at (its hash); anything else is refused, 409."""

    def call() -> object:
        if not content_hash:  # no hash: nothing was looked at
            raise StateConflict(release_id, "awaiting-approval", "no content was looked at")
        return approval.approve(backend, release_id, who, content_hash)

    return _act(request, backend, pages, release_id, who, csrf, "approve", call)


@router.post(PAGE + "/publish", response_class=HTMLResponse)
def publish(
    request: Request,
    backend: BackendDep,
    pages: PagesDep,
    release_id: ReleaseId,
    who: Annotated[Principal, require_role("publish")],
    csrf: Text = "",
) -> Response:
    """Publish an approved release now."""
    call = lambda: approval.publish(backend, release_id, who)  # noqa: E731
    return _act(request, backend, pages, release_id, who, csrf, "publish", call)


@router.post(PAGE + "/schedule", response_class=HTMLResponse)
def schedule(
    request: Request,
    backend: BackendDep,
    pages: PagesDep,
    release_id: ReleaseId,
    who: Annotated[Principal, require_role("schedule")],
    at: Text = "",
    csrf: Text = "",
) -> Response:
    """Publish an approved release at a time given in the organisation's time zone."""
    zone = backend.settings.timezone
    try:
        when = datetime.fromisoformat(at.strip())
    except ValueError:
        when = None
    if when is not None and when.tzinfo is None:
        when = when.replace(tzinfo=zone)
    if when is None or when <= datetime.now(zone):
        status = 403 if not pages.valid_form(request, csrf) else 422
        problem = "release_problem_form" if status == 403 else "release_problem_time"
        return _release_page(request, backend, pages, release_id, who, status, problem=problem)
    call = lambda: approval.publish(backend, release_id, who, when)  # noqa: E731
    return _act(request, backend, pages, release_id, who, csrf, "schedule", call)


@router.post(PAGE + "/cancel", response_class=HTMLResponse)
def cancel(
    request: Request,
    backend: BackendDep,
    pages: PagesDep,
    release_id: ReleaseId,
    who: Annotated[Principal, require_role("cancel")],
    csrf: Text = "",
) -> Response:
    """Withdraw a scheduled release, or stop a broadcast under way."""
    call = lambda: approval.cancel(backend, release_id, who)  # noqa: E731
    return _act(request, backend, pages, release_id, who, csrf, "cancel", call)


@router.post(PAGE + "/retry", response_class=HTMLResponse)
def retry(
    request: Request,
    backend: BackendDep,
    pages: PagesDep,
    release_id: ReleaseId,
    who: Annotated[Principal, require_role("retry")],
    csrf: Text = "",
    back: Text = "",
) -> Response:
    """Send again to the recipients whose delivery failed."""
    call = lambda: approval.retry_failed(backend, release_id, who)  # noqa: E731
    answer = _act(request, backend, pages, release_id, who, csrf, "retry", call)
    return _back_to_delivery(answer, back, release_id, request)


@router.post(PAGE + "/resume", response_class=HTMLResponse)
def resume(
    request: Request,
    backend: BackendDep,
    pages: PagesDep,
    release_id: ReleaseId,
    who: Annotated[Principal, require_role("resume")],
    csrf: Text = "",
    back: Text = "",
) -> Response:
    """Continue channels paused by a channel-wide fault."""
    call = lambda: approval.resume(backend, release_id, who)  # noqa: E731
    answer = _act(request, backend, pages, release_id, who, csrf, "resume", call)
    return _back_to_delivery(answer, back, release_id, request)


def _back_to_delivery(answer: Response, back: str, release_id: str, request: Request) -> Response:
    """A retry or resume sent from the delivery page goes back there, to watch it."""
    if back != "delivery" or answer.status_code != 303:
        return answer
    return RedirectResponse(f"{LIST}/{release_id}/delivery{_lang_query(request)}", status_code=303)


# --- the delivery page ----------------------------------------------------------------------


@router.api_route(PAGE + "/delivery", methods=["GET", "HEAD"], response_class=HTMLResponse)
def delivery_page(
    request: Request, backend: BackendDep, pages: PagesDep, release_id: ReleaseId, who: Reader
) -> Response:
    """Per-channel progress, errors by cause and the posted messages; the live part alone
    for a request with `HX-Request` (not a history restore), else the whole page."""
    view = newsroom_views.delivery_view(backend, release_id)
    fragment = request.headers.get("hx-request") == "true" and not request.headers.get(
        "hx-history-restore-request"
    )
    return render(
        request,
        pages,
        "delivery_progress" if fragment else "delivery",
        page_language(request),
        user=_user(who),
        headers={"Vary": "HX-Request", "Content-Security-Policy": DELIVERY_CSP},
        view=view,
        may_retry=view.may_retry and accounts.allowed(who.role, "retry"),
        may_resume=view.may_resume and accounts.allowed(who.role, "resume"),
        poll=f"{LIST}/{release_id}/delivery{_lang_query(request)}",
        lang_query=_lang_query(request),
    )


@router.get("/static/delivery.js", include_in_schema=False)
def delivery_script() -> Response:
    """The delivery page's few lines of JavaScript (polling its fragment)."""
    return Response(
        SCRIPT.read_bytes(),
        media_type="text/javascript; charset=utf-8",
        headers={"Cache-Control": "public, max-age=3600"},
    )
