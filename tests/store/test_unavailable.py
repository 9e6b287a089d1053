"""Redis away at any point: every public method of `Store` raises StoreUnavailable, one line,
no password, and the error pickles.

The mapping is checked complete: CALLS must name every public method of `Store`, and each is
called against a closed TCP port, a missing unix socket, and a real server stopped under a client
that was using it.
"""

from __future__ import annotations

import inspect
import pickle
import shutil
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from redis import exceptions as rx
from redis.backoff import NoBackoff
from redis.retry import Retry

from publisher.errors import StoreUnavailable
from publisher.redis_server import redis_url, stop_embedded
from publisher.settings import Settings
from publisher.store import K_REAPER_LOCK, Outcome, Store
from publisher.store.base import unavailable
from tests.redis_fixtures import short_dir

R, C = "rel-1", "chat"
PASSWORD = "s3cret-Passw0rd"

# One call per public method of Store; generators are drained, since they fail while iterated.
CALLS: dict[str, Callable[[Store], object]] = {
    "acquire_lock": lambda s: s.acquire_lock(K_REAPER_LOCK, 1.0),
    "active": lambda s: s.active(),
    "add_event": lambda s: s.add_event(R, "submitted", "tester", note="n"),
    "create_draft": lambda s: s.create_draft(R, {"title": "t"}, {"title": "t"}),
    "idempotency_begin": lambda s: s.idempotency_begin("d", "f", 60),
    "idempotency_finish": lambda s: s.idempotency_finish("d", 201, "{}", 60),
    "idempotency_forget": lambda s: s.idempotency_forget("d"),
    "record": lambda s: s.record(R, C, "a"),
    "release_fields": lambda s: s.release_fields(R, "status"),
    "release_ids": lambda s: s.release_ids(),
    "transition": lambda s: s.transition(R, ("draft",), {"status": "approved"}),
    "add_recipient_event": lambda s: s.add_recipient_event(C, "imported", "tester", added="1"),
    "add_recipients": lambda s: s.add_recipients(C, {"a": {"language": "en"}}),
    "batch_recipients": lambda s: s.batch_recipients(R, C, "1"),
    "channel_state": lambda s: s.channel_state(R, C),
    "clear_channel_state": lambda s: s.clear_channel_state(R, C, "paused"),
    "counts": lambda s: s.counts(R, C),
    "create_batch": lambda s: s.create_batch(R, C, ["a", "b"]),
    "create_records": lambda s: s.create_records(R, C, ["a", "b"], 500),
    "events": lambda s: s.events(R),
    "iter_recipients": lambda s: list(s.iter_recipients(C)),
    "load_release_json": lambda s: s.load_release_json(R),
    "load_rendered": lambda s: s.load_rendered(R),
    "mark_channel_queued": lambda s: s.mark_channel_queued(R, C),
    "mark_fanned_out": lambda s: s.mark_fanned_out(R),
    "maybe_mark_published": lambda s: s.maybe_mark_published(R),
    "ping": lambda s: s.ping(),
    "queued_batches": lambda s: s.queued_batches(R, C),
    "reap": lambda s: s.reap(R, C, include_queued=True),
    "recipient_count": lambda s: s.recipient_count(C),
    "recipient_info": lambda s: s.recipient_info(C, ["a"]),
    "recipients": lambda s: s.recipients(C),
    "records": lambda s: list(s.records(R, C)),
    "remove_recipient": lambda s: s.remove_recipient(C, "a"),
    "release_channels": lambda s: s.release_channels(R),
    "release_exists": lambda s: s.release_exists(R),
    "release_field": lambda s: s.release_field(R, "status"),
    "requeue": lambda s: s.requeue(R, C, "paused"),
    "retire": lambda s: s.retire(R, C, 60.0),
    "save_release": lambda s: s.save_release(R, {"id": R}, {"channels": {}}),
    "schedule": lambda s: s.schedule(R, 1.0),
    "scheduled_at": lambda s: s.scheduled_at(R),
    "set_channel_state": lambda s: s.set_channel_state(R, C, paused="401"),
    "set_release_fields": lambda s: s.set_release_fields(R, status="queued"),
    "suppress": lambda s: s.suppress(C, "a", "unsubscribed", "stopped"),
    "suppressed": lambda s: s.suppressed(C, ["a"]),
    "take_due": lambda s: s.take_due(2.0),
    "translations": lambda s: s.translations(R),
    "unschedule": lambda s: s.unschedule(R),
    "put_recipient": lambda s: s.put_recipient(C, "a", {"language": "en"}),
    "recipient": lambda s: s.recipient(C, "a"),
    "iter_suppressed": lambda s: list(s.iter_suppressed(C)),
    "move_recipient": lambda s: s.move_recipient(C, "a", "b"),
    "claim_inbound": lambda s: s.claim_inbound("src", 7),
    "published": lambda s: s.published(),
    "published_since": lambda s: s.published_since(0.0),
    "claim_release": lambda s: s.claim_release(R, "beat"),
    "release_summaries": lambda s: s.release_summaries([R], "language"),
    "note_category": lambda s: s.note_category("local-news", "en", "Local News"),
    "categories": lambda s: s.categories(),
    "recipient_events": lambda s: s.recipient_events(C),
    "heartbeat": lambda s: s.heartbeat("owner-1", 5.0),
    "beating": lambda s: s.beating(["owner-1"]),
    "owners_seen": lambda s: s.owners_seen(60.0),
    "claim_owners": lambda s: s.claim_owners(R, C),
    "release_claims": lambda s: s.release_claims(R, C, ["token-1"]),
    "count_bounce": lambda s: s.count_bounce(C, "a", hard=True),
    "bounce_counts": lambda s: s.bounce_counts(C, ["a"]),
    "clear_bounces": lambda s: s.clear_bounces(C, "a"),
    "put_signup": lambda s: s.put_signup(C, "a", {"language": "en"}),
    "signup": lambda s: s.signup(C, "a", 60.0),
    "take_signup": lambda s: s.take_signup(C, "a", 60.0),
    "prune_signups": lambda s: s.prune_signups(C, 60.0),
    "hit": lambda s: s.hit("client-1", 60, 5),
    "create_user": lambda s: s.create_user("amira", {"role": "editor", "disabled": "0"}),
    "user": lambda s: s.user("amira"),
    "users": lambda s: s.users(),
    "update_user": lambda s: s.update_user("amira", disabled="1"),
    "create_session": lambda s: s.create_session("d1", "amira", {"created": "1"}, 60),
    "session": lambda s: s.session("d1", 60),
    "end_session": lambda s: s.end_session("d1"),
    "end_sessions": lambda s: s.end_sessions("amira"),
    "create_token": lambda s: s.create_token("cms", "t1", {"role": "editor"}),
    "token": lambda s: s.token("t1", used_at=1.0),
    "tokens": lambda s: s.tokens(),
    "revoke_token": lambda s: s.revoke_token("cms"),
    "attempt": lambda s: s.attempt(["account-1", "client-1"], 60, 5),
    "add_account_event": lambda s: s.add_account_event("user added", "tester", user="amira"),
    "account_events": lambda s: s.account_events(),
    "change_choices": lambda s: s.change_choices(C, "a", {"language": "en"}),
}


