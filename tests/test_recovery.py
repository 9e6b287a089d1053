"""Recovery of a broadcast whose worker died or stalled: claims of a dead owner are released at
once (not a lease later), a stalled owner keeps its claims until their lease ends, and a task
whose claims are gone can finish only what it had in flight.

The store's side runs on a real Redis; the end-to-end tests run real `publisher worker`
processes against the loopback Bot API and kill (SIGKILL) or stall (SIGSTOP) them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from publisher.runtime import Runtime, owner_alive, owner_name
from publisher.store import Outcome, Store, new_token
from publisher.store.keys import k_claims, k_counts, k_heartbeat, k_records
from tests.conftest import Worker, run_cli, wait_until
from tests.peers.smtp import SMTPPeer
from tests.peers.telegram_api import FakeBotAPI
from tests.peers.x_api import FakeXAPI
from tests.test_pipeline import LONG_BODY, import_recipients, live_env, write_release
from tests.test_store import ledger_call, url_of

RELEASE, CHANNEL = "rel-1", "telegram"
IN_FLIGHT = 32  # PUBLISHER_MAX_IN_FLIGHT's default: sends in flight per worker process


# -- who is alive -------------------------------------------------------------------------------


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    """A process of this host that a test may stop, continue and kill."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield process
    if process.poll() is None:
        process.kill()
        process.wait()


def test_an_owner_on_this_host_is_judged_by_its_process_not_its_heartbeat(
    sleeper: subprocess.Popen[bytes],
) -> None:
    owner = owner_name(sleeper.pid)
    assert owner_alive(owner, beating=False), "alive without a heartbeat: its process runs"
    os.kill(sleeper.pid, signal.SIGSTOP)
    try:
        assert owner_alive(owner, beating=False), "a stopped process is stalled, not dead"
    finally:
        os.kill(sleeper.pid, signal.SIGCONT)
    sleeper.kill()
    sleeper.wait()
    assert not owner_alive(owner, beating=True), "gone, even if its last beat has not expired"
    namespace, pid, _started = owner_name().split(".")
    assert not owner_alive(f"{namespace}.{pid}.1", beating=True), "another process, same pid"


def test_an_owner_elsewhere_is_alive_while_its_heartbeat_is() -> None:
    assert owner_alive("0ther0host.4242.77", beating=True)
    assert not owner_alive("0ther0host.4242.77", beating=False)
    assert not owner_alive(".4242.77", beating=False), "unknown host: only the beat tells"


# -- the store's side ---------------------------------------------------------------------------


def _records(client: redis.Redis) -> dict[str, list[Any]]:
    raw = client.hgetall(k_records(RELEASE, CHANNEL))
    return {k.decode(): json.loads(v) for k, v in raw.items()}


