"""A real Redis for the tests: REDIS_URL if set, else one embedded server for the session.

Import these fixtures into ``tests/conftest.py``. With REDIS_URL set, the tests FLUSHALL that
server before each test that asks for ``redis_client`` or ``data_dir``: point it at a throwaway
Redis only.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from publisher.redis_server import MAX_SOCKET_PATH_BYTES, redis_url, stop_embedded
from publisher.settings import Settings, reload_settings

# What the embedded server adds under a data dir for its socket.
_SOCKET_SUFFIX_BYTES = len("/redis/redis.sock")


def short_dir(preferred: Path, prefix: str = "pub-") -> Path:
    """``preferred`` if a Redis socket under it fits the unix limit, else a fresh dir in /tmp.

    pytest's tmp dirs can be deep (/tmp/pytest-of-root/pytest-12/test_a_long_name0/...).
    """
    if len(os.fsencode(str(preferred.resolve()))) + _SOCKET_SUFFIX_BYTES <= MAX_SOCKET_PATH_BYTES:
        return preferred
    base = "/tmp" if os.path.isdir("/tmp") else None
    return Path(tempfile.mkdtemp(prefix=prefix, dir=base))


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of the Redis the tests use: env REDIS_URL, or an embedded server started here."""
    external = os.environ.get("REDIS_URL")
    if external:
        yield external
        return
    preferred = tmp_path_factory.mktemp("redis")
    chosen = short_dir(preferred)
    settings = Settings(publisher_data_dir=chosen, redis_url=None)
    try:
        yield redis_url(settings)
    finally:
        stop_embedded(settings)
        if chosen != preferred:
            shutil.rmtree(chosen, ignore_errors=True)


@pytest.fixture
def redis_client(redis_server: str) -> Iterator[redis.Redis]:
    """A client of the session Redis, emptied (FLUSHALL) before the test."""
    client = redis.Redis.from_url(redis_server)
    client.flushall()
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def data_dir(tmp_path: Path, redis_server: str) -> Iterator[Path]:
    """A fresh PUBLISHER_DATA_DIR, with REDIS_URL pointing at the (emptied) session Redis."""
    path = tmp_path / "var"
    path.mkdir()
    with redis.Redis.from_url(redis_server) as client:
        client.flushall()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PUBLISHER_DATA_DIR", str(path))
        mp.setenv("REDIS_URL", redis_server)
        reload_settings()
        yield path
    reload_settings()
