"""Who was seen lately: each heartbeat notes its owner's last beat; old owners are dropped."""

from __future__ import annotations

import time

import redis

from publisher.store import Store
from publisher.store import keys as k
from publisher.store.ledger import OWNERS_KEPT_S


def test_owners_seen_are_those_that_beat_within_the_window(redis_client: redis.Redis) -> None:
    store = Store(redis_client)
    assert store.owners_seen(60.0) == []
    store.heartbeat("host.100.1", 5.0)
    store.heartbeat("host.101.1", 5.0)
    now = time.time()
    redis_client.zadd(k.K_OWNERS, {"host.99.1": now - 120})  # beat two minutes ago
    assert sorted(store.owners_seen(60.0)) == ["host.100.1", "host.101.1"]
    assert sorted(store.owners_seen(300.0)) == ["host.100.1", "host.101.1", "host.99.1"]
    assert redis_client.exists(k.k_heartbeat("host.100.1")), "the beat itself is kept as before"


def test_a_beat_drops_owners_silent_for_longer_than_kept(redis_client: redis.Redis) -> None:
    store = Store(redis_client)
    redis_client.zadd(k.K_OWNERS, {"host.7.1": time.time() - OWNERS_KEPT_S - 10})
    store.heartbeat("host.8.1", 5.0)
    assert redis_client.zscore(k.K_OWNERS, "host.7.1") is None
    assert redis_client.zscore(k.K_OWNERS, "host.8.1") is not None
