"""What a worker process keeps between tasks: one event loop, the store, one sender per channel.

Created lazily in each worker process (after Celery forks), so connections are never shared
across processes; the event loop lives as long as the process, so the aiohttp session of the
Telegram sender and its keep-alive connections serve every batch.

Each process is the *owner* of the claims its batch tasks take, under a name that says where it
runs (`owner_name`: this kernel boot and pid namespace, its pid and its start time), and keeps a
heartbeat in Redis from a thread of its own. The tick releases at once the claims of an owner
that is dead (`owner_alive`), so a broadcast whose worker was killed goes on within a tick of a
worker being there, not a lease later. Dead means, for an owner on this host, that its process
is gone (a stopped or busy process is alive, whatever its heartbeat: its claims wait for their
lease); for an owner elsewhere, that its heartbeat stopped. Either way, a released task that
comes back can finish only the sends it had in flight (`publisher.delivery`), and a send that
waited through a stall of its process checks its claim first (`SharedThrottle`).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import logging
import os
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

import redis

from publisher import channels
from publisher.channels.base import Channel, Recipient, Sender, Throttle
from publisher.delivery import LEASE_S, BatchRun
from publisher.errors import StoreUnavailable, TransientDeliveryError, UnknownChannelError
from publisher.fanout import fan_out
from publisher.links import unsubscribe_url
from publisher.logs import log_event
from publisher.ratelimit import SlidingWindowLimiter
from publisher.redis_server import connect, connect_async
from publisher.settings import Settings, get_settings
from publisher.store import K_REAPER_LOCK, Ledger, Store, k_rate

log = logging.getLogger(__name__)

HEARTBEAT_S = 1.0  # how often an owner says it is alive
HEARTBEAT_TTL_S = 5.0  # how long one beat lasts: a process that runs at all beats well within it


class Runtime:
    """Per-process state of a worker."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or get_settings()
        self.store = Store(connect(self.settings))
        self.owner = owner_name()
        # PUBLISHER_LEASE_S: how long a claim holds without renewal (tests shorten it).
        self.lease_s = float(os.environ.get("PUBLISHER_LEASE_S") or LEASE_S)
        self.heartbeat = Heartbeat(Store(connect(self.settings, socket_timeout=2.0)), self.owner)
        self.heartbeat.start()
        self.loop = new_event_loop()
        # One asyncio client for everything the event loop does: batches' records, the limiter.
        self.async_redis = connect_async(self.settings)
        self.ledger = Ledger(self.async_redis)
        self.senders: dict[str, Sender] = {}
        self.payloads: OrderedDict[tuple[str, str], dict[str, Any]] = OrderedDict()

    def sender(self, channel: str) -> Sender:
        if channel not in self.senders:
            declaration = channels.get(channel)
            sender = declaration.make_sender(self.settings, self.throttle(declaration))
            self.loop.run_until_complete(sender.start())
            self.senders[channel] = sender
        return self.senders[channel]

    def throttle(self, channel: type[Channel]) -> Throttle | None:
        """The channel's shared limit (TELEGRAM_RATE_LIMIT for the bot), and per recipient."""
        rate_per_s = channel.rate_limit_per_s(self.settings)
        if rate_per_s is None:
            return None
        key = k_rate(channel.rate_limit_key(self.settings))
        limiter = SlidingWindowLimiter.for_rate(self.async_redis, key, rate_per_s)
        return SharedThrottle(limiter, channel, self.heartbeat)

    def payload(self, release_id: str, channel: str) -> dict[str, Any]:
        key = (release_id, channel)
        if key not in self.payloads:
            rendered = self.store.load_rendered(release_id)
            self.payloads[key] = rendered["channels"][channel]
            while len(self.payloads) > 32:
                self.payloads.popitem(last=False)
        return self.payloads[key]

    def deliver(self, release_id: str, channel: str, batch_id: str) -> dict[str, int]:
        """Send one batch; the body of the `deliver` task."""
        settings = self.settings
        declaration = channels.get(channel)
        fixed = set(declaration.fixed_recipients(settings))

        def lookup(addresses: list[str]) -> dict[str, Recipient]:
            info = self.store.recipient_info(channel, addresses)
            found = {
                a: Recipient(a, i.get("name", ""), i.get("language", "")) for a, i in info.items()
            }
            for address in fixed.intersection(found):  # the account, the channel: no choices
                found[address] = Recipient(address)
            return found

        run = BatchRun(
            self.ledger,
            self.sender(channel),
            settings,
            release_id,
            channel,
            self.payload(release_id, channel),
            lookup,
            unsubscribe_url=(lambda a: unsubscribe_url(channel, a, settings))
            if declaration.personal_links
            else None,
            owner=self.owner,
            lease_s=self.lease_s,
        )
        return self.loop.run_until_complete(run.run(batch_id))

    def publish(self, release_id: str, dispatch: Any) -> dict[str, int]:
        """Fan a release out (the body of the `publish` task)."""
        if self.store.release_field(release_id, "status") == "cancelled":
            return {}
        names = json.loads(self.store.release_field(release_id, "channels") or "[]")
        try:
            return fan_out(self.store, self.settings, release_id, names, dispatch)
        except UnknownChannelError as exc:
            # This worker lacks a declaration (PUBLISHER_CHANNELS differs between processes):
            # nothing was fanned out; the release waits, paused, until `resume` after the fix.
            reason = f"{exc}; set the same PUBLISHER_CHANNELS on every process, then resume"
            for name in names:
                if name not in channels.names():
                    self.store.set_channel_state(release_id, name, paused=reason)
            self.store.add_event(release_id, "paused", "system", reason=reason)
            log_event(log, logging.ERROR, "channel paused", release_id=release_id, reason=reason)
            return {}

    def tick(self, dispatch: Any, publish: Any, broker_idle: bool) -> dict[str, int]:
        """Release due schedules, re-queue overdue work, retire finished channels."""
        if not self.store.acquire_lock(K_REAPER_LOCK, 1.5):
            return {}
        due = self.store.take_due(time.time())
        for release_id in due:
            publish(release_id)
        requeued = released = 0
        ttl_s = self.settings.publisher_record_ttl_days * 86400
        for release_id, channel in self.store.active():
            released += self.release_dead_claims(release_id, channel)
            size = channels.get(channel).batch_size_for(self.settings)
            batches = self.store.reap(release_id, channel, broker_idle, size)
            for batch_id in batches:
                dispatch(release_id, channel, batch_id)
            requeued += len(batches)
            counts = self.store.counts(release_id, channel)
            if counts["pending"] == 0 and counts["paused"] == 0:
                self.store.retire(release_id, channel, ttl_s)
                self.store.maybe_mark_published(release_id)
        return {"released": len(due), "batches_requeued": requeued, "claims_released": released}

    def release_dead_claims(self, release_id: str, channel: str) -> int:
        """Release the claims of the channel's batch tasks whose owner is dead (see the module
        docstring); returns how many records they held (the reap that follows re-queues them)."""
        owners = self.store.claim_owners(release_id, channel)
        if not owners:
            return 0
        beating = self.store.beating(sorted(set(owners.values())))
        dead = {t: o for t, o in owners.items() if not owner_alive(o, o in beating)}
        if not dead:
            return 0
        released = self.store.release_claims(release_id, channel, sorted(dead))
        log_event(
            log,
            logging.WARNING,
            "claims of a dead worker released",
            release_id=release_id,
            channel=channel,
            owners=",".join(sorted(set(dead.values()))),
            records=released,
        )
        return released


