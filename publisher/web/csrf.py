"""Signed double-submit CSRF tokens for the public forms.

A browser gets a random value in a cookie; each form carries that value signed with
itsdangerous under PUBLISHER_SECRET_KEY (with a time, so an old form expires). A POST is
accepted only when the form's token verifies and its value equals the cookie's, compared in
constant time: another site can make a browser send the cookie, but cannot read it to forge
a matching token.
"""

from __future__ import annotations

import hmac
import secrets

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

COOKIE = "publisher_csrf"
FIELD = "csrf"
MAX_AGE_S = 12 * 3600  # a form left open longer is sent again from a fresh page
SALT = "publisher-csrf"


class Csrf:
    """Issues and checks the forms' tokens under one secret key."""

    def __init__(self, secret_key: str) -> None:
        self.serializer = URLSafeTimedSerializer(secret_key, salt=SALT)

    def issue(self, request: Request) -> tuple[str, str | None]:
        """(the form's token, a new cookie value to set or None when the browser has one)."""
        value = request.cookies.get(COOKIE, "")
        fresh = None
        if not _well_formed(value):
            value = fresh = secrets.token_urlsafe(24)
        return str(self.serializer.dumps(value)), fresh

    def valid(self, request: Request, token: str | None) -> bool:
        """True when the form's token is ours, not too old, and matches the cookie."""
        cookie = request.cookies.get(COOKIE, "")
        if not token or not _well_formed(cookie):
            return False
        try:
            value = self.serializer.loads(token, max_age=MAX_AGE_S)
        except BadSignature:  # SignatureExpired is one
            return False
        return isinstance(value, str) and hmac.compare_digest(value.encode(), cookie.encode())


def set_cookie(response: Response, value: str, secure: bool) -> None:
    """The CSRF cookie: this site only, not for scripts, sent with top-level navigations."""
    response.set_cookie(
        COOKIE, value, max_age=MAX_AGE_S, path="/", secure=secure, httponly=True, samesite="lax"
    )


def _well_formed(value: str) -> bool:
    return 16 <= len(value) <= 64 and value.replace("-", "").replace("_", "").isalnum()
