"""The web app (`publisher serve`): one FastAPI app for the journalists' public pages and
`/healthz`; the newsroom, the REST API and the built site join it here.

    app.py       create_app(backend): routers, error pages and problem details, headers
    public.py    /subscribe, /confirm/{token}, /preferences/{token}, /unsubscribe/{token}
    pages.py     server-rendered pages (Jinja, autoescaped, no JavaScript), security headers
    csrf.py      the forms' signed double-submit tokens
    words.py     the pages' words in English and Arabic, and the page language
    deps.py      what routes are given: the backend, the client, the page language

Routes parse the request, call one function of `publisher.services` and render its answer.
"""

from __future__ import annotations

from publisher.web.app import create_app

__all__ = ["create_app"]
