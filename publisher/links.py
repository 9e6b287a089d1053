"""Signed links: unsubscribe (RFC 8058 one-click) and confirmation, with itsdangerous."""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path

from itsdangerous import BadSignature, URLSafeSerializer

from publisher.settings import Settings, get_settings

UNSUBSCRIBE_SALT = "unsubscribe"


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
def _serializer(key: str) -> URLSafeSerializer:
    return URLSafeSerializer(key, salt=UNSUBSCRIBE_SALT)


def unsubscribe_token(channel: str, address: str, settings: Settings | None = None) -> str:
    return str(_serializer(secret_key(settings)).dumps([channel, address]))


def unsubscribe_url(channel: str, address: str, settings: Settings | None = None) -> str:
    settings = settings or get_settings()
    return f"{settings.base_url}/unsubscribe/{unsubscribe_token(channel, address, settings)}"


def read_unsubscribe_token(token: str, settings: Settings | None = None) -> tuple[str, str] | None:
    """(channel, address) of a valid token, else None."""
    try:
        channel, address = _serializer(secret_key(settings)).loads(token)
    except (BadSignature, ValueError, TypeError):
        return None
    return str(channel), str(address)


def release_url(release_id: str, settings: Settings) -> str:
    """A release's page on the website."""
    return f"{settings.public_url.rstrip('/')}/releases/{release_id}/"