class Heartbeat:
    """A daemon thread that says every HEARTBEAT_S that this process (a claim owner) is alive.

    A thread, not the event loop: a batch that keeps its loop busy, or a synchronous call in a
    task, must not look like a death. It stops with the process (SIGKILL), and also while the
    process is stopped (SIGSTOP), which is why an owner on this host is judged by its process,
    not by this beat.

    It also tells the process that it was stalled (`stalled_since`): a gap of more than
    HEARTBEAT_TTL_S between two of its turns means that others may have taken its claims.
    """

    def __init__(self, store: Store, owner: str) -> None:
        self.store = store
        self.owner = owner
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="claim-heartbeat", daemon=True)
        self._failing = False
        self.turn_s = time.monotonic()  # the thread's last turn
        self.stalls = 0  # gaps longer than HEARTBEAT_TTL_S between its turns so far

    def start(self) -> None:
        self._beat()  # before the first claim
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def stalled_since(self, stalls: int) -> bool:
        """Has the process stalled since `stalls` was read (or is it only now waking up)?"""
        # turn_s first: the thread counts a stall before it moves turn_s on.
        late = time.monotonic() - self.turn_s > HEARTBEAT_TTL_S
        return late or self.stalls != stalls

    def _run(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            now = time.monotonic()
            if now - self.turn_s > HEARTBEAT_TTL_S:
                self.stalls += 1
            self.turn_s = now
            self._beat()

    def _beat(self) -> None:
        try:
            self.store.heartbeat(self.owner, HEARTBEAT_TTL_S)
        except StoreUnavailable as exc:  # Redis restarting: the claims' leases still hold
            if not self._failing:
                fields = {"owner": self.owner, "error": str(exc)}
                log_event(log, logging.WARNING, "heartbeat failed", **fields)
            self._failing = True
        else:
            self._failing = False


@functools.lru_cache(maxsize=1)
def host_namespace() -> str:
    """Names the pid space this process sees: its kernel boot and pid namespace ('' when it
    cannot be known). Two processes with the same value can look each other's pids up."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        namespace = os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return ""
    return hashlib.sha1(f"{boot}:{namespace}".encode()).hexdigest()[:10]


def _start_ticks(pid: int) -> str | None:
    """When process `pid` started (clock ticks since boot), or None if it is gone or a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            raw = handle.read().decode()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()  # from the 3rd field on: state, ppid, ...
    if fields[0] in ("Z", "X"):
        return None
    return fields[19]  # the 22nd field: starttime


def owner_name(pid: int | None = None) -> str:
    """This process as a claim owner: `{host namespace}.{pid}.{start time}`."""
    pid = os.getpid() if pid is None else pid
    return f"{host_namespace()}.{pid}.{_start_ticks(pid) or 0}"


def owner_alive(owner: str, beating: bool) -> bool:
    """Is the owner of a claim alive? On this host its process says so (a stopped or slow
    process is alive; one gone, or a new process under its pid, is not), whatever its
    heartbeat; elsewhere, its heartbeat."""
    namespace, _, rest = owner.partition(".")
    pid, _, started = rest.partition(".")
    if namespace and namespace == host_namespace() and pid.isdigit():
        return _start_ticks(int(pid)) == started
    return beating


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop's loop where it is installed (not on Windows): less CPU per send than asyncio's."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


class SharedThrottle:
    """Waits for a slot in the channel's shared window and in the recipient's own limits.

    A send whose wait spanned a stall of this process (SIGSTOP, a machine that froze) is not
    made at once: it raises a transient error, so the engine checks that its claim still holds
    before trying again (the stall may have outlasted the claim, and another worker may be
    sending it now).
    """

    def __init__(
        self,
        limiter: SlidingWindowLimiter,
        channel: type[Channel],
        heartbeat: Heartbeat | None = None,
    ) -> None:
        self.limiter = limiter
        self.channel = channel
        self.heartbeat = heartbeat

    async def before_send(self, chat: str, consecutive: bool = False) -> None:
        stalls = self.heartbeat.stalls if self.heartbeat is not None else 0
        try:
            await self.limiter.acquire(*self.channel.recipient_scopes(chat, consecutive))
        except redis.RedisError as exc:  # Redis restarting: wait, don't send unthrottled
            raise TransientDeliveryError(f"rate limiter unavailable: {exc}", 1.0) from exc
        if self.heartbeat is not None and self.heartbeat.stalled_since(stalls):
            raise TransientDeliveryError("this worker stalled before the send: claim checked", 0.0)


_runtime: Runtime | None = None


def runtime() -> Runtime:
    """This process's runtime, made on first use (after the fork)."""
    global _runtime
    if _runtime is None:
        _runtime = Runtime()
    return _runtime
