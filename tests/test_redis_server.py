"""The embedded Redis and the connection factory, against real redis-server processes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from publisher.errors import StoreUnavailable
from publisher.redis_server import (
    celery_broker_url,
    connect,
    embedded_pid,
    redis_url,
    restart_embedded,
    stop_embedded,
    uses_embedded,
)
from publisher.settings import get_settings, reload_settings
from tests.redis_fixtures import data_dir, redis_client, redis_server, short_dir  # noqa: F401

ROOT = Path(__file__).resolve().parents[1]


def servers_on(sock: Path) -> list[int]:
    """Pids of live redis-server processes serving this socket (zombies excluded)."""
    pids = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (proc / "cmdline").read_bytes()
            state = (proc / "stat").read_text().rpartition(")")[2].split()[0]
        except OSError:
            continue
        if b"redis-server" in cmdline and str(sock).encode() in cmdline and state != "Z":
            pids.append(int(proc.name))
    return pids


def wait_dead(pid: int) -> None:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        stat = Path(f"/proc/{pid}/stat")
        if not stat.exists() or stat.read_text().rpartition(")")[2].split()[0] == "Z":
            return
        time.sleep(0.01)
    raise AssertionError(f"pid {pid} still running")


@pytest.fixture(autouse=True)
def settings_reloaded_after() -> Iterator[None]:
    """Runs its teardown after monkeypatch's undo, so no test leaves stale cached settings."""
    yield
    reload_settings()


@pytest.fixture
def var(tmp_path: Path) -> Iterator[Path]:
    """A fresh data dir with REDIS_URL unset; every server started under it is stopped after."""
    path = short_dir(tmp_path) / "var"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PUBLISHER_DATA_DIR", str(path))
        mp.delenv("REDIS_URL", raising=False)
        settings = reload_settings()
        try:
            yield path
        finally:
            stop_embedded(settings)
            for pid in servers_on(path / "redis" / "redis.sock"):
                os.kill(pid, signal.SIGKILL)
    reload_settings()


def test_first_call_starts_an_embedded_server_under_the_data_dir(var: Path) -> None:
    url = redis_url()

    sock = var.resolve() / "redis" / "redis.sock"
    assert url == f"unix://{sock}"
    assert uses_embedded()
    assert redis.Redis(unix_socket_path=str(sock)).ping()
    assert (sock.stat().st_mode & 0o777) == 0o700
    conf = (var / "redis" / "redis.conf").read_text()
    assert "appendonly yes" in conf and "port 0" in conf and "daemonize yes" in conf
    pid = int((var / "redis" / "redis.pid").read_text())
    assert servers_on(sock) == [pid] == [embedded_pid()]
    # Its own session: Ctrl-C on the publisher command does not reach the server.
    assert os.getsid(pid) != os.getsid(0)


def test_writes_survive_a_stop_and_a_start(var: Path) -> None:
    connect().set(b"release:1", b"queued")

    assert stop_embedded() is True
    assert not (var / "redis" / "redis.sock").exists()
    assert embedded_pid() is None

    redis_url()
    assert connect().get(b"release:1") == b"queued"
    assert (var / "redis" / "appendonly.aof").exists()


def test_a_client_survives_a_restart_of_the_server(var: Path) -> None:
    client = connect()
    client.set("k", "v")
    first = embedded_pid()

    restart_embedded()

    assert embedded_pid() != first
    assert client.get("k") == b"v"


def test_threads_starting_at_once_share_one_server(var: Path) -> None:
    urls: list[str] = []
    barrier = threading.Barrier(8)

    def start() -> None:
        barrier.wait()
        urls.append(redis_url())

    threads = [threading.Thread(target=start) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert len(urls) == 8 and len(set(urls)) == 1
    assert len(servers_on(var.resolve() / "redis" / "redis.sock")) == 1


def test_processes_starting_at_once_share_one_server(var: Path) -> None:
    code = (
        "from publisher.redis_server import redis_url, embedded_pid; "
        "redis_url(); print(embedded_pid())"
    )
    env = {**os.environ, "PUBLISHER_DATA_DIR": str(var)}
    procs = [
        subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, env=env, cwd=ROOT)
        for _ in range(2)
    ]
    pids = {int(p.communicate(timeout=30)[0]) for p in procs}

    assert all(p.returncode == 0 for p in procs)
    assert len(pids) == 1
    assert servers_on(var.resolve() / "redis" / "redis.sock") == list(pids)
    # The server outlives the processes that started it.
    assert connect().ping()