def test_a_task_whose_claim_is_gone_can_only_record_a_send_that_went_through(
    redis_client: redis.Redis,
) -> None:
    store = Store(redis_client)
    store.create_records(RELEASE, CHANNEL, ["1", "2", "3", "4"], 500)
    (batch,) = store.queued_batches(RELEASE, CHANNEL)
    url, stale, fresh = url_of(redis_client), new_token(), new_token()
    ledger_call(url, "claim", RELEASE, CHANNEL, batch, stale, -1.0)  # a lease already over
    assert ledger_call(url, "start", RELEASE, CHANNEL, ["1", "2", "3"], stale) == ["1", "2", "3"]
    (again,) = store.reap(RELEASE, CHANNEL, include_queued=False)
    ledger_call(url, "claim", RELEASE, CHANNEL, again, fresh, 30.0)
    ledger_call(url, "start", RELEASE, CHANNEL, ["1", "2"], fresh)

    # The stalled task comes back: it cannot start, renew or record progress any more ...
    assert ledger_call(url, "start", RELEASE, CHANNEL, ["4"], stale) == []
    assert ledger_call(url, "renew", RELEASE, CHANNEL, ["1", "2", "3", "4"], 30.0, stale) == 0
    assert ledger_call(url, "record_parts", RELEASE, CHANNEL, "1", ["7"], stale) is False
    assert not ledger_call(url, "holds", RELEASE, CHANNEL, "1", stale)
    assert ledger_call(url, "holds", RELEASE, CHANNEL, "1", fresh)
    # ... and of its outcomes only a `sent` counts: that message is out.
    outcomes = [
        Outcome("1", "sent", ["11"]),
        Outcome("2", "retry", [], "429", time.time() + 60),
        Outcome("3", "failed", [], "refused"),
    ]
    ledger_call(url, "finish", RELEASE, CHANNEL, outcomes, stale)
    records = _records(redis_client)
    assert records["1"][:3] == ["sent", 2, ["11"]] and records["1"][4] == 1
    assert records["2"][0] == "sending" and records["2"][5] == fresh, "its owner decides"
    assert records["3"][0] == "claimed" and records["3"][5] == fresh
    # The send under the fresh claim that was doubled is not counted twice.
    ledger_call(url, "finish", RELEASE, CHANNEL, [Outcome("1", "sent", ["12"])], fresh)
    assert _records(redis_client)["1"][2] == ["11"]
    counts = store.counts(RELEASE, CHANNEL)
    assert counts["sent"] == 1 and counts["uncertain"] == 1 and counts["pending"] == 3
    # A task that never shared its records (token '') is unaffected.
    assert ledger_call(url, "record_parts", RELEASE, CHANNEL, "2", ["8"]) is True


@pytest.fixture
def runtime(data_dir: Path) -> Iterator[Runtime]:
    rt = Runtime()
    yield rt
    rt.heartbeat.stop()
    rt.loop.close()


def test_the_tick_releases_at_once_only_the_claims_of_dead_owners(
    redis_client: redis.Redis, runtime: Runtime, sleeper: subprocess.Popen[bytes]
) -> None:
    store = runtime.store
    people = [str(100 + i) for i in range(10)]
    store.create_records(RELEASE, CHANNEL, people, 2)
    batches = store.queued_batches(RELEASE, CHANNEL)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    owners = {
        "killed here": owner_name(gone.pid),  # its heartbeat is still fresh: it died just now
        "stalled here": owner_name(sleeper.pid),  # stopped: no heartbeat
        "alive elsewhere": "0ther0host.4242.77",
        "dead elsewhere": "0ther0host.4343.78",
        "this process": runtime.owner,
    }
    url = url_of(redis_client)
    tokens: dict[str, str] = {}
    for (what, owner), batch in zip(owners.items(), batches, strict=True):
        tokens[what] = new_token()
        ledger_call(url, "claim", RELEASE, CHANNEL, batch, tokens[what], 30.0, owner)
    ledger_call(url, "start", RELEASE, CHANNEL, ["100"], tokens["killed here"])
    # A retry waiting for its time belongs to no task: its backoff holds.
    retry = [Outcome("101", "retry", [], "429", time.time() + 60)]
    ledger_call(url, "finish", RELEASE, CHANNEL, retry, tokens["killed here"])
    store.heartbeat(owners["killed here"], 5.0)
    store.heartbeat(owners["alive elsewhere"], 5.0)
    assert redis_client.exists(k_heartbeat(runtime.owner)), "the runtime beats from the start"
    os.kill(sleeper.pid, signal.SIGSTOP)

    dispatched: list[str] = []
    report = runtime.tick(lambda r, c, b: dispatched.append(b), lambda r: None, False)
    os.kill(sleeper.pid, signal.SIGCONT)

    assert report["claims_released"] == 1 + 2  # "100" (sending), "106" and "107"
    again = sorted(a for b in dispatched for a in store.batch_recipients(RELEASE, CHANNEL, b))
    assert again == ["100", "106", "107"]
    records = {r.recipient: r for r in store.records(RELEASE, CHANNEL)}
    assert records["100"].possible_duplicate, "it was sending when its worker died"
    assert records["101"].state == "retry"
    assert not records["106"].possible_duplicate
    left = {k.decode() for k in redis_client.hkeys(k_claims(RELEASE, CHANNEL))}
    assert left == {tokens[w] for w in ("stalled here", "alive elsewhere", "this process")}


