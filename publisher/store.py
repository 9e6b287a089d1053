"""Everything publisher keeps in Redis; the only module that knows key names.

Per (release, channel, recipient) a delivery record, a compact JSON array
`[state, attempts, platform_ids, error, possible_duplicate, claim_token]`, moves through

    queued -> claimed (a batch task owns it, under a lease)
           -> sending (the request may have left) -> sent | failed | skipped
    claimed/sending -> retry (transient error; due again later) -> claimed ...
    any pending state -> paused (channel-wide fault) -> queued again on `resume`

Queued recipients belong to a batch (a few hundred recipients, one `deliver` task): the batch
is kept, with when it was dispatched, until a task claims it; so a queued record costs its
recipient id once in a list, not an entry of its own in an index. Claimed, sending and retrying
recipients sit in the `leases` sorted set, scored by when something must happen to them (a
lease expiry, a retry time). The reaper puts what is overdue in `leases` back in new batches,
and dispatches long-waiting batches again only when the broker's queue is empty (their task
was lost with a killed worker). A lease that expires while `sending` means the send may have
happened: the record is flagged as a possible duplicate before it is sent again. All
transitions run in Lua (`publisher.store_scripts`), in batches.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, cast

import redis
import redis.asyncio

from publisher import store_scripts as lua
from publisher.errors import StoreUnavailable

PREFIX = "pub"
PENDING_STATES = ("queued", "claimed", "sending", "retry")
TERMINAL_STATES = ("sent", "failed", "skipped")
COUNT_FIELDS = ("sent", "failed", "pending", "skipped", "paused", "uncertain")


def k_release(release_id: str) -> str:
    return f"{PREFIX}:r:{release_id}"


def k_events(release_id: str) -> str:
    return f"{PREFIX}:r:{release_id}:ev"


def k_records(release_id: str, channel: str) -> str:
    return f"{PREFIX}:d:{release_id}:{channel}"


def k_leases(release_id: str, channel: str) -> str:
    return f"{PREFIX}:lease:{release_id}:{channel}"


def k_batches(release_id: str, channel: str) -> str:
    """Batches not yet claimed by a task: batch id -> JSON list of recipients."""
    return f"{PREFIX}:b:{release_id}:{channel}"


def k_batch_queue(release_id: str, channel: str) -> str:
    """The same batch ids, scored by when they were (last) dispatched."""
    return f"{PREFIX}:bq:{release_id}:{channel}"


def k_counts(release_id: str, channel: str) -> str:
    return f"{PREFIX}:n:{release_id}:{channel}"


def k_failures(release_id: str, channel: str) -> str:
    return f"{PREFIX}:f:{release_id}:{channel}"


def k_paused(release_id: str, channel: str) -> str:
    return f"{PREFIX}:p:{release_id}:{channel}"


def k_channel_state(release_id: str, channel: str) -> str:
    return f"{PREFIX}:ch:{release_id}:{channel}"


def k_recipients(channel: str) -> str:
    return f"{PREFIX}:rcpt:{channel}"


def k_suppressed(channel: str) -> str:
    return f"{PREFIX}:supp:{channel}"


def k_media(release_id: str) -> str:
    return f"{PREFIX}:media:{release_id}"


def k_group(group_id: str) -> str:
    return f"{PREFIX}:group:{group_id}"


def k_rate(name: str) -> str:
    """A rate limiter's log (the whole bot, or one chat)."""
    return f"{PREFIX}:rate:{name}"


K_RELEASES = f"{PREFIX}:releases"
K_SCHEDULE = f"{PREFIX}:schedule"
K_ACTIVE = f"{PREFIX}:active"  # "release_id channel" pairs with pending work
K_HEARTBEAT = f"{PREFIX}:heartbeat"
K_REAPER_LOCK = f"{PREFIX}:lock:reaper"


@dataclass(frozen=True)
class DeliveryRecord:
    """One recipient's delivery on one channel, as `publisher deliveries` shows it."""

    channel: str
    recipient: str
    state: str
    attempts: int
    platform_ids: list[str]
    error: str
    possible_duplicate: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "recipient": self.recipient,
            "state": self.state,
            "attempts": self.attempts,
            "platform_ids": self.platform_ids,
            "error": self.error,
            "possible_duplicate": self.possible_duplicate,
        }


