"""`publisher serve` as a user starts it: a process of its own that answers /healthz and takes
a one-click unsubscribe."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from publisher import links, services
from publisher.settings import get_settings
from tests.conftest import PUBLISHER, ROOT, publisher_env
from tests.web.conftest import free_port


@pytest.fixture
def serve(data_dir: Path) -> Iterator[str]:
    port = free_port()
    env = publisher_env(data_dir, PUBLISHER_SECRET_KEY="serve-test-key")
    process = subprocess.Popen(
        [*PUBLISHER, "serve", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "publisher serve did not answer"
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_publisher_serve_answers_and_takes_a_one_click_unsubscribe(serve: str) -> None:
    settings = get_settings().model_copy(update={"publisher_secret_key": "serve-test-key"})
    backend = services.connect(None, settings)
    services.add_journalist(backend, "cli@example.org", "admin")
    path = httpx.URL(links.unsubscribe_url("email", "cli@example.org", settings)).path
    answer = httpx.post(serve + path, data={"List-Unsubscribe": "One-Click"})
    assert answer.status_code == 200
    [row] = services.list_recipients(backend, "email")
    assert (row["address"], row["state"]) == ("cli@example.org", "unsubscribed")
    assert httpx.get(serve + "/subscribe").status_code == 200