# -- a real worker killed, a real worker stalled ------------------------------------------------


@pytest.fixture
def peers() -> Iterator[tuple[FakeBotAPI, FakeXAPI, SMTPPeer]]:
    with FakeBotAPI() as bot, FakeXAPI() as x, SMTPPeer() as smtp:
        yield bot, x, smtp


def short_release(tmp_path: Path, title: str) -> Path:
    release = write_release(tmp_path, channels="telegram", title=title)
    release.write_text(release.read_text().replace(LONG_BODY, "One short paragraph."))
    return release


def sends(bot: FakeBotAPI) -> Counter[int | str | None]:
    return Counter(r.chat_id for r in list(bot.requests) if r.ok and r.method == "sendMessage")


def deliveries(env: dict[str, str], release_id: str) -> dict[str, dict[str, Any]]:
    result = run_cli("deliveries", release_id, "--json", env=env)
    assert result.returncode == 0, result.stderr
    return {row["recipient"]: row for row in json.loads(result.stdout)}


def check_delivered(
    bot: FakeBotAPI, env: dict[str, str], release_id: str, chats: list[int], bound: int
) -> Counter[int | str | None]:
    """Everyone got the message; at most `bound` were doubled, each flagged. Returns the
    doubled chats."""
    per_chat = sends(bot)
    assert set(chats) <= set(per_chat), "somebody was lost"
    doubled = Counter({chat: n - 1 for chat, n in per_chat.items() if n > 1})
    assert sum(doubled.values()) <= bound, doubled
    rows = deliveries(env, release_id)
    assert all(row["state"] == "sent" for row in rows.values())
    unflagged = [chat for chat in doubled if not rows[str(chat)]["possible_duplicate"]]
    assert not unflagged, f"doubled but not flagged: {unflagged}"
    return doubled


def pending(client: redis.Redis, release_id: str) -> int:
    return int(client.hget(k_counts(release_id, "telegram"), "pending") or 0)


def test_a_killed_worker_restarted_finishes_the_broadcast_within_seconds(
    tmp_path: Path,
    data_dir: Path,
    peers: tuple[FakeBotAPI, FakeXAPI, SMTPPeer],
    workers: list[Worker],
) -> None:
    bot, x, smtp = peers
    bot.latency_s = 0.05  # 25 and more sends in flight at a time
    env = live_env(data_dir, bot, x, smtp, TELEGRAM_RATE_LIMIT="500")
    client = redis.Redis.from_url(env["REDIS_URL"])
    chats = list(range(30_000, 33_000))
    import_recipients(tmp_path, env, chats, [])
    release = short_release(tmp_path, "Killed")
    first = Worker(env, log=tmp_path / "worker1.log").start()
    workers.append(first)
    release_id = run_cli("publish", str(release), env=env).stdout.splitlines()[0]

    assert wait_until(lambda: sum(sends(bot).values()) >= 1200, 60), "the broadcast did not start"
    first.kill(signal.SIGKILL)
    assert pending(client, release_id) > 0, "finished before the kill; make the broadcast slower"
    restarted = time.monotonic()
    workers.append(Worker(env, log=tmp_path / "worker2.log").start())
    assert wait_until(lambda: pending(client, release_id) == 0, 30, 0.05)
    took_s = time.monotonic() - restarted
    assert took_s < 10, f"finished {took_s:.1f} s after the restart"  # the lease is 30 s

    doubled = check_delivered(bot, env, release_id, chats, 2 * IN_FLIGHT)  # 2 processes killed
    print(f"recovered {took_s:.1f} s after the restart; {sum(doubled.values())} doubled")
    assert "claims of a dead worker released" in (tmp_path / "worker2.log").read_text()