def test_a_killed_server_is_replaced_and_keeps_its_data(var: Path) -> None:
    connect().set("sent:telegram:42", "1")
    pid = embedded_pid()
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    wait_dead(pid)
    assert (var / "redis" / "redis.sock").exists()  # stale socket and pid file left behind

    redis_url()

    assert embedded_pid() not in (None, pid)
    assert connect().get("sent:telegram:42") == b"1"


def test_a_stale_pid_file_naming_another_process_is_ignored(var: Path) -> None:
    folder = var / "redis"
    folder.mkdir(parents=True)
    (folder / "redis.pid").write_text(f"{os.getpid()}\n")  # alive, but not a redis-server
    with socket.socket(socket.AF_UNIX) as dead:
        dead.bind(str(folder / "redis.sock"))  # a socket file nobody listens on

    redis_url()

    assert embedded_pid() not in (None, os.getpid())
    assert connect().ping()


def test_stop_says_when_nothing_was_running(var: Path) -> None:
    assert stop_embedded() is False
    redis_url()
    assert stop_embedded() is True
    assert stop_embedded() is False


def test_with_redis_url_set_nothing_is_started(
    var: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    external = redis_url()
    connect().set("from", "elsewhere")
    other = short_dir(tmp_path / "other")
    monkeypatch.setenv("PUBLISHER_DATA_DIR", str(other))
    monkeypatch.setenv("REDIS_URL", external)
    reload_settings()

    assert redis_url() == external
    assert not uses_embedded()
    assert connect().get("from") == b"elsewhere"
    assert not (other / "redis").exists()
    assert stop_embedded() is False
    assert len(servers_on(var.resolve() / "redis" / "redis.sock")) == 1


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("unix:///nonexistent/redis.sock", "unix:///nonexistent/redis.sock"),
        ("redis://:s3cret@127.0.0.1:1/0", "redis://:***@127.0.0.1:1/0"),
    ],
)
def test_an_unreachable_redis_url_is_one_clear_line(
    url: str, shown: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REDIS_URL", url)
    settings = reload_settings()
    started = time.monotonic()

    with pytest.raises(StoreUnavailable) as caught:
        connect(settings)

    message = str(caught.value)
    assert message.startswith(f"cannot reach Redis at {shown}: ")
    assert message.endswith("; start it or check REDIS_URL")
    assert "\n" not in message and "s3cret" not in message
    assert time.monotonic() - started < 2  # no retry loop before the first answer


def test_a_data_dir_too_deep_for_a_unix_socket_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    deep = tmp_path / ("d" * 100)
    monkeypatch.setenv("PUBLISHER_DATA_DIR", str(deep))
    monkeypatch.delenv("REDIS_URL", raising=False)

    with pytest.raises(StoreUnavailable, match="shorter path"):
        redis_url(reload_settings())
    assert servers_on(deep.resolve() / "redis" / "redis.sock") == []


def test_celery_urls_name_the_same_server(var: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from celery import Celery
    from kombu import Connection

    url = celery_broker_url()
    assert url == f"redis+socket://{var.resolve()}/redis/redis.sock"
    connect().set("shared", "yes")
    with Connection(url) as conn:
        assert conn.default_channel.client.get("shared") == b"yes"
    app = Celery(broker=url, backend=url)
    assert app.backend.client.get("shared") == b"yes"

    for given, expected in [
        ("redis://h:6379/2", "redis://h:6379/2"),
        ("rediss://:pw@h:6380/0", "rediss://:pw@h:6380/0"),
        ("unix:///run/redis.sock?db=3", "redis+socket:///run/redis.sock?virtual_host=3"),
    ]:
        monkeypatch.setenv("REDIS_URL", given)
        assert celery_broker_url(reload_settings()) == expected


def test_fixtures_give_a_clean_shared_server(
    redis_client: redis.Redis,  # noqa: F811
    data_dir: Path,  # noqa: F811
    redis_server: str,  # noqa: F811
) -> None:
    assert redis_client.dbsize() == 0
    assert get_settings().data_dir == data_dir
    assert redis_url() == redis_server
    connect().set("x", "1")
    assert redis_client.get("x") == b"1"