def public_methods(cls: type) -> set[str]:
    return {n for n, _ in inspect.getmembers(cls, inspect.isfunction) if not n.startswith("_")}


def no_retries(**kwargs: object) -> redis.Redis:
    """A client that fails at once (the real one retries for seconds first, then fails the same)."""
    return redis.Redis(retry=Retry(NoBackoff(), 0), socket_connect_timeout=1.0, **kwargs)  # type: ignore[arg-type]


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def check(error: StoreUnavailable, *secrets: str) -> None:
    """One line, naming no secret, and it crosses a process boundary intact."""
    text = str(error)
    assert text and "\n" not in text
    assert "Traceback" not in text
    for secret in secrets:
        assert secret not in text
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is StoreUnavailable and str(copy) == text


def test_calls_cover_every_public_method() -> None:
    assert set(CALLS) == public_methods(Store), "add the new Store method to CALLS"


@pytest.fixture(params=["closed-port", "missing-socket"])
def dead_store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    if request.param == "closed-port":
        port = closed_port()
        return Store(no_retries(host="127.0.0.1", port=port, password=PASSWORD, username="u"))
    return Store(no_retries(unix_socket_path=str(tmp_path / "gone.sock"), password=PASSWORD))


@pytest.mark.parametrize("name", sorted(CALLS))
def test_every_method_raises_store_unavailable_when_nothing_answers(
    dead_store: Store, name: str
) -> None:
    with pytest.raises(StoreUnavailable, match="^cannot reach Redis at ") as caught:
        CALLS[name](dead_store)
    check(caught.value, PASSWORD)
    assert isinstance(caught.value.__cause__, rx.RedisError | OSError)
    assert "start it or check REDIS_URL" in str(caught.value)


