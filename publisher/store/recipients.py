"""Recipients in Redis: who receives each channel, with their choices, and who never will again.

A channel's recipients are one hash, address -> JSON of what the channel's audience keeps about
them (name, language, categories...); the store does not look inside. A suppressed address
(unsubscribed, blocked, bounced) leaves that hash for the suppression hash, and no later import
adds it back; only `unsuppress` (the person's own subscribe) lifts it. An address that is not in
the channel's hash (a channel or an account the settings name) simply has no info. Every change
can be written to the channel's recipient event stream.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from publisher.store.base import StoreBase, decode, event_fields
from publisher.store.keys import k_recipient_events, k_recipients, k_suppressed


class Recipients(StoreBase):
    """Each channel's recipients and its suppression list."""

    def add_recipients(self, channel: str, entries: dict[str, dict[str, Any]]) -> tuple[int, int]:
        """Add or update recipients; suppressed ones are not added back. (added, suppressed)."""
        suppressed = self.suppressed(channel, list(entries))
        keep = {
            a: json.dumps(v, ensure_ascii=False) for a, v in entries.items() if a not in suppressed
        }
        if keep:
            self.redis.hset(k_recipients(channel), mapping=keep)
        return len(keep), len(entries) - len(keep)

    def remove_recipient(self, channel: str, address: str) -> bool:
        """Delete a recipient (not a suppression: a later import may add it again)."""
        return bool(self.redis.hdel(k_recipients(channel), address))

    def recipients(self, channel: str) -> dict[str, dict[str, Any]]:
        raw = self.redis.hgetall(k_recipients(channel))
        return {decode(a): json.loads(v) for a, v in raw.items()}

    def iter_recipients(self, channel: str) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every recipient of a channel with its choices, read a page at a time."""
        for address, raw in self.redis.hscan_iter(k_recipients(channel), count=1000):
            yield decode(address), json.loads(raw)

    def recipient_count(self, channel: str) -> int:
        return int(self.redis.hlen(k_recipients(channel)))

    def recipient_info(self, channel: str, addresses: list[str]) -> dict[str, dict[str, Any]]:
        """What the channel keeps about each address; empty for one it does not list."""
        if not addresses:
            return {}
        values = self.redis.hmget(k_recipients(channel), addresses)
        return {a: json.loads(v) if v else {} for a, v in zip(addresses, values, strict=True)}

    def suppress(self, channel: str, address: str, reason: str) -> None:
        """Remove a recipient for good (blocked, unsubscribed, bounced): no import re-adds it."""
        pipe = self.redis.pipeline()
        pipe.hset(k_suppressed(channel), address, reason)
        pipe.hdel(k_recipients(channel), address)
        pipe.execute()

    def unsuppress(self, channel: str, address: str) -> None:
        """Lift a suppression (the person subscribed again themselves)."""
        self.redis.hdel(k_suppressed(channel), address)

    def suppressed(self, channel: str, addresses: list[str]) -> set[str]:
        """Which of ``addresses`` are suppressed on the channel."""
        if not addresses:
            return set()
        found = self.redis.hmget(k_suppressed(channel), addresses)
        return {a for a, v in zip(addresses, found, strict=True) if v is not None}

    def add_recipient_event(self, channel: str, kind: str, who: str, **details: str) -> None:
        """Append to the channel's recipient event stream (who changed whom, and why)."""
        self.redis.xadd(k_recipient_events(channel), event_fields(kind, who, details))

    def recipient_events(self, channel: str) -> list[dict[str, str]]:
        """The channel's recipient event stream, oldest first."""
        entries = self.redis.xrange(k_recipient_events(channel))
        return [{decode(k): decode(v) for k, v in fields.items()} for _, fields in entries]
