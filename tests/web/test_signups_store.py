"""The store's sign-ups (taken once, too old is gone) and fixed-window request counters."""

from __future__ import annotations

import time

import pytest
import redis

from publisher.store import Store


@pytest.fixture
def store(redis_client: redis.Redis) -> Store:
    return Store(redis_client)


def test_a_sign_up_is_taken_once(store: Store) -> None:
    before = time.time()
    store.put_signup("email", "a@example.org", {"language": "ar"})
    assert store.signup("email", "a@example.org", 60)["language"] == "ar"  # type: ignore[index]
    taken = store.take_signup("email", "a@example.org", 60)
    assert taken is not None and taken["language"] == "ar"
    # `at` is kept to the millisecond, so it may round up past the clock by half of one
    assert before - 0.001 <= taken["at"] <= time.time() + 0.001
    assert store.take_signup("email", "a@example.org", 60) is None
    assert store.signup("email", "a@example.org", 60) is None


def test_a_sign_up_older_than_its_link_is_gone_and_pruned(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = time.time()
    monkeypatch.setattr(time, "time", lambda: now - 100)
    store.put_signup("email", "old@example.org", {})
    monkeypatch.setattr(time, "time", lambda: now)
    store.put_signup("email", "new@example.org", {})
    assert store.signup("email", "old@example.org", 50) is None
    assert store.prune_signups("email", 50) == 1
    assert store.signup("email", "new@example.org", 50) is not None


def test_hits_are_counted_in_fixed_windows(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    start = 1_000_000_000.0
    monkeypatch.setattr(time, "time", lambda: start)
    assert [store.hit("client-1", 60, 3) for _ in range(4)] == [True, True, True, False]
    assert store.hit("client-2", 60, 3)  # another name counts apart
    monkeypatch.setattr(time, "time", lambda: start + 60)  # the next window
    assert store.hit("client-1", 60, 3)
