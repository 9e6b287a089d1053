"""The web app (`publisher serve`): one FastAPI app for the journalists' public pages, the
newsroom's sign-in, the REST API, `/healthz` and, under `/`, the built site.

    app.py       create_app(backend): routers, error pages and problem details, headers
    public.py    /subscribe, /confirm/{token}, /preferences/{token}, /unsubscribe/{token}
    newsroom.py  /newsroom/login, /newsroom/logout, /newsroom/ (signed-in staff)
    api.py       /api/v1/ (bearer tokens)
    site.py      the built site under `/`: what no route takes, with ETags and caching
    pages.py     server-rendered pages (Jinja, autoescaped, no JavaScript), security headers
    csrf.py      the forms' signed double-submit tokens
    words.py     the pages' words in English and Arabic, and the page language
    deps.py      what routes are given: the backend, the client, the page language, the
                 signed-in user or API token and its role

Routes parse the request, call one function of `publisher.services` and render its answer.
"""

from __future__ import annotations

from publisher.web.app import create_app

__all__ = ["create_app"]
