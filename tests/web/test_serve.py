"""`publisher serve` as a user starts it: a process of its own that answers /healthz and takes
a one-click unsubscribe; with `--workers N`, N processes that share the port and its
connections, stop together, and never two `serve`s on one port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from publisher import links, services
from publisher.services import accounts
from publisher.settings import get_settings
from tests.conftest import PUBLISHER, ROOT, publisher_env
from tests.web.conftest import free_port


def start(data_dir: Path, port: int, *options: str) -> subprocess.Popen[bytes]:
    """`publisher serve` on `port`, once /healthz answers."""
    env = publisher_env(data_dir, PUBLISHER_SECRET_KEY="serve-test-key")
    process = subprocess.Popen(
        [*PUBLISHER, "serve", "--port", str(port), "--loglevel", "WARNING", *options],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 30
    while True:
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, "publisher serve did not answer"
        time.sleep(0.1)


def stop(process: subprocess.Popen[bytes]) -> int:
    if process.poll() is None:
        process.terminate()
    return process.wait(timeout=40)


@pytest.fixture
def serve(data_dir: Path) -> Iterator[str]:
    port = free_port()
    process = start(data_dir, port)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(process)


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


def workers_of(process: subprocess.Popen[bytes]) -> list[psutil.Process]:
    return psutil.Process(process.pid).children()


def test_workers_share_a_burst_of_connections_and_stop_together(data_dir: Path) -> None:
    port = free_port()
    process = start(data_dir, port, "--workers", "2")
    try:
        workers = workers_of(process)
        assert len(workers) == 2
        # twenty connections opened at once, as a CMS's pool does: both workers take some
        clients = [httpx.Client(base_url=f"http://127.0.0.1:{port}") for _ in range(20)]
        for client in clients:
            assert client.get("/healthz").json()["redis"] == "ok"
        held = {
            worker.pid: sum(
                1
                for c in worker.net_connections("tcp")
                if c.status == psutil.CONN_ESTABLISHED and c.laddr.port == port
            )
            for worker in workers
        }
        assert sum(held.values()) == 20 and all(held.values()), held
        for client in clients:
            client.close()
    finally:
        assert stop(process) == 0  # SIGTERM: every worker stopped gracefully
    assert not any(worker.is_running() for worker in workers)


def test_a_worker_that_dies_stops_serve_with_an_error(data_dir: Path) -> None:
    port = free_port()
    process = start(data_dir, port, "--workers", "2")
    workers = workers_of(process)
    os.kill(workers[0].pid, signal.SIGKILL)
    assert process.wait(timeout=40) == 128 + signal.SIGKILL  # for its supervisor to restart
    psutil.wait_procs(workers, timeout=10)
    assert not any(worker.is_running() for worker in workers)
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)


def test_a_second_serve_on_the_same_port_is_refused(data_dir: Path) -> None:
    port = free_port()
    first = start(data_dir, port, "--workers", "2")
    try:
        env = publisher_env(data_dir, PUBLISHER_SECRET_KEY="serve-test-key")
        for options in (["--workers", "2"], []):
            second = subprocess.run(
                [*PUBLISHER, "serve", "--port", str(port), *options],
                env=env,
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert second.returncode != 0
            if options:  # ours: one line naming the port and the fix
                assert second.returncode == 2
                [line] = second.stderr.strip().splitlines()
                assert f":{port}:" in line and "already" in line and "--port" in line, line
    finally:
        assert stop(first) == 0


def test_a_port_held_by_another_program_is_one_line(data_dir: Path) -> None:
    port = free_port()
    with socket.create_server(("127.0.0.1", port)):
        result = subprocess.run(
            [*PUBLISHER, "serve", "--port", str(port), "--workers", "2"],
            env=publisher_env(data_dir),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert f"127.0.0.1:{port}" in line and "fix:" in line, line


def test_serve_killed_takes_its_workers_along(data_dir: Path) -> None:
    port = free_port()
    process = start(data_dir, port, "--workers", "2")
    workers = workers_of(process)
    process.kill()  # SIGKILL: serve cannot stop them itself
    process.wait(timeout=10)
    _, alive = psutil.wait_procs(workers, timeout=30)
    assert not alive
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)


def test_serve_runs_a_process_per_cpu_by_default(data_dir: Path) -> None:
    port = free_port()
    process = start(data_dir, port)
    try:
        cpus = len(os.sched_getaffinity(0))
        assert len(workers_of(process)) == (cpus if cpus > 1 else 0)  # one CPU: serve itself
    finally:
        assert stop(process) == 0


def test_every_worker_publishes_through_the_queue(data_dir: Path) -> None:
    """Each worker's backend queues as `serve`'s does (Celery's): publish through both."""
    port = free_port()
    process = start(data_dir, port, "--workers", "2")
    settings = get_settings().model_copy(update={"publisher_secret_key": "serve-test-key"})
    backend = services.connect(None, settings)
    officer = {"Authorization": f"Bearer {accounts.create_token(backend, 'cms', 'officer')}"}
    editor = {"Authorization": f"Bearer {accounts.create_token(backend, 'desk', 'editor')}"}
    try:
        workers = workers_of(process)
        clients = [httpx.Client(base_url=f"http://127.0.0.1:{port}") for _ in range(20)]
        for client in clients:
            client.get("/healthz")
        # one kept-alive connection of each worker, found by the client's own port
        served_by = {
            c.raddr.port: worker.pid
            for worker in workers
            for c in worker.net_connections("tcp")
            if c.status == psutil.CONN_ESTABLISHED and c.laddr.port == port
        }
        chosen = {}
        for client in clients:
            stream = client._transport._pool.connections[0]._connection._network_stream  # type: ignore[attr-defined]
            local_port = stream.get_extra_info("socket").getsockname()[1]
            chosen.setdefault(served_by[local_port], client)
        assert len(chosen) == 2
        for n, client in enumerate(chosen.values()):
            body = {"title": f"Water returns to Idlib {n}", "date": "2026-12-03T09:00"}
            body |= {"body": "Engineers repaired the pumping station.", "channels": ["website"]}
            created = client.post("/api/v1/releases", json=body, headers=officer)
            assert created.status_code == 201, created.text
            path = f"/api/v1/releases/{created.json()['id']}"
            submitted = client.post(f"{path}/submit", headers=officer)
            assert submitted.status_code == 200, submitted.text
            assert client.post(f"{path}/approve", headers=editor).status_code == 200
            published = client.post(f"{path}/publish", headers=editor)
            assert published.status_code == 202, published.text
            assert published.json()["action"] == "queued"
        for client in clients:
            client.close()
    finally:
        assert stop(process) == 0
