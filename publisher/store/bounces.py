"""Bounces counted per address: hard ones until the limit suppresses it, soft ones for the record.

One hash per channel, `pub:bounces:{c}` (`keys.k_bounces`)::

    {address}         hard bounces so far (a 5xx other than "no such user", a failed DSN)
    {address} soft    soft bounces so far (a 4xx, a delayed DSN): counted, never suppressing

An address never holds a space (it is normalised before it is stored), so the two fields cannot
collide. `bounce_field` names them, so the asyncio `Ledger` can count a send's bounce with the
same HINCRBY without a second copy of the layout.
"""

from __future__ import annotations

from typing import NamedTuple

from publisher.store.base import StoreBase
from publisher.store.keys import k_bounces

SOFT = " soft"


class BounceCount(NamedTuple):
    """How often an address bounced: hard (counted towards the limit) and soft."""

    hard: int = 0
    soft: int = 0


def bounce_field(address: str, hard: bool = True) -> str:
    """The field of `k_bounces(channel)` counting an address's hard (or soft) bounces."""
    return address if hard else address + SOFT


class Bounces(StoreBase):
    """Each channel's hard and soft bounces per address."""

    def count_bounce(self, channel: str, address: str, hard: bool = True) -> int:
        """Count one more bounce of `address`; the new count of that kind (atomic)."""
        return int(self.redis.hincrby(k_bounces(channel), bounce_field(address, hard), 1))

    def bounce_counts(self, channel: str, addresses: list[str]) -> dict[str, BounceCount]:
        """Every address's counts so far (zeros for one that never bounced)."""
        if not addresses:
            return {}
        fields = [f for a in addresses for f in (bounce_field(a), bounce_field(a, hard=False))]
        values = self.redis.hmget(k_bounces(channel), fields)
        return {
            address: BounceCount(int(values[2 * i] or 0), int(values[2 * i + 1] or 0))
            for i, address in enumerate(addresses)
        }

    def clear_bounces(self, channel: str, address: str) -> None:
        """Forget an address's bounces (the person subscribed again: a fresh start)."""
        self.redis.hdel(k_bounces(channel), bounce_field(address), bounce_field(address, False))
