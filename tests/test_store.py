"""The store's batches on a real Redis: a batch is claimed once, a lost one comes back, the
records of a finished channel expire, and re-queued work gets a batch of its own."""

from __future__ import annotations

import asyncio
import json

import redis
import redis.asyncio

from publisher.store import Ledger, Outcome, Store, new_token
from publisher.store.keys import k_batch_queue, k_recipient_events, k_records, k_release
from publisher.store.releases import SUMMARY_CHUNK

RELEASE, CHANNEL = "rel-1", "telegram"


def ledger_call(url: str, fn_name: str, *args: object) -> object:
    async def call() -> object:
        client = redis.asyncio.Redis.from_url(url)
        try:
            return await getattr(Ledger(client), fn_name)(*args)
        finally:
            await client.aclose()

    return asyncio.run(call())


def url_of(client: redis.Redis) -> str:
    kwargs = client.connection_pool.connection_kwargs
    if "path" in kwargs:
        return f"unix://{kwargs['path']}"
    return f"redis://{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}"


def test_records_are_queued_in_batches_and_each_batch_is_claimed_once(
    redis_client: redis.Redis,
) -> None:
    store = Store(redis_client)
    addresses = [str(1000 + i) for i in range(1200)]
    assert store.create_records(RELEASE, CHANNEL, addresses, 500) == 1200
    # Creating them again (a redelivered publish task) adds nothing and no batch.
    assert store.create_records(RELEASE, CHANNEL, addresses, 500) == 0
    batches = store.queued_batches(RELEASE, CHANNEL)
    assert [len(store.batch_recipients(RELEASE, CHANNEL, b)) for b in batches] == [500, 500, 200]
    assert store.counts(RELEASE, CHANNEL)["pending"] == 1200

    url = url_of(redis_client)
    first = ledger_call(url, "claim", RELEASE, CHANNEL, batches[0], new_token(), 30.0)
    again = ledger_call(url, "claim", RELEASE, CHANNEL, batches[0], new_token(), 30.0)
    assert isinstance(first, dict) and len(first) == 500
    assert again == {}, "a batch delivered twice is claimed once"
    assert store.queued_batches(RELEASE, CHANNEL) == batches[1:]


def test_a_lost_batch_is_dispatched_again_only_when_the_broker_is_idle(
    redis_client: redis.Redis,
) -> None:
    store = Store(redis_client)
    store.create_records(RELEASE, CHANNEL, ["1", "2", "3"], 500)
    (batch,) = store.queued_batches(RELEASE, CHANNEL)
    assert store.reap(RELEASE, CHANNEL, include_queued=True) == [], "not overdue yet"
    redis_client.zadd(k_batch_queue(RELEASE, CHANNEL), {batch: 0})
    assert store.reap(RELEASE, CHANNEL, include_queued=False) == []
    assert store.reap(RELEASE, CHANNEL, include_queued=True) == [batch]
    assert store.reap(RELEASE, CHANNEL, include_queued=True) == [], "its clock was reset"


def test_an_expired_lease_comes_back_in_a_new_batch_flagged_when_it_was_sending(
    redis_client: redis.Redis,
) -> None:
    store = Store(redis_client)
    store.create_records(RELEASE, CHANNEL, ["1", "2", "3"], 500)
    (batch,) = store.queued_batches(RELEASE, CHANNEL)
    url, token = url_of(redis_client), new_token()
    ledger_call(url, "claim", RELEASE, CHANNEL, batch, token, -1.0)  # a lease already over
    ledger_call(url, "start", RELEASE, CHANNEL, ["1"], token)
    ledger_call(url, "finish", RELEASE, CHANNEL, [Outcome("3", "sent", ["9"])])
    (again,) = store.reap(RELEASE, CHANNEL, include_queued=False)
    assert sorted(store.batch_recipients(RELEASE, CHANNEL, again)) == ["1", "2"]
    records = {r.recipient: r for r in store.records(RELEASE, CHANNEL)}
    assert records["1"].possible_duplicate and not records["2"].possible_duplicate
    assert records["3"].state == "sent" and records["3"].platform_ids == ["9"]
    # The next claim tells the sender which send may already have happened.
    claimed = ledger_call(url, "claim", RELEASE, CHANNEL, again, new_token(), 30.0)
    assert claimed == {"1": (1, [], True), "2": (0, [], False)}


