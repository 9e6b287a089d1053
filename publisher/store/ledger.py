"""The delivery ledger: a record per (release, channel, recipient), in batches, under leases.

A record (`publisher.store.records`) moves through

    queued -> claimed (a batch task owns it, under a lease)
           -> sending (the request may have left) -> sent | failed | skipped
    claimed/sending -> retry (transient error; due again later) -> claimed ...
    any pending state -> paused (channel-wide fault) -> queued again on `resume`

Queued recipients belong to a batch (a few hundred recipients, one `deliver` task): the batch
is kept, with when it was dispatched, until a task claims it; so a queued record costs its
recipient id once in a list, not an entry of its own in an index. Claimed, sending and retrying
recipients sit in the leases sorted set, scored by when something must happen to them (a lease
expiry, a retry time). The reaper puts what is overdue back in new batches, and dispatches
long-waiting batches again only when the broker's queue is empty (their task was lost with a
killed worker). A lease that expires while `sending` means the send may have happened: the
record is flagged as a possible duplicate before it is sent again. Every transition runs in Lua
(`publisher.store.scripts`), a batch at a time.

A claim's token is registered under its owner, the worker process running the task, which keeps
a heartbeat (`heartbeat`, `beating`). The tick asks who owns the running claims
(`claim_owners`) and releases at once those of an owner that is dead (`release_claims`), rather
than waiting out their lease; how death is told from a stall is the runtime's
(`publisher.runtime`). A released task can no longer start, renew or record anything but a
`sent`: its sends in flight are the only ones that can be doubled, and they are flagged.

`Deliveries` is the synchronous side (fan-out, the tick, status); `Ledger` is a running batch's
side, on redis.asyncio, and is the worker's hot path: nothing is added to its calls.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable, Iterator
from typing import Any, cast

import orjson
import redis
import redis.asyncio

from publisher.store import scripts as lua
from publisher.store.base import decode, event_fields
from publisher.store.bounces import bounce_field
from publisher.store.keys import (
    K_ACTIVE,
    K_OWNERS,
    active_member,
    k_batch_queue,
    k_batches,
    k_bounces,
    k_channel_state,
    k_claims,
    k_counts,
    k_events,
    k_failures,
    k_heartbeat,
    k_leases,
    k_media,
    k_paused,
    k_recipient_events,
    k_records,
    k_release,
)
from publisher.store.recipients import recipient_keys, suppression_json
from publisher.store.records import COUNT_FIELDS, QUEUED, DeliveryRecord, Outcome
from publisher.store.releases import Releases

# A batch dispatched longer ago than this, with the broker's queue empty, was lost (its task
# was reserved by a worker that died): a worker claims a batch moments after it takes the task,
# and a batch dispatched twice is claimed once, so a short grace costs nothing.
QUEUE_GRACE_S = 5.0
# An owner silent this long leaves the list of who was seen (each restart is a new owner).
OWNERS_KEPT_S = 3600.0


class Deliveries(Releases):
    """Creating records in batches, reaping and re-queueing them, counting and listing them."""

    def __init__(self, client: redis.Redis) -> None:
        super().__init__(client)
        self._create = client.register_script(lua.CREATE)
        self._reap = client.register_script(lua.REAP)
        self._requeue = client.register_script(lua.REQUEUE)
        self._release = client.register_script(lua.RELEASE)

    def create_batch(
        self, release_id: str, channel: str, recipients: list[str]
    ) -> tuple[str | None, int]:
        """Queue a record per new recipient, as one batch: (its id, or None if none was new;
        how many were new). Existing records are left alone."""
        keys = [*_batch_keys(release_id, channel), k_records(release_id, channel)]
        batch_id, fresh = self._create(keys=keys, args=[time.time(), QUEUED, *recipients])
        return (decode(batch_id) or None), int(fresh)

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
        self.redis.sadd(K_ACTIVE, active_member(release_id, channel))

    def queued_batches(self, release_id: str, channel: str) -> list[str]:
        """Batches no task has claimed yet, oldest first."""
        return [decode(b) for b in self.redis.zrange(k_batch_queue(release_id, channel), 0, -1)]

    def batch_recipients(self, release_id: str, channel: str, batch_id: str) -> list[str]:
        raw = self.redis.hget(k_batches(release_id, channel), batch_id)
        return cast(list[str], json.loads(raw)) if raw else []

    def acquire_lock(self, key: str, ttl_s: float) -> bool:
        """Take a lock that expires by itself after ``ttl_s``; False if someone holds it."""
        return bool(self.redis.set(key, uuid.uuid4().hex, nx=True, px=int(ttl_s * 1000)))

    def reap(
        self,
        release_id: str,
        channel: str,
        include_queued: bool,
        batch_size: int = 500,
        limit: int = 5000,
    ) -> list[str]:
        """Overdue work back in batches; returns the batch ids to dispatch (with
        `include_queued`, also batches dispatched longer than QUEUE_GRACE_S ago)."""
        keys = [
            *_batch_keys(release_id, channel),
            k_records(release_id, channel),
            k_leases(release_id, channel),
        ]
        args = [time.time(), QUEUE_GRACE_S, int(include_queued), limit, batch_size]
        return [decode(v) for v in self._reap(keys=keys, args=args)]

    def heartbeat(self, owner: str, ttl_s: float) -> None:
        """Say that claim owner `owner` (a worker process) is alive for the next `ttl_s`, and
        note when it was last seen (`owners_seen`); one round trip, as one beat was before."""
        now = time.time()
        pipe = self.redis.pipeline(transaction=False)
        pipe.set(k_heartbeat(owner), b"1", px=max(1, int(ttl_s * 1000)))
        pipe.zadd(K_OWNERS, {owner: now})
        pipe.zremrangebyscore(K_OWNERS, "-inf", now - OWNERS_KEPT_S)
        pipe.execute()

    def owners_seen(self, within_s: float) -> list[str]:
        """The claim owners (worker processes) whose last beat is at most `within_s` old."""
        seen = self.redis.zrangebyscore(K_OWNERS, time.time() - within_s, "+inf")
        return [decode(owner) for owner in seen]

    def beating(self, owners: list[str]) -> set[str]:
        """The owners among `owners` whose heartbeat has not expired."""
        if not owners:
            return set()
        pipe = self.redis.pipeline(transaction=False)
        for owner in owners:
            pipe.exists(k_heartbeat(owner))
        return {o for o, alive in zip(owners, pipe.execute(), strict=True) if alive}

    def claim_owners(self, release_id: str, channel: str) -> dict[str, str]:
        """The channel's running batch tasks: claim token -> owner."""
        raw = self.redis.hgetall(k_claims(release_id, channel))
        return {decode(k): decode(v) for k, v in raw.items()}

    def release_claims(self, release_id: str, channel: str, tokens: list[str]) -> int:
        """Make the claims of `tokens` (tasks whose owner died) due at once, for `reap` to put
        back in batches; returns how many records they held."""
        if not tokens:
            return 0
        keys = [
            k_records(release_id, channel),
            k_leases(release_id, channel),
            k_claims(release_id, channel),
        ]
        return int(self._release(keys=keys, args=tokens))

    def requeue(
        self, release_id: str, channel: str, from_state: str, batch_size: int = 500
    ) -> tuple[list[str], list[str]]:
        """Paused (resume) or failed (--retry-failed) records back to queued.

        Returns (the batch ids to dispatch, the recipients re-queued).
        """
        if from_state == "paused":
            candidates = [decode(r) for r in self.redis.smembers(k_paused(release_id, channel))]
        else:
            candidates = [decode(r) for r in self.redis.hkeys(k_failures(release_id, channel))]
        keys = [
            *_batch_keys(release_id, channel),
            k_records(release_id, channel),
            k_paused(release_id, channel),
            k_failures(release_id, channel),
        ]
        batches: list[str] = []
        requeued: list[str] = []
        for chunk in _chunks(candidates, batch_size):
            args: list[Any] = [time.time(), from_state, *chunk]
            out = [decode(v) for v in self._requeue(keys=keys, args=args)]
            if out[0]:
                batches.append(out[0])
            requeued += out[1:]
        if requeued:
            self.redis.sadd(K_ACTIVE, active_member(release_id, channel))
        return batches, requeued

    def counts(self, release_id: str, channel: str) -> dict[str, int]:
        raw = self.redis.hgetall(k_counts(release_id, channel))
        values = {decode(k): int(v) for k, v in raw.items()}
        return {name: values.get(name, 0) for name in (*COUNT_FIELDS, "gone", "total")}

    def records(self, release_id: str, channel: str) -> Iterator[DeliveryRecord]:
        """Every recipient's record, read a page at a time (failed ones outlive the TTL)."""
        seen: set[str] = set()
        for key in (k_records(release_id, channel), k_failures(release_id, channel)):
            for r, raw in self.redis.hscan_iter(key, count=1000):
                recipient = decode(r)
                if recipient in seen:
                    continue
                seen.add(recipient)
                yield DeliveryRecord.from_stored(channel, recipient, raw)

    def record(self, release_id: str, channel: str, recipient: str) -> DeliveryRecord | None:
        """One recipient's record, read alone (a channel's one account, say)."""
        raw = self.redis.hget(k_records(release_id, channel), recipient)
        if raw is None:
            raw = self.redis.hget(k_failures(release_id, channel), recipient)
        return None if raw is None else DeliveryRecord.from_stored(channel, recipient, raw)

    def channel_state(self, release_id: str, channel: str) -> dict[str, str]:
        raw = self.redis.hgetall(k_channel_state(release_id, channel))
        return {decode(k): decode(v) for k, v in raw.items()}

    def set_channel_state(self, release_id: str, channel: str, **fields: str) -> None:
        self.redis.hset(k_channel_state(release_id, channel), mapping=dict(fields))

    def clear_channel_state(self, release_id: str, channel: str, *names: str) -> None:
        self.redis.hdel(k_channel_state(release_id, channel), *names)

    def active(self) -> list[tuple[str, str]]:
        """The (release, channel) pairs with pending work."""
        pairs = [decode(v).split(" ", 1) for v in self.redis.smembers(K_ACTIVE)]
        return [(p[0], p[1]) for p in pairs]

    def retire(self, release_id: str, channel: str, ttl_s: float) -> None:
        """A channel with nothing pending: expire its per-recipient records after the TTL."""
        pipe = self.redis.pipeline()
        pipe.srem(K_ACTIVE, active_member(release_id, channel))
        pipe.expire(k_records(release_id, channel), max(1, int(ttl_s)))
        pipe.delete(
            k_leases(release_id, channel),
            k_batches(release_id, channel),
            k_batch_queue(release_id, channel),
            k_claims(release_id, channel),
        )
        pipe.execute()

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


