"""Sign-ups awaiting their confirmation, and the web app's per-client and per-address limits.

A sign-up waits in one hash per channel (address -> JSON of the choices and when it was made)
until the person confirms it; taking it deletes it in the same transaction, so a confirmation
clicked twice subscribes once. Fields of a hash do not expire: an entry older than the
confirmation link is treated as gone when taken, and `prune_signups` deletes such entries.

A request limit is a fixed-window counter: one key per name and window, counted with INCR and
expiring with its window.
"""

from __future__ import annotations

import json
import time
from typing import Any

from publisher.store.base import StoreBase, decode
from publisher.store.keys import k_hits, k_pending


class SignUps(StoreBase):
    """Pending sign-ups (double opt-in) and fixed-window request counters."""

    def put_signup(self, channel: str, address: str, info: dict[str, Any]) -> None:
        """Keep a sign-up until it is confirmed (a later one for the address replaces it)."""
        entry = {**info, "at": round(time.time(), 3)}
        self.redis.hset(k_pending(channel), address, json.dumps(entry, ensure_ascii=False))

    def signup(self, channel: str, address: str, max_age_s: float) -> dict[str, Any] | None:
        """The pending sign-up of an address (its choices and `at`), left in place; None when
        there is none or it is older than max_age_s."""
        raw = self.redis.hget(k_pending(channel), address)
        return _young(raw, max_age_s)

    def take_signup(self, channel: str, address: str, max_age_s: float) -> dict[str, Any] | None:
        """Remove the pending sign-up of an address and return it; None when there is none or
        it is older than max_age_s. Of two callers at once, one gets it."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.hget(k_pending(channel), address)
        pipe.hdel(k_pending(channel), address)
        raw, _ = pipe.execute()
        return _young(raw, max_age_s)

    def prune_signups(self, channel: str, max_age_s: float) -> int:
        """Delete the sign-ups older than max_age_s (never confirmed); how many went."""
        key = k_pending(channel)
        stale = [
            decode(address)
            for address, raw in self.redis.hscan_iter(key, count=1000)
            if _young(raw, max_age_s) is None
        ]
        return int(self.redis.hdel(key, *stale)) if stale else 0

    def hit(self, name: str, window_s: int, limit: int) -> bool:
        """Count one request of `name` (a client, an address) in the current fixed window of
        window_s seconds; False once more than `limit` were counted in it."""
        window = int(time.time()) // window_s
        key = k_hits(name, window)
        pipe = self.redis.pipeline(transaction=True)
        pipe.incr(key)
        pipe.expire(key, window_s + 1)
        count, _ = pipe.execute()
        return int(count) <= limit


def _young(raw: bytes | str | None, max_age_s: float) -> dict[str, Any] | None:
    if raw is None:
        return None
    try:
        entry = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(entry, dict):
        return None
    at = entry.get("at")
    if not isinstance(at, int | float) or time.time() - at > max_age_s:
        return None
    return entry