def test_resume_puts_paused_records_in_one_batch_and_retire_drops_the_batches(
    redis_client: redis.Redis,
) -> None:
    store = Store(redis_client)
    store.create_records(RELEASE, CHANNEL, ["1", "2"], 500)
    (batch,) = store.queued_batches(RELEASE, CHANNEL)
    url = url_of(redis_client)
    ledger_call(url, "claim", RELEASE, CHANNEL, batch, new_token(), 30.0)
    paused = [Outcome("1", "paused", [], "401"), Outcome("2", "paused", [], "401")]
    ledger_call(url, "finish", RELEASE, CHANNEL, paused)
    batches, requeued = store.requeue(RELEASE, CHANNEL, "paused")
    assert sorted(requeued) == ["1", "2"] and len(batches) == 1
    assert store.counts(RELEASE, CHANNEL)["pending"] == 2
    assert store.requeue(RELEASE, CHANNEL, "paused") == ([], [])
    store.retire(RELEASE, CHANNEL, ttl_s=60)
    assert store.queued_batches(RELEASE, CHANNEL) == []
    raw = redis_client.hget(k_records(RELEASE, CHANNEL), "1")
    assert raw is not None and json.loads(raw)[0] == "queued"
    assert 0 < redis_client.ttl(k_records(RELEASE, CHANNEL)) <= 60


def test_a_fan_out_that_died_midway_is_finished_by_its_redelivery(
    redis_client: redis.Redis,
) -> None:
    from publisher.fanout import fan_out
    from publisher.settings import Settings

    store = Store(redis_client)
    settings = Settings(telegram_rate_limit=1000, telegram_channel=None)
    store.save_release(RELEASE, {"id": RELEASE, "language": "en"}, {"channels": {}})
    store.add_recipients(CHANNEL, {str(1000 + i): {} for i in range(1200)})

    dispatched: list[str] = []

    def dies_after_one(release_id: str, channel: str, batch_id: str) -> None:
        if dispatched:
            raise ConnectionError("worker killed")
        dispatched.append(batch_id)

    try:
        fan_out(store, settings, RELEASE, [CHANNEL], dies_after_one)
    except ConnectionError:
        pass
    assert not store.release_field(RELEASE, "fanned_out")

    again: list[str] = []
    fan_out(store, settings, RELEASE, [CHANNEL], lambda r, c, b: again.append(b))
    assert store.release_field(RELEASE, "fanned_out")
    everyone = set(dispatched) | set(again)
    members = [m for b in everyone for m in store.batch_recipients(RELEASE, CHANNEL, b)]
    assert sorted(members) == sorted(str(1000 + i) for i in range(1200)), "nobody left out"
    assert len(members) == len(set(members)), "nobody in two batches"
    assert store.counts(RELEASE, CHANNEL)["total"] == 1200
    assert fan_out(store, settings, RELEASE, [CHANNEL], lambda r, c, b: again.append(b)) == {}


def test_recipient_info_knows_listed_addresses_on_any_channel(redis_client: redis.Redis) -> None:
    store = Store(redis_client)
    store.add_recipients("any-channel", {"a": {"name": "Ana", "language": "ar"}})
    info = store.recipient_info("any-channel", ["a", "the-account"])
    assert info == {"a": {"name": "Ana", "language": "ar"}, "the-account": {}}
    assert store.recipient_info("never-listed", ["the-account"]) == {"the-account": {}}
    assert store.recipient_info("any-channel", []) == {}


def test_finish_counts_each_outcome_once(redis_client: redis.Redis) -> None:
    store = Store(redis_client)
    store.create_records(RELEASE, CHANNEL, ["1", "2", "3", "4"], 500)
    (batch,) = store.queued_batches(RELEASE, CHANNEL)
    url, token = url_of(redis_client), new_token()
    ledger_call(url, "claim", RELEASE, CHANNEL, batch, token, 30.0)
    started = ledger_call(url, "start", RELEASE, CHANNEL, ["1", "2"], token)
    assert started == ["1", "2"]
    outcomes = [
        Outcome("1", "sent", ["m1", "m2"]),
        Outcome("2", "skipped", [], "blocked", gone=True),
        Outcome("3", "failed", [], "refused"),
        Outcome("4", "retry", [], "429", due=1.0),
    ]
    again = ledger_call(url, "finish", RELEASE, CHANNEL, outcomes, token, ["4"])
    assert again == [], "a retrying record is not claimed, so it is not started"
    ledger_call(url, "finish", RELEASE, CHANNEL, outcomes[:1], token)  # told twice: counted once
    counts = store.counts(RELEASE, CHANNEL)
    assert (counts["sent"], counts["skipped"], counts["gone"], counts["failed"]) == (1, 1, 1, 1)
    assert counts["pending"] == 1 and counts["total"] == 4
    records = {r.recipient: r for r in store.records(RELEASE, CHANNEL)}
    assert records["1"].platform_ids == ["m1", "m2"] and records["1"].attempts == 1
    assert records["3"].state == "failed" and records["3"].error == "refused"
    assert records["4"].state == "retry"