class RedisMediaCache:
    """Per-release cache of uploaded media ids (a platform's id for a file sent once), shared
    by all workers."""

    def __init__(self, client: Any, release_id: str) -> None:
        self.redis = client
        self.key = k_media(release_id)

    async def get(self, key: str) -> str | None:
        value = await self.redis.hget(self.key, key)
        return decode(value) if value is not None else None

    async def set(self, key: str, value: str) -> None:
        await self.redis.hset(self.key, key, value)


class Ledger:
    """A running batch's side of the delivery records, on redis.asyncio.

    Everything a batch reads and writes while its sends are in flight (claims, starts, outcomes,
    leases, a pause) goes through here, so the event loop keeps sending while Redis answers.
    Redis' errors come through as they are: the engine catches them and leases bring the work
    back.
    """

    def __init__(self, client: redis.asyncio.Redis) -> None:
        self.redis: Any = client
        self._claim = client.register_script(lua.CLAIM)
        self._start = client.register_script(lua.START)
        self._finish = client.register_script(lua.FINISH)
        self._parts = client.register_script(lua.PARTS)
        self._renew = client.register_script(lua.RENEW)
        self._suppress = client.register_script(lua.SUPPRESS)
        self._move = client.register_script(lua.MOVE)

    async def claim(
        self,
        release_id: str,
        channel: str,
        batch_id: str,
        token: str,
        lease_s: float,
        owner: str = "",
    ) -> dict[str, tuple[int, list[str], bool]]:
        """Claim a batch; returns recipient -> (attempts so far, ids of the parts already sent,
        possible duplicate: a worker died while sending, so the part after those ids may
        already be on the platform). With an `owner`, the token is registered under it until
        `close_claim`, so the claims are released at once if the owner dies."""
        now = time.time()
        keys = [
            k_records(release_id, channel),
            k_leases(release_id, channel),
            k_batches(release_id, channel),
            k_batch_queue(release_id, channel),
            k_claims(release_id, channel),
        ]
        args: list[Any] = [now, now + lease_s, token, batch_id, owner]
        out = orjson.loads(await self._claim(keys=keys, args=args))
        return {
            str(r): (int(attempts), [str(x) for x in ids], bool(uncertain))
            for r, attempts, ids, uncertain in out
        }

    async def start(
        self, release_id: str, channel: str, recipients: list[str], token: str
    ) -> list[str]:
        """Mark claimed records as sending (their requests are about to start)."""
        out = await self._start(keys=[k_records(release_id, channel)], args=[token, *recipients])
        return [decode(v) for v in out]

    async def renew(
        self, release_id: str, channel: str, recipients: list[str], lease_s: float, token: str
    ) -> int:
        """Extend the lease of those of `recipients` the token still holds; returns how many."""
        if not recipients:
            return 0
        keys = [k_records(release_id, channel), k_leases(release_id, channel)]
        return int(await self._renew(keys=keys, args=[time.time() + lease_s, token, *recipients]))

    async def holds(self, release_id: str, channel: str, recipient: str, token: str) -> bool:
        """Does `token` still hold this recipient's record (a send may start under it)?"""
        raw = await self.redis.hget(k_records(release_id, channel), recipient)
        if raw is None:
            return False
        rec = json.loads(raw)
        return bool(rec[5] == token and rec[0] in ("claimed", "sending"))

    async def close_claim(self, release_id: str, channel: str, token: str) -> None:
        """The task of `token` has ended: its owner no longer answers for it."""
        await self.redis.hdel(k_claims(release_id, channel), token)

    async def record_parts(
        self, release_id: str, channel: str, recipient: str, ids: list[str], token: str = ""
    ) -> bool:
        """Record the ids of the parts sent so far; False if `token` no longer holds the record."""
        keys = [k_records(release_id, channel)]
        return bool(await self._parts(keys=keys, args=[recipient, json.dumps(ids), token]))

    async def finish(
        self,
        release_id: str,
        channel: str,
        outcomes: list[Outcome],
        token: str = "",
        then_start: list[str] | None = None,
    ) -> list[str]:
        """Record outcomes (one round trip for the lot) and update the counts; then mark
        `then_start` as sending, as `start` does. Returns the recipients started."""
        if not outcomes and not then_start:
            return []
        packed = [
            [o.recipient, o.state, o.platform_ids, o.error[:500], "gone" if o.gone else o.due]
            for o in outcomes
        ]
        starts = orjson.dumps(then_start) if then_start else b""
        args: list[Any] = [token, orjson.dumps(packed), starts]
        keys = [
            k_records(release_id, channel),
            k_leases(release_id, channel),
            k_counts(release_id, channel),
            k_failures(release_id, channel),
            k_paused(release_id, channel),
        ]
        return [decode(v) for v in await self._finish(keys=keys, args=args)]

    async def channel_state(self, release_id: str, channel: str) -> dict[str, str]:
        raw = await self.redis.hgetall(k_channel_state(release_id, channel))
        return {decode(k): decode(v) for k, v in raw.items()}

    async def pause(self, release_id: str, channel: str, reason: str) -> None:
        """A channel-wide fault: every batch of this channel stops, `resume` continues it."""
        pipe = self.redis.pipeline()
        pipe.hset(k_channel_state(release_id, channel), "paused", reason)
        details = {"channel": channel, "reason": reason}
        pipe.xadd(k_events(release_id), event_fields("paused", "system", details))
        await pipe.execute()

    async def suppress(self, channel: str, address: str, reason: str, state: str) -> None:
        """See `Store.suppress`; the recipient event says so, with its cause, as the services'
        suppressions do."""
        args = [address, suppression_json(state, reason)]
        await self._suppress(keys=recipient_keys(channel), args=args)
        details = {"address": address, "cause": reason, "state": state}
        await self.redis.xadd(
            k_recipient_events(channel), event_fields("suppressed", "system", details)
        )

    async def count_bounce(self, channel: str, address: str, hard: bool, cause: str) -> int:
        """Count a bounce of `address` at send time (see `Store.count_bounce`) and write it as a
        recipient event; the new count of that kind."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.hincrby(k_bounces(channel), bounce_field(address, hard), 1)
        details = {"address": address, "bounce": "hard" if hard else "soft", "cause": cause}
        pipe.xadd(k_recipient_events(channel), event_fields("bounced", "system", details))
        count, _ = await pipe.execute()
        return int(count)

    async def move_recipient(self, channel: str, old: str, new: str) -> bool:
        """See `Store.move_recipient`."""
        return bool(await self._move(keys=recipient_keys(channel), args=[old, new]))

    def media(self, release_id: str) -> RedisMediaCache:
        return RedisMediaCache(self.redis, release_id)


def _batch_keys(release_id: str, channel: str) -> list[str]:
    """The keys every script that makes batches takes first: counts, batches, batch queue."""
    return [
        k_counts(release_id, channel),
        k_batches(release_id, channel),
        k_batch_queue(release_id, channel),
    ]


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