def test_a_stalled_worker_keeps_its_claims_for_its_lease_and_doubles_only_its_sends_in_flight(
    tmp_path: Path,
    data_dir: Path,
    peers: tuple[FakeBotAPI, FakeXAPI, SMTPPeer],
    workers: list[Worker],
) -> None:
    lease_s = 12.0
    bot, x, smtp = peers
    bot.latency_s = 0.05
    env = live_env(
        data_dir, bot, x, smtp, TELEGRAM_RATE_LIMIT="300", PUBLISHER_LEASE_S=str(lease_s)
    )
    client = redis.Redis.from_url(env["REDIS_URL"])
    chats = list(range(40_000, 42_000))
    import_recipients(tmp_path, env, chats, [])
    release = short_release(tmp_path, "Stalled")
    stalled_log = tmp_path / "stalled.log"
    stalled = Worker(env, concurrency=1, log=stalled_log).start()
    live = Worker(env, concurrency=1, log=tmp_path / "live.log").start()
    workers += [stalled, live]
    release_id = run_cli("publish", str(release), env=env).stdout.splitlines()[0]

    def stalled_token() -> str | None:
        pids = set(stalled.processes())
        for token, owner in client.hgetall(k_claims(release_id, "telegram")).items():
            if int(owner.decode().split(".")[1]) in pids:
                return str(token.decode())
        return None

    def held_by(token: str) -> dict[str, str]:
        raw = client.hgetall(k_records(release_id, "telegram"))
        return {k.decode(): rec[0] for k, v in raw.items() if (rec := json.loads(v))[5] == token}

    assert wait_until(lambda: sum(sends(bot).values()) >= 200 and stalled_token(), 60)
    token = stalled_token()
    assert token is not None
    os.killpg(stalled.process.pid, signal.SIGSTOP)  # type: ignore[union-attr]
    stopped = time.monotonic()
    try:
        time.sleep(0.3)  # what was on its way to Redis has arrived
        held = held_by(token)
        in_flight = {chat for chat, state in held.items() if state == "sending"}
        waiting = set(held) - in_flight
        assert waiting, "the stalled task had nothing left to start"
        assert len(in_flight) <= IN_FLIGHT

        # Its heartbeat stops with it; ticks come and go: its claims still hold, in its lease.
        time.sleep(max(0.0, stopped + lease_s - 3 - time.monotonic()))
        assert set(held_by(token)) == set(held), "a stalled worker's claims were released"
        assert not waiting & {str(c) for c in sends(bot)}, "sent under somebody else's claim"
        # Past its lease, the live worker takes its recipients over.
        assert wait_until(lambda: not held_by(token), lease_s + 5, 0.2)
        time.sleep(max(0.0, stopped + lease_s + 3 - time.monotonic()))
        finished_before = stalled_log.read_text().count("batch finished")
    finally:
        os.killpg(stalled.process.pid, signal.SIGCONT)  # type: ignore[union-attr]

    assert wait_until(lambda: pending(client, release_id) == 0, 40, 0.1)
    # Running again, the stalled task finishes what it had in flight, then its batch ends.
    assert wait_until(lambda: stalled_log.read_text().count("batch finished") > finished_before, 20)
    doubled = check_delivered(bot, env, release_id, chats, IN_FLIGHT)  # 1 process stalled
    assert {str(c) for c in doubled} <= in_flight, "only its sends in flight may be doubled"
    print(f"{len(in_flight)} in flight when stalled, {sum(doubled.values())} doubled")
    time.sleep(1.0)  # the stalled worker, running again, sends nothing more
    assert sum(sends(bot).values()) == len(chats) + 1 + sum(doubled.values())
