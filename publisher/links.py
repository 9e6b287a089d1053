"""Signed links: unsubscribe (RFC 8058 one-click), preferences and confirmation (itsdangerous).

A token is bound to its purpose, the channel and the address, and carries when it was made;
`read_token` tells a tampered token from an expired one and from one made for another purpose.
"""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from publisher.errors import TokenError
from publisher.settings import Settings, get_settings

LINK_SALT = "publisher-links"
#: What a link may do, and how long its token lasts (None: as long as the key). An unsubscribe
#: or preferences link in an old email must keep working; a confirmation expires in 48 hours.
PURPOSES: dict[str, int | None] = {"unsubscribe": None, "preferences": None, "confirm": 48 * 3600}


def secret_key(settings: Settings | None = None) -> str:
    """PUBLISHER_SECRET_KEY, else a key generated once and kept in the data dir."""
    settings = settings or get_settings()
    if settings.publisher_secret_key:
        return settings.publisher_secret_key
    return _key_file(Path(settings.data_dir).resolve() / "secret.key")


@lru_cache(maxsize=4)
def _key_file(path: Path) -> str:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with path.open("x", encoding="ascii") as handle:
                handle.write(secrets.token_urlsafe(32))
            path.chmod(0o600)
        except FileExistsError:
            pass  # another process made it first; read theirs
    return path.read_text(encoding="ascii").strip()


@lru_cache(maxsize=4)
def _serializer(key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(key, salt=LINK_SALT)


def make_token(purpose: str, channel: str, address: str, settings: Settings | None = None) -> str:
    """A signed token for one purpose (PURPOSES) and one address of one channel."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown link purpose {purpose!r}")
    return str(_serializer(secret_key(settings)).dumps([purpose, channel, address]))


def read_token(token: str, purpose: str, settings: Settings | None = None) -> tuple[str, str]:
    """(channel, address) of a valid token of this purpose; TokenError (tampered, expired or
    made for another purpose) otherwise."""
    serializer = _serializer(secret_key(settings))
    try:
        made_for, channel, address = serializer.loads(token, max_age=PURPOSES[purpose])
    except SignatureExpired:
        raise TokenError("expired", purpose) from None
    except (BadSignature, ValueError, TypeError):
        raise TokenError("tampered", purpose) from None
    if made_for != purpose:
        raise TokenError("wrong purpose", purpose)
    return str(channel), str(address)


def link(purpose: str, channel: str, address: str, settings: Settings | None = None) -> str:
    """The https link of a token: /unsubscribe/{t}, /preferences/{t} or /confirm/{t}."""
    settings = settings or get_settings()
    return f"{settings.base_url}/{purpose}/{make_token(purpose, channel, address, settings)}"


def unsubscribe_url(channel: str, address: str, settings: Settings | None = None) -> str:
    """The List-Unsubscribe URL of one recipient (it takes RFC 8058's one-click POST)."""
    return link("unsubscribe", channel, address, settings)


def release_url(release_id: str, settings: Settings) -> str:
    """A release's page on the website."""
    return f"{settings.public_url.rstrip('/')}/releases/{release_id}/"
