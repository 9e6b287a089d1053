"""`GET /healthz` of the live app: Redis and the workers seen in the last minute; and the
compose file's healthcheck, run as the container would run it."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import redis
import yaml
from redis.backoff import NoBackoff
from redis.retry import Retry

from publisher import services
from publisher.settings import Settings
from publisher.store import Store
from publisher.web import create_app
from tests.conftest import ROOT, Worker, publisher_env, wait_until

from .conftest import LiveServer, Site, free_port

HEALTHCHECK_URL = "http://127.0.0.1:8000/healthz"


@pytest.fixture
def redis_away(web_settings: Settings) -> Iterator[str]:
    """The app over a Redis that is not there (a port nobody listens on): its base URL."""
    client = redis.Redis(
        host="127.0.0.1", port=free_port(), retry=Retry(NoBackoff(), 0), socket_connect_timeout=1
    )
    backend = services.Backend(store=Store(client), settings=web_settings)
    port = free_port()
    server = LiveServer(create_app(backend), port)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def test_no_worker_seen_is_degraded_but_still_200(site: Site) -> None:
    answer = site.client().get("/healthz")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["cache-control"] == "no-store"
    assert answer.json() == {"status": "degraded", "redis": "ok", "workers": 0}


def test_a_running_worker_makes_it_ok(site: Site, tmp_path: Path, workers: list[Worker]) -> None:
    env = publisher_env(tmp_path, REDIS_URL=str(site.backend.settings.redis_url))
    worker = Worker(env, concurrency=2, log=tmp_path / "worker.log").start()
    workers.append(worker)
    client = site.client()
    seen: dict[str, Any] = {}

    def ok() -> bool:
        seen.update(client.get("/healthz").json())
        return seen["status"] == "ok"

    assert wait_until(ok, 60, 0.25), (tmp_path / "worker.log").read_text()
    assert seen["redis"] == "ok" and 1 <= seen["workers"] <= 2, seen
    assert set(seen) == {"status", "redis", "workers"}
    # What it counts are this worker's processes (their heartbeats), nothing else.
    owners = site.backend.store.owners_seen(60.0)
    assert len(owners) == seen["workers"]
    assert {int(owner.split(".")[1]) for owner in owners} <= set(worker.processes())


def test_redis_away_is_a_503_problem(redis_away: str) -> None:
    answer = httpx.get(f"{redis_away}/healthz", timeout=10)
    assert answer.status_code == 503
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["retry-after"] == "30"
    assert answer.json()["status"] == 503 and "store" in answer.json()["detail"]


def healthcheck_code() -> str:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    command = compose["services"]["web"]["healthcheck"]["test"]
    assert command[:3] == ["CMD", "python", "-c"] and len(command) == 4
    code: str = command[3]
    assert HEALTHCHECK_URL in code
    return code


def run_healthcheck(base: str) -> int:
    code = healthcheck_code().replace(HEALTHCHECK_URL, f"{base}/healthz")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=30).returncode


def test_the_compose_healthcheck_passes_on_200_and_fails_otherwise(
    site: Site, redis_away: str
) -> None:
    assert run_healthcheck(site.base) == 0, "degraded (no worker) still passes"
    assert run_healthcheck(redis_away) != 0, "Redis away: 503"
    nobody = f"http://127.0.0.1:{free_port()}"
    assert run_healthcheck(nobody) != 0, "the app does not answer"
    assert urlsplit(site.base).hostname == "127.0.0.1"