def test_suppression_holds_against_imports_until_lifted(redis_client: redis.Redis) -> None:
    store = Store(redis_client)
    store.add_recipients("chat", {"a": {"language": "ar"}, "b": {}})
    store.suppress("chat", "a", "bot was blocked by the user", "blocked")
    assert store.add_recipients("chat", {"a": {}, "c": {}}) == (1, 1), "a stays out"
    assert store.suppressed("chat", ["a", "b", "c"]) == {"a"}
    choices, why = store.recipient("chat", "a")  # type: ignore[misc]
    assert choices == {"language": "ar"}, "the choices are kept aside for a later subscribe"
    assert why is not None and (why["state"], why["cause"]) == (
        "blocked",
        "bot was blocked by the user",
    )
    assert [a for a, _, _ in store.iter_suppressed("chat")] == ["a"]
    store.put_recipient("chat", "a", {**choices, "since": 1})  # the person's own subscribe
    assert store.recipient("chat", "a") == ({"language": "ar", "since": 1}, None)
    assert store.suppressed("chat", ["a"]) == set()
    assert store.add_recipients("chat", {"a": {}}) == (1, 0)
    assert store.remove_recipient("chat", "b") and not store.remove_recipient("chat", "b")
    assert sorted(store.recipients("chat")) == ["a", "c"]
    assert store.suppressed("chat", ["b"]) == set(), "removing is not suppressing"
    store.add_recipient_event("chat", "imported", "ana", added="1")
    entries: list[tuple[bytes, dict[bytes, bytes]]] = redis_client.xrange(  # type: ignore[assignment]
        k_recipient_events("chat")
    )
    ((_, fields),) = entries
    assert fields[b"type"] == b"imported" and fields[b"who"] == b"ana" and fields[b"added"] == b"1"


def test_a_moved_chat_takes_its_record_and_suppression_along(redis_client: redis.Redis) -> None:
    store = Store(redis_client)
    store.add_recipients("chat", {"-5": {"language": "ar"}, "-6": {}})
    assert store.move_recipient("chat", "-5", "-1005")
    assert store.recipient("chat", "-1005") == ({"language": "ar"}, None)
    assert store.recipient("chat", "-5") is None
    store.suppress("chat", "-6", "removed", "blocked")
    assert store.move_recipient("chat", "-6", "-1006")
    moved = store.recipient("chat", "-1006")
    assert moved is not None and moved[1] is not None and moved[1]["state"] == "blocked"
    assert not store.move_recipient("chat", "-7", "-1007"), "nothing to move"


def test_an_inbound_message_is_claimed_once(redis_client: redis.Redis) -> None:
    store = Store(redis_client)
    assert store.claim_inbound("src", 100_000_001)
    assert not store.claim_inbound("src", 100_000_001)
    assert store.claim_inbound("other", 100_000_001), "another source's ids are its own"
    assert store.claim_inbound("src", 100_000_002)
    ttl = redis_client.ttl("pub:seen:src:" + str(100_000_001 // 512))
    assert 0 < ttl <= 86_400


def test_release_summaries_read_many_releases_in_order_across_chunks(
    redis_client: redis.Redis,
) -> None:
    store = Store(redis_client)
    ids = [f"sum-{n}" for n in range(2 * SUMMARY_CHUNK + 7)]
    pipe = redis_client.pipeline()
    for n, release_id in enumerate(ids):
        fields = {"title": f"عودة المياه {n}", "status": "draft"}
        if n % 3:
            fields["category"] = "Local News"
        pipe.hset(k_release(release_id), mapping=fields)
    pipe.execute()
    asked = ["sum-none", *reversed(ids)]  # a release that is gone, then the others newest first
    rows = store.release_summaries(asked, "title", "category", "missing")
    assert len(rows) == len(asked) and rows[0] == {}
    for release_id, row in zip(asked[1:], rows[1:], strict=True):
        n = int(release_id.split("-")[1])
        expected = {"title": f"عودة المياه {n}"} | ({"category": "Local News"} if n % 3 else {})
        assert row == expected, release_id
    assert store.release_summaries([], "title") == []