@dataclass(frozen=True)
class Outcome:
    """What happened to one send, as the delivery engine reports it."""

    recipient: str
    state: str  # sent | failed | skipped | retry | paused
    platform_ids: list[str]
    error: str = ""
    due: float = 0.0  # for retry: when to try again (epoch seconds)
    gone: bool = False  # for skipped: the recipient is gone (counts towards exit code 1)


def _decode(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class Store:
    """Typed access to publisher's Redis data."""

    def __init__(self, client: redis.Redis) -> None:
        # redis-py's return types are unions of sync and async results; Any keeps this readable.
        self.redis: Any = client
        self._create = client.register_script(lua.CREATE)
        self._reap = client.register_script(lua.REAP)
        self._requeue = client.register_script(lua.REQUEUE)

    def ping(self) -> None:
        try:
            self.redis.ping()
        except redis.RedisError as exc:
            raise StoreUnavailable(f"cannot reach Redis: {exc}") from exc

    # --- releases -------------------------------------------------------------------------

    def save_release(
        self, release_id: str, release_json: dict[str, Any], rendered: dict[str, Any]
    ) -> None:
        """Store a release and its rendered payloads (what is previewed is what is sent)."""
        group = release_json.get("translation_of") or release_id
        pipe = self.redis.pipeline()
        pipe.hset(
            k_release(release_id),
            mapping={
                "release": json.dumps(release_json, ensure_ascii=False),
                "rendered": json.dumps(rendered, ensure_ascii=False),
                "group": group,
                "language": release_json.get("language", "en"),
            },
        )
        pipe.hsetnx(k_release(release_id), "status", "draft")
        pipe.zadd(K_RELEASES, {release_id: time.time()}, nx=True)
        pipe.hset(k_group(group), release_json.get("language", "en"), release_id)
        pipe.execute()

    def release_field(self, release_id: str, name: str) -> str | None:
        value = self.redis.hget(k_release(release_id), name)
        return _decode(value) if value is not None else None

    def release_exists(self, release_id: str) -> bool:
        return bool(self.redis.exists(k_release(release_id)))

    def load_release_json(self, release_id: str) -> dict[str, Any]:
        raw = self.release_field(release_id, "release")
        return cast(dict[str, Any], json.loads(raw)) if raw else {}

    def load_rendered(self, release_id: str) -> dict[str, Any]:
        raw = self.release_field(release_id, "rendered")
        return cast(dict[str, Any], json.loads(raw)) if raw else {}

    def set_release_fields(self, release_id: str, **fields: str | float) -> None:
        self.redis.hset(k_release(release_id), mapping=dict(fields))

    def mark_fanned_out(self, release_id: str) -> bool:
        """True for the one caller that fans a release out; False if it already was."""
        return bool(self.redis.hsetnx(k_release(release_id), "fanned_out", str(time.time())))

    def translations(self, group_id: str) -> dict[str, str]:
        """Language -> release id of every version of a release."""
        raw = self.redis.hgetall(k_group(group_id))
        return {_decode(k): _decode(v) for k, v in raw.items()}

    # --- events ---------------------------------------------------------------------------

    def add_event(self, release_id: str, kind: str, who: str, **details: str) -> None:
        """Append to the release's event stream (who did what, when)."""
        self.redis.xadd(k_events(release_id), _event(kind, who, details))

    def events(self, release_id: str) -> list[dict[str, str]]:
        entries = self.redis.xrange(k_events(release_id))
        return [{_decode(k): _decode(v) for k, v in fields.items()} for _, fields in entries]

    # --- schedule -------------------------------------------------------------------------

    def schedule(self, release_id: str, at_epoch: float) -> None:
        self.redis.zadd(K_SCHEDULE, {release_id: at_epoch})

    def unschedule(self, release_id: str) -> bool:
        return bool(self.redis.zrem(K_SCHEDULE, release_id))

    def take_due(self, now: float) -> list[str]:
        """Scheduled releases that are due, each handed to exactly one caller."""
        due = [_decode(r) for r in self.redis.zrangebyscore(K_SCHEDULE, "-inf", now)]
        return [r for r in due if self.redis.zrem(K_SCHEDULE, r)]

    def scheduled_at(self, release_id: str) -> float | None:
        score = self.redis.zscore(K_SCHEDULE, release_id)
        return float(score) if score is not None else None

    # --- recipients -----------------------------------------------------------------------

    def add_recipients(self, channel: str, entries: dict[str, dict[str, Any]]) -> tuple[int, int]:
        """Add or update recipients; suppressed ones are not added back. (added, suppressed)."""
        suppressed = self.suppressed(channel, list(entries))
        keep = {
            a: json.dumps(v, ensure_ascii=False) for a, v in entries.items() if a not in suppressed
        }
        if keep:
            self.redis.hset(k_recipients(channel), mapping=keep)
        return len(keep), len(entries) - len(keep)

    def recipients(self, channel: str) -> dict[str, dict[str, Any]]:
        raw = self.redis.hgetall(k_recipients(channel))
        return {_decode(a): json.loads(v) for a, v in raw.items()}

    def recipient_info(self, channel: str, addresses: list[str]) -> dict[str, dict[str, Any]]:
        """Name, language and choices of each address (empty for the channel or account)."""
        if channel not in ("telegram", "email") or not addresses:
            return {a: {} for a in addresses}
        values = self.redis.hmget(k_recipients(channel), addresses)
        return {a: json.loads(v) if v else {} for a, v in zip(addresses, values, strict=True)}

    def suppress(self, channel: str, address: str, reason: str) -> None:
        """Remove a recipient for good (blocked, unsubscribed, bounced): no import re-adds it."""
        pipe = self.redis.pipeline()
        pipe.hset(k_suppressed(channel), address, reason)
        pipe.hdel(k_recipients(channel), address)
        pipe.execute()

    def suppressed(self, channel: str, addresses: list[str]) -> set[str]:
        if not addresses:
            return set()
        found = self.redis.hmget(k_suppressed(channel), addresses)
        return {a for a, v in zip(addresses, found, strict=True) if v is not None}

    # --- deliveries -----------------------------------------------------------------------

    def create_batch(
        self, release_id: str, channel: str, recipients: list[str]
    ) -> tuple[str | None, int]:
        """Queue a record per new recipient, as one batch: (its id, or None if none was new;
        how many were new). Existing records are left alone."""
        keys = self._batch_keys(release_id, channel) + [k_records(release_id, channel)]
        batch_id, fresh = self._create(keys=keys, args=[time.time(), QUEUED, *recipients])
        return (_decode(batch_id) or None), int(fresh)

    def create_records(
        self, release_id: str, channel: str, recipients: list[str], batch_size: int
    ) -> int:
        """Queue one record per recipient, in batches; returns how many were new."""
        added = 0
        for chunk in _chunks(recipients, batch_size):
            added += self.create_batch(release_id, channel, chunk)[1]
        self.mark_channel_queued(release_id, channel)
        return added

    def mark_channel_queued(self, release_id: str, channel: str) -> None:
        """Every record of the channel is queued: counts exist (even at zero), the tick
        watches it."""
        self.redis.hsetnx(k_counts(release_id, channel), "pending", 0)
        self.redis.sadd(K_ACTIVE, f"{release_id} {channel}")

    def recipient_count(self, channel: str) -> int:
        return int(self.redis.hlen(k_recipients(channel)))

    def iter_recipients(self, channel: str) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every recipient of a channel with its choices, read a page at a time."""
        for address, raw in self.redis.hscan_iter(k_recipients(channel), count=1000):
            yield _decode(address), json.loads(raw)

    def queued_batches(self, release_id: str, channel: str) -> list[str]:
        """Batches no task has claimed yet, oldest first."""
        return [_decode(b) for b in self.redis.zrange(k_batch_queue(release_id, channel), 0, -1)]

    def batch_recipients(self, release_id: str, channel: str, batch_id: str) -> list[str]:
        raw = self.redis.hget(k_batches(release_id, channel), batch_id)
        return cast(list[str], json.loads(raw)) if raw else []

    def _batch_keys(self, release_id: str, channel: str) -> list[str]:
        return [
            k_counts(release_id, channel),
            k_batches(release_id, channel),
            k_batch_queue(release_id, channel),
        ]

    def reap(
        self,
        release_id: str,
        channel: str,
        include_queued: bool,
        batch_size: int = 500,
        limit: int = 5000,
    ) -> list[str]:
        """Overdue work back in batches; returns the batch ids to dispatch."""
        keys = self._batch_keys(release_id, channel) + [
            k_records(release_id, channel),
            k_leases(release_id, channel),
        ]
        args = [time.time(), QUEUE_GRACE_S, int(include_queued), limit, batch_size]
        return [_decode(v) for v in self._reap(keys=keys, args=args)]

    def requeue(
        self, release_id: str, channel: str, from_state: str, batch_size: int = 500
    ) -> tuple[list[str], list[str]]:
        """Paused (resume) or failed (--retry-failed) records back to queued.

        Returns (the batch ids to dispatch, the recipients re-queued).
        """
        if from_state == "paused":
            candidates = [_decode(r) for r in self.redis.smembers(k_paused(release_id, channel))]
        else:
            candidates = [_decode(r) for r in self.redis.hkeys(k_failures(release_id, channel))]
        keys = self._batch_keys(release_id, channel) + [
            k_records(release_id, channel),
            k_paused(release_id, channel),
            k_failures(release_id, channel),
        ]
        batches: list[str] = []
        requeued: list[str] = []
        for chunk in _chunks(candidates, batch_size):
            out = [
                _decode(v) for v in self._requeue(keys=keys, args=[time.time(), from_state, *chunk])
            ]
            if out[0]:
                batches.append(out[0])
            requeued += out[1:]
        if requeued:
            self.redis.sadd(K_ACTIVE, f"{release_id} {channel}")
        return batches, requeued

    def counts(self, release_id: str, channel: str) -> dict[str, int]:
        raw = self.redis.hgetall(k_counts(release_id, channel))
        values = {_decode(k): int(v) for k, v in raw.items()}
        return {name: values.get(name, 0) for name in (*COUNT_FIELDS, "gone", "total")}

    def records(self, release_id: str, channel: str) -> Iterator[DeliveryRecord]:
        seen: set[str] = set()
        for key in (k_records(release_id, channel), k_failures(release_id, channel)):
            for r, raw in self.redis.hscan_iter(key, count=1000):
                recipient = _decode(r)
                if recipient in seen:
                    continue
                seen.add(recipient)
                rec = json.loads(raw)
                yield DeliveryRecord(
                    channel,
                    recipient,
                    rec[0],
                    int(rec[1]),
                    [str(i) for i in rec[2]],
                    rec[3],
                    bool(rec[4]),
                )

    def channel_state(self, release_id: str, channel: str) -> dict[str, str]:
        raw = self.redis.hgetall(k_channel_state(release_id, channel))
        return {_decode(k): _decode(v) for k, v in raw.items()}

    def set_channel_state(self, release_id: str, channel: str, **fields: str) -> None:
        self.redis.hset(k_channel_state(release_id, channel), mapping=dict(fields))

    def clear_channel_state(self, release_id: str, channel: str, *names: str) -> None:
        self.redis.hdel(k_channel_state(release_id, channel), *names)

    def active(self) -> list[tuple[str, str]]:
        pairs = [_decode(v).split(" ", 1) for v in self.redis.smembers(K_ACTIVE)]
        return [(p[0], p[1]) for p in pairs]

    def retire(self, release_id: str, channel: str, ttl_s: float) -> None:
        """A channel with nothing pending: expire its per-recipient records after the TTL."""
        pipe = self.redis.pipeline()
        pipe.srem(K_ACTIVE, f"{release_id} {channel}")
        pipe.expire(k_records(release_id, channel), max(1, int(ttl_s)))
        pipe.delete(
            k_leases(release_id, channel),
            k_batches(release_id, channel),
            k_batch_queue(release_id, channel),
        )
        pipe.execute()

    def release_channels(self, release_id: str) -> list[str]:
        return cast(list[str], json.loads(self.release_field(release_id, "channels") or "[]"))

    def maybe_mark_published(self, release_id: str) -> bool:
        """Once every channel has nothing pending, the release is published (said once)."""
        for channel in self.release_channels(release_id):
            counts = self.counts(release_id, channel)
            if counts["pending"] or counts["paused"]:
                return False
        if self.redis.hsetnx(k_release(release_id), "finished_at", str(time.time())):
            self.set_release_fields(release_id, status="published")
            self.add_event(release_id, "finished", "system")
        return True

    def acquire_lock(self, key: str, ttl_s: float) -> bool:
        return bool(self.redis.set(key, uuid.uuid4().hex, nx=True, px=int(ttl_s * 1000)))

    def heartbeat_age(self) -> float:
        value = self.redis.get(K_HEARTBEAT)
        return time.time() - float(value) if value else float("inf")


class RedisMediaCache:
    """Per-release cache of uploaded media ids (Telegram's file_id), shared by all workers."""

    def __init__(self, client: Any, release_id: str) -> None:
        self.redis = client
        self.key = k_media(release_id)

    async def get(self, key: str) -> str | None:
        value = await self.redis.hget(self.key, key)
        return _decode(value) if value is not None else None

    async def set(self, key: str, value: str) -> None:
        await self.redis.hset(self.key, key, value)


class Ledger:
    """A running batch's side of the delivery records, on redis.asyncio.

    Everything a batch reads and writes while its sends are in flight (claims, starts, outcomes,
    leases, a pause) goes through here, so the event loop keeps sending while Redis answers.
    """

    def __init__(self, client: redis.asyncio.Redis) -> None:
        self.redis: Any = client
        self._claim = client.register_script(lua.CLAIM)
        self._start = client.register_script(lua.START)
        self._finish = client.register_script(lua.FINISH)
        self._parts = client.register_script(lua.PARTS)

    async def claim(
        self, release_id: str, channel: str, batch_id: str, token: str, lease_s: float
    ) -> dict[str, tuple[int, list[str]]]:
        """Claim a batch; returns recipient -> (attempts so far, ids of the parts already sent)."""
        now = time.time()
        keys = [
            k_records(release_id, channel),
            k_leases(release_id, channel),
            k_batches(release_id, channel),
            k_batch_queue(release_id, channel),
        ]
        out = await self._claim(keys=keys, args=[now, now + lease_s, token, batch_id])
        pairs = [_decode(v) for v in out]
        claimed: dict[str, tuple[int, list[str]]] = {}
        for i in range(0, len(pairs), 2):
            attempts, ids = json.loads(pairs[i + 1])
            claimed[pairs[i]] = (int(attempts), [str(x) for x in ids])
        return claimed

    async def start(
        self, release_id: str, channel: str, recipients: list[str], token: str
    ) -> list[str]:
        """Mark claimed records as sending (their requests are about to start)."""
        out = await self._start(keys=[k_records(release_id, channel)], args=[token, *recipients])
        return [_decode(v) for v in out]

    async def renew(
        self, release_id: str, channel: str, recipients: list[str], lease_s: float
    ) -> None:
        if recipients:
            until = time.time() + lease_s
            await self.redis.zadd(
                k_leases(release_id, channel), dict.fromkeys(recipients, until), xx=True
            )

    async def record_parts(
        self, release_id: str, channel: str, recipient: str, ids: list[str]
    ) -> None:
        await self._parts(keys=[k_records(release_id, channel)], args=[recipient, json.dumps(ids)])

    async def finish(
        self,
        release_id: str,
        channel: str,
        outcomes: list[Outcome],
        token: str = "",
        then_start: list[str] | None = None,
    ) -> list[str]:
        """Record outcomes (one round trip for the lot), update the counts and the heartbeat;
        then mark `then_start` as sending, as `start` does. Returns the recipients started."""
        if not outcomes and not then_start:
            return []
        args: list[Any] = [time.time(), token, len(outcomes)]
        for o in outcomes:
            marker = "gone" if o.gone else str(o.due)
            args += [o.recipient, o.state, json.dumps(o.platform_ids), o.error[:500], marker]
        args += then_start or []
        keys = [
            k_records(release_id, channel),
            k_leases(release_id, channel),
            k_counts(release_id, channel),
            k_failures(release_id, channel),
            k_paused(release_id, channel),
            K_HEARTBEAT,
        ]
        return [_decode(v) for v in await self._finish(keys=keys, args=args)]

    async def channel_state(self, release_id: str, channel: str) -> dict[str, str]:
        raw = await self.redis.hgetall(k_channel_state(release_id, channel))
        return {_decode(k): _decode(v) for k, v in raw.items()}

    async def pause(self, release_id: str, channel: str, reason: str) -> None:
        """A channel-wide fault: every batch of this channel stops, `resume` continues it."""
        pipe = self.redis.pipeline()
        pipe.hset(k_channel_state(release_id, channel), "paused", reason)
        details = {"channel": channel, "reason": reason}
        pipe.xadd(k_events(release_id), _event("paused", "system", details))
        await pipe.execute()

    async def suppress(self, channel: str, address: str, reason: str) -> None:
        """See `Store.suppress`."""
        pipe = self.redis.pipeline()
        pipe.hset(k_suppressed(channel), address, reason)
        pipe.hdel(k_recipients(channel), address)
        await pipe.execute()

    def media(self, release_id: str) -> RedisMediaCache:
        return RedisMediaCache(self.redis, release_id)


def _event(kind: str, who: str, details: dict[str, str]) -> Any:
    return {"type": kind, "who": who, "at": f"{time.time():.3f}", **details}


QUEUE_GRACE_S = 20.0
QUEUED = json.dumps(["queued", 0, [], "", 0, ""])


def new_token() -> str:
    return uuid.uuid4().hex[:12]


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