class Throwaway:
    """A real embedded Redis of its own, which a test may stop under its clients."""

    def __init__(self, tmp: Path) -> None:
        self.dir = short_dir(tmp, prefix="pub-store-")
        self.settings = Settings(publisher_data_dir=self.dir, redis_url=None)
        self.url = redis_url(self.settings)

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, retry=Retry(NoBackoff(), 0))

    def stop(self) -> None:
        stop_embedded(self.settings)


@pytest.fixture
def throwaway(tmp_path: Path) -> Iterator[Throwaway]:
    server = Throwaway(tmp_path / "var")
    try:
        yield server
    finally:
        server.stop()
        if server.dir != tmp_path / "var":
            shutil.rmtree(server.dir, ignore_errors=True)


def test_every_method_raises_store_unavailable_once_a_live_redis_stops(
    throwaway: Throwaway,
) -> None:
    client = throwaway.client()
    store = Store(client)
    for name in sorted(CALLS):  # all of them work while it is up
        CALLS[name](store)
    throwaway.stop()
    for name in sorted(CALLS):
        with pytest.raises(StoreUnavailable, match="^cannot reach Redis at unix://") as caught:
            CALLS[name](store)
        check(caught.value)
    client.close()


def test_a_generator_fails_cleanly_when_redis_stops_between_pages(throwaway: Throwaway) -> None:
    store = Store(throwaway.client())
    store.add_recipients(C, {str(i): {} for i in range(5000)})  # several HSCAN pages
    pages = store.iter_recipients(C)
    first = next(pages)
    assert first[0].isdigit()
    throwaway.stop()
    with pytest.raises(StoreUnavailable) as caught:
        list(pages)
    check(caught.value)


def test_a_read_only_redis_is_said_so(throwaway: Throwaway) -> None:
    client = throwaway.client()
    store = Store(client)
    store.save_release(R, {"id": R}, {"channels": {}})
    client.replicaof("127.0.0.1", closed_port())  # a replica of nobody: reads yes, writes no
    try:
        assert store.release_exists(R)
        with pytest.raises(StoreUnavailable, match="is read-only") as caught:
            store.set_release_fields(R, status="queued")
        check(caught.value)
        with pytest.raises(StoreUnavailable, match="is read-only"):
            store.create_batch(R, C, ["a"])  # a Lua script that writes
    finally:
        client.replicaof("NO", "ONE")


@pytest.mark.parametrize(
    ("error", "start"),
    [
        (rx.ConnectionError("Error 111 connecting to 127.0.0.1:1.\nRefused."), "cannot reach"),
        (rx.TimeoutError("Timeout reading from socket"), "cannot reach"),
        (OSError(2, "No such file or directory"), "cannot reach"),
        (rx.BusyLoadingError("Redis is loading the dataset in memory"), "Redis at"),
        (rx.ReadOnlyError("You can't write against a read only replica."), "Redis at"),
        (rx.AuthenticationError(f"invalid password {PASSWORD}"), "Redis at"),
        (
            rx.ResponseError(f"ERR unknown command, with args beginning with: {PASSWORD}"),
            "Redis at",
        ),
        (rx.RedisError(), "Redis at"),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, BaseException) else None,
)
def test_each_kind_of_redis_error_becomes_one_line_without_the_password(
    error: BaseException, start: str
) -> None:
    client = redis.Redis.from_url(f"redis://user:{PASSWORD}@127.0.0.1:1/3")
    translated = unavailable(client, error)
    check(translated, PASSWORD)
    assert str(translated).startswith(start)
    assert "redis://127.0.0.1:1/3" in str(translated)


def test_a_tls_url_is_named_as_such() -> None:
    client = redis.Redis.from_url(f"rediss://:{PASSWORD}@example.org:6380/0")
    text = str(unavailable(client, rx.ConnectionError("refused")))
    assert "rediss://example.org:6380/0" in text and PASSWORD not in text


def test_outcomes_are_not_part_of_the_seam() -> None:
    """Only Store is wrapped; the asyncio Ledger's errors are the engine's to handle."""
    from publisher.store import Ledger

    assert not getattr(Ledger.finish, "__translated__", False)
    assert getattr(Store.records, "__translated__", False)
    assert Outcome("a", "sent", []).error == ""
