"""The newsroom's pages for signed-in staff, under /newsroom/: sign in, sign out, the home
page and the list of users (for administrators).

Signing in makes a server-side session (`publisher.services.accounts`); the browser holds only
its id, in a cookie that is HttpOnly, SameSite=Lax, limited to /newsroom and Secure when
PUBLIC_URL is https. Every form carries the signed double-submit CSRF token of the public pages
(`publisher.web.csrf`), the sign-in form too (so no other site can sign a browser in as
someone). A wrong sign-in gets the same page and status whether the user is unknown, the
password wrong or the user disabled; too many attempts get 429 with the same page.

Pages that need a user take `CurrentUser` or `require_role(action)` from `publisher.web.deps`;
without a live session they answer with the sign-in page (`sign_in_required`, a 303 that comes
back afterwards), and a role that may not gets a 403 page (`not_allowed`).
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from publisher.render import BUILTIN_TEMPLATES
from publisher.services import accounts
from publisher.services.accounts import Principal, Refusal, User
from publisher.web.deps import (
    SESSION_COOKIE,
    BackendDep,
    ClientDep,
    CurrentUser,
    PagesDep,
    get_backend,
    get_pages,
    page_language,
    require_role,
)
from publisher.web.pages import Pages
from publisher.web.words import LANGUAGES, minutes, words

router = APIRouter()

HOME = "/newsroom/"
LOGIN = "/newsroom/login"
LOGOUT = "/newsroom/logout"
COOKIE_PATH = "/newsroom"
STYLESHEET = "/static/newsroom.css"

Text = Annotated[str, Form()]


# --- rendering ------------------------------------------------------------------------------


def _language_links(request: Request) -> dict[str, str]:
    """This page in each language (its other query parameters kept)."""
    links = {}
    for code in LANGUAGES:
        url = request.url.include_query_params(lang=code)
        links[code] = f"{url.path}?{url.query}"
    return links


def render(
    request: Request,
    pages: Pages,
    template: str,
    language: str,
    user: User | None = None,
    status: int = 200,
    headers: dict[str, str] | None = None,
    **view: Any,
) -> HTMLResponse:
    """A newsroom page, `web/newsroom/{template}.html`, with a CSRF token for its forms (the
    header's sign-out button is one, once someone is signed in)."""
    return pages.render(
        request,
        f"newsroom/{template}",
        language,
        status=status,
        headers=headers,
        form=True,
        user=user,
        language_links=_language_links(request),
        **view,
    )


def _message(
    request: Request,
    pages: Pages,
    language: str,
    title: str,
    body: str,
    status: int,
    user: User | None = None,
    **values: str,
) -> HTMLResponse:
    t = words(language)
    return render(
        request,
        pages,
        "message",
        language,
        user=user,
        status=status,
        title=t[title],
        body=t[body],
        values=values,
    )


def _safe_next(value: str | None) -> str:
    """Where to go after signing in: a newsroom page of this site, never elsewhere."""
    value = value or ""
    parts = urlsplit(value)
    if (
        parts.scheme
        or parts.netloc
        or value.startswith("//")
        or not parts.path.startswith(HOME)
        or parts.path in (LOGIN, LOGOUT)
        or any(c in value for c in "\\\r\n\t")
        or ".." in parts.path
    ):
        return HOME
    return value


def _with_language(target: str, request: Request) -> str:
    """`target`, keeping the language the page was asked in with ?lang=."""
    lang = request.query_params.get("lang")
    if not lang or "lang=" in urlsplit(target).query:
        return target
    return f"{target}{'&' if '?' in target else '?'}{urlencode({'lang': lang})}"


def _secure(pages: Pages) -> bool:
    return pages.settings.base_url.startswith("https://")


# --- signing in and out ---------------------------------------------------------------------


def _login(
    request: Request,
    pages: Pages,
    language: str,
    next_path: str,
    status: int = 200,
    headers: dict[str, str] | None = None,
    username: str = "",
    problem: str = "",
    notice: str = "",
    **values: str,
) -> HTMLResponse:
    lang = request.query_params.get("lang")
    action = f"{LOGIN}?{urlencode({'lang': lang})}" if lang else LOGIN
    return render(
        request,
        pages,
        "login",
        language,
        status=status,
        headers=headers,
        action=action,
        next=next_path,
        username=username[:64],
        problem=problem,
        notice=notice,
        values=values,
    )


@router.api_route(LOGIN, methods=["GET", "HEAD"], response_class=HTMLResponse)
def login_page(
    request: Request,
    backend: BackendDep,
    pages: PagesDep,
    next_path: Annotated[str, Query(alias="next")] = "",
    out: str = "",
) -> Response:
    """The sign-in form (someone already signed in goes on to the page they asked for)."""
    target = _safe_next(next_path)
    if accounts.session_user(backend, request.cookies.get(SESSION_COOKIE)) is not None:
        return RedirectResponse(_with_language(target, request), status_code=303)
    language = page_language(request)
    return _login(request, pages, language, target, notice="signed_out" if out else "")


@router.post(LOGIN, response_class=HTMLResponse)
def login_submit(
    request: Request,
    backend: BackendDep,
    pages: PagesDep,
    client: ClientDep,
    username: Text = "",
    password: Text = "",
    next_path: Annotated[str, Form(alias="next")] = "",
    csrf: Text = "",
) -> Response:
    """Sign in: a new session and its cookie, then the page asked for; otherwise the form
    again with the same answer for every wrong name and password."""
    language = page_language(request)
    target = _safe_next(next_path)
    if not pages.valid_form(request, csrf):
        return _login(
            request,
            pages,
            language,
            target,
            403,
            username=username,
            problem="signin_form_expired",
        )
    outcome = accounts.authenticate(backend, username, password, client)
    if isinstance(outcome, Refusal):
        if outcome.limited:
            wait = minutes(math.ceil(outcome.retry_after_s / 60), language)
            return _login(
                request,
                pages,
                language,
                target,
                429,
                {"Retry-After": str(outcome.retry_after_s)},
                username=username,
                problem="signin_too_many",
                minutes=wait,
            )
        return _login(
            request, pages, language, target, 400, username=username, problem="signin_wrong"
        )
    accounts.logout(backend, request.cookies.get(SESSION_COOKIE))  # a fresh id each sign-in
    response = RedirectResponse(_with_language(target, request), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        outcome.id,
        path=COOKIE_PATH,
        secure=_secure(pages),
        httponly=True,
        samesite="lax",
    )
    return response


@router.post(LOGOUT, response_class=HTMLResponse)
def logout(request: Request, backend: BackendDep, pages: PagesDep, csrf: Text = "") -> Response:
    """Sign out: the session ends at once (its cookie opens nothing any more)."""
    language = page_language(request)
    session_id = request.cookies.get(SESSION_COOKIE)
    if not pages.valid_form(request, csrf):
        user = accounts.session_user(backend, session_id)
        return _message(
            request, pages, language, "forbidden_title", "forbidden_body", 403, user=user
        )
    accounts.logout(backend, session_id)
    target = _with_language(f"{LOGIN}?out=1", request)
    response = RedirectResponse(target, status_code=303)
    response.delete_cookie(
        SESSION_COOKIE, path=COOKIE_PATH, secure=_secure(pages), httponly=True, samesite="lax"
    )
    return response


@router.post("/newsroom/language", response_class=HTMLResponse)
def keep_language(
    request: Request,
    backend: BackendDep,
    pages: PagesDep,
    user: CurrentUser,
    language: Text = "",
    next_path: Annotated[str, Form(alias="next")] = "",
    csrf: Text = "",
) -> Response:
    """Keep the page's language as the user's own: every newsroom page is then in it."""
    if not pages.valid_form(request, csrf):
        return _message(
            request, pages, page_language(request), "forbidden_title", "forbidden_body", 403,
            user=user,
        )  # fmt: skip
    accounts.set_language(backend, user.name, language)
    return RedirectResponse(_safe_next(next_path), status_code=303)


# --- pages ----------------------------------------------------------------------------------


@router.api_route(HOME, methods=["GET", "HEAD"], response_class=HTMLResponse)
def home(request: Request, pages: PagesDep, user: CurrentUser) -> Response:
    """The newsroom's home page: who is signed in, and their role.

    A placeholder: the newsroom's pages to compose, preview, approve and follow releases will
    fill it.
    """
    language = page_language(request)
    return render(
        request,
        pages,
        "home",
        language,
        user=user,
        may_manage_users=accounts.allowed(user.role, "users"),
    )


@router.api_route("/newsroom/users", methods=["GET", "HEAD"], response_class=HTMLResponse)
def users_page(
    request: Request,
    backend: BackendDep,
    pages: PagesDep,
    who: Annotated[Principal, require_role("users")],
) -> Response:
    """Every user with their role and state (administrators only)."""
    language = page_language(request)
    zone = backend.settings.timezone
    rows = []
    for found in accounts.list_users(backend):
        since = datetime.fromtimestamp(found.created, zone)
        rows.append(
            {
                "name": found.name,
                "role": found.role,
                "disabled": found.disabled,
                "since": since.strftime("%Y-%m-%d"),
                "since_iso": since.isoformat(timespec="seconds"),
            }
        )
    user = who if isinstance(who, User) else None
    return render(request, pages, "users", language, user=user, users=rows)


@router.get(STYLESHEET, include_in_schema=False)
def stylesheet(request: Request) -> Response:
    """The newsroom's own styles, after /static/web.css (PUBLISHER_TEMPLATES may override)."""
    css = getattr(request.app.state, "newsroom_css", None)
    if css is None:
        css = b""
        override = get_pages(request).settings.publisher_templates
        for folder in (override, BUILTIN_TEMPLATES):
            path = folder / "web" / "newsroom" / "style.css" if folder else None
            if path is not None and path.is_file():
                css = path.read_bytes()
                break
        request.app.state.newsroom_css = css
    return Response(
        css,
        media_type="text/css; charset=utf-8",
        headers={"Cache-Control": "public, max-age=3600"},
    )


# --- answers to the deps' refusals (registered in create_app) -------------------------------


async def sign_in_required(request: Request, exc: Exception) -> Response:
    """No live session: the sign-in page, which comes back to this page afterwards."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    params = {"next": target} if _safe_next(target) == target and target != HOME else {}
    lang = request.query_params.get("lang")
    if lang:
        params["lang"] = lang
    location = f"{LOGIN}?{urlencode(params)}" if params else LOGIN
    return RedirectResponse(location, status_code=303)


async def not_allowed(request: Request, exc: Exception) -> Response:
    """A role that may not do what the page does: a 403 page naming the role."""
    role = getattr(exc, "role", "")
    language = page_language(request)
    user = accounts.session_user(get_backend(request), request.cookies.get(SESSION_COOKIE))
    role_name = words(language).get(f"role_{role}", role)
    return _message(
        request,
        get_pages(request),
        language,
        "not_allowed_title",
        "not_allowed_body",
        403,
        user=user,
        role=role_name,
    )
