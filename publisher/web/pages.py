"""Server-rendered pages: the templates under `templates/web/`, and the headers every answer has.

Pages are rendered by the shared sandboxed, autoescaping Jinja environment of `publisher.render`
(so PUBLISHER_TEMPLATES overrides `web/*.html` file by file, like every other template). A page
needs no JavaScript, and the Content-Security-Policy allows none: the one stylesheet comes from
`/static/web.css`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from publisher.render import BUILTIN_TEMPLATES, RenderContext
from publisher.settings import Settings
from publisher.web import csrf as csrf_tokens
from publisher.web.words import ENDONYMS, LANGUAGES, direction, words

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),  # tokens are in the URLs: never pass them on
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
NO_STORE = (b"cache-control", b"no-store")


class SecurityHeaders:
    """ASGI middleware: the security headers on every answer, and `no-store` unless the
    route set its own Cache-Control (pages name a person: no cache keeps them)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [h for h in SECURITY_HEADERS if h[0] not in present]
                if b"cache-control" not in present:
                    headers.append(NO_STORE)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def fill(text: str, **values: Any) -> Markup:
    """A sentence of `words` with its {placeholders} filled: everything escaped, each value
    isolated (<bdi>) so that a Latin address reads right inside an Arabic sentence."""
    marked = {k: Markup('<bdi class="{}">{}</bdi>').format(k, v) for k, v in values.items()}
    return escape(text).format(**marked)


class Pages:
    """Renders the public pages of one app (its settings, templates and CSRF tokens)."""

    def __init__(self, settings: Settings, secret_key: str) -> None:
        self.settings = settings
        self.templates = RenderContext.from_settings(settings).templates
        self.csrf = csrf_tokens.Csrf(secret_key)
        self.stylesheet = self._stylesheet(settings.publisher_templates)

    @staticmethod
    def _stylesheet(override_dir: Path | None) -> bytes:
        for folder in (override_dir, BUILTIN_TEMPLATES):
            if folder is not None and (folder / "web" / "style.css").is_file():
                return (folder / "web" / "style.css").read_bytes()
        return b""

    def render(
        self,
        request: Request,
        template: str,
        language: str,
        status: int = 200,
        headers: dict[str, str] | None = None,
        form: bool = False,
        **view: Any,
    ) -> HTMLResponse:
        """The page `web/{template}.html` in `language`; with `form`, a CSRF token for it."""
        settings = self.settings
        fresh = None
        if form:
            view["csrf_field"] = csrf_tokens.FIELD
            view["csrf_token"], fresh = self.csrf.issue(request)
        context = {
            "lang": language,
            "dir": direction(language),
            "t": words(language),
            "fill": fill,
            "organisation": settings.organisation_name,
            "organisation_address": settings.organisation_address,
            "languages": [
                {"code": code, "name": ENDONYMS[code], "current": code == language}
                for code in LANGUAGES
            ],
            "path": request.url.path,
            # the page was asked for in this language (?lang=), not chosen for the person
            "lang_asked": request.query_params.get("lang") == language,
            "values": {},
            "errors": {},
            "signup_link": False,
            **view,
        }
        body = self.templates.render_html(f"web/{template}.html", **context)
        response = HTMLResponse(body, status_code=status, headers=headers)
        if fresh:
            csrf_tokens.set_cookie(response, fresh, secure=request.url.scheme == "https")
        return response

    def valid_form(self, request: Request, token: str | None) -> bool:
        return self.csrf.valid(request, token)
