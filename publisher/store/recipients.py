"""Recipients in Redis: who receives each channel, with their choices, and who never will again.

A channel's receiving recipients are one hash, address -> JSON of what the channel's audience
keeps about them (name, language, categories...); the store does not look inside. A suppressed
address (unsubscribed, blocked, bounced) leaves that hash: its JSON is kept aside, so that the
person's own later subscribe restores their choices, and the suppression (state, cause, when)
is written; no later import adds it back. An address that is not in the channel's hash (a
channel or an account the settings name) simply has no info. Every change can be written to the
channel's recipient event stream. Inbound messages (a subscriber's commands) are claimed here
too, so that each is handled once.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import redis

from publisher.store import scripts as lua
from publisher.store.base import StoreBase, decode, event_fields, read_events
from publisher.store.keys import (
    SEEN_BUCKET,
    k_recipient_events,
    k_recipients,
    k_recipients_off,
    k_seen,
    k_suppressed,
)

SEEN_CLAIM_S = 86_400  # platforms keep an undelivered message for a day: a repeat comes sooner


def recipient_keys(channel: str) -> list[str]:
    """The three hashes of a channel's recipients, in the order the recipient scripts take."""
    return [k_recipients(channel), k_recipients_off(channel), k_suppressed(channel)]


def suppression_json(state: str, cause: str) -> str:
    return json.dumps({"state": state, "cause": cause, "at": round(time.time(), 3)})


def parse_suppression(raw: bytes | str) -> dict[str, Any]:
    """A suppression as {state, cause, at}; an older plain-text one is read as its cause."""
    text = decode(raw)
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if isinstance(value, dict):
        return value
    return {"state": "suppressed", "cause": text, "at": None}


class Recipients(StoreBase):
    """Each channel's recipients, the choices of suppressed ones, and the suppression list."""

    def __init__(self, client: redis.Redis) -> None:
        super().__init__(client)
        self._suppress = client.register_script(lua.SUPPRESS)
        self._move = client.register_script(lua.MOVE)
        self._change = client.register_script(lua.CHANGE)

    def add_recipients(self, channel: str, entries: dict[str, dict[str, Any]]) -> tuple[int, int]:
        """Add or update recipients; suppressed ones are not added back. (added, suppressed)."""
        suppressed = self.suppressed(channel, list(entries))
        keep = {a: _dumps(v) for a, v in entries.items() if a not in suppressed}
        if keep:
            self.redis.hset(k_recipients(channel), mapping=keep)
        return len(keep), len(entries) - len(keep)

    def put_recipient(self, channel: str, address: str, info: dict[str, Any]) -> None:
        """The person's own subscribe or change of choices: receiving, suppression lifted."""
        receiving, kept, suppressed = recipient_keys(channel)
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(receiving, address, _dumps(info))
        pipe.hdel(kept, address)
        pipe.hdel(suppressed, address)
        pipe.execute()

    def change_choices(self, channel: str, address: str, info: dict[str, Any]) -> bool:
        """A receiving recipient's new choices; False (nothing written) when it is not
        receiving, so a change never undoes an unsubscribe that came first."""
        return bool(self._change(keys=[k_recipients(channel)], args=[address, _dumps(info)]))

    def remove_recipient(self, channel: str, address: str) -> bool:
        """Delete a recipient (not a suppression: a later import may add it again)."""
        return bool(self.redis.hdel(k_recipients(channel), address))

    def recipients(self, channel: str) -> dict[str, dict[str, Any]]:
        raw = self.redis.hgetall(k_recipients(channel))
        return {decode(a): json.loads(v) for a, v in raw.items()}

    def iter_recipients(self, channel: str) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every receiving recipient of a channel with its choices, read a page at a time."""
        for address, raw in self.redis.hscan_iter(k_recipients(channel), count=1000):
            yield decode(address), json.loads(raw)

    def iter_suppressed(self, channel: str) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
        """Every suppressed address: (address, its kept choices, its suppression)."""
        for address, raw in self.redis.hscan_iter(k_suppressed(channel), count=1000):
            name = decode(address)
            kept = self.redis.hget(k_recipients_off(channel), name)
            yield name, json.loads(kept) if kept else {}, parse_suppression(raw)

    def recipient_count(self, channel: str) -> int:
        return int(self.redis.hlen(k_recipients(channel)))

    def recipient_info(self, channel: str, addresses: list[str]) -> dict[str, dict[str, Any]]:
        """What the channel keeps about each address; empty for one it does not list."""
        if not addresses:
            return {}
        values = self.redis.hmget(k_recipients(channel), addresses)
        return {a: json.loads(v) if v else {} for a, v in zip(addresses, values, strict=True)}

    def recipient(
        self, channel: str, address: str
    ) -> tuple[dict[str, Any], dict[str, Any] | None] | None:
        """(choices, suppression or None) of one address, receiving or suppressed; None if
        the channel has never heard of it."""
        receiving, kept, suppressed = recipient_keys(channel)
        pipe = self.redis.pipeline(transaction=False)
        pipe.hget(receiving, address)
        pipe.hget(kept, address)
        pipe.hget(suppressed, address)
        active, aside, why = pipe.execute()
        if active is not None:
            return json.loads(active), None
        if why is not None:
            return (json.loads(aside) if aside else {}), parse_suppression(why)
        return None

    def suppress(self, channel: str, address: str, reason: str, state: str = "suppressed") -> None:
        """Stop every delivery to an address for good (blocked, unsubscribed, bounced): no
        import re-adds it; its choices are kept for the person's own later subscribe."""
        args = [address, suppression_json(state, reason)]
        self._suppress(keys=recipient_keys(channel), args=args)

    def move_recipient(self, channel: str, old: str, new: str) -> bool:
        """Move what is kept under `old` to `new` (a group that became a supergroup)."""
        return bool(self._move(keys=recipient_keys(channel), args=[old, new]))

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
        return read_events(self.redis.xrange(k_recipient_events(channel)))

    def claim_inbound(self, source: str, message_id: int) -> bool:
        """True for the one process that handles this inbound message of `source` (a webhook
        delivered again, two processes behind one address); False for every later caller
        within a day."""
        key = k_seen(source, message_id // SEEN_BUCKET)
        pipe = self.redis.pipeline(transaction=True)
        pipe.sadd(key, message_id)
        pipe.expire(key, SEEN_CLAIM_S)
        added, _ = pipe.execute()
        return bool(added)


def _dumps(info: dict[str, Any]) -> str:
    return json.dumps(info, ensure_ascii=False, separators=(",", ":"))
