"""What a worker process keeps between tasks: one event loop, the store, one sender per channel.

Created lazily in each worker process (after Celery forks), so connections are never shared
across processes; the event loop lives as long as the process, so the aiohttp session of the
Telegram sender and its keep-alive connections serve every batch.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import OrderedDict
from typing import Any

import redis

from publisher import channels
from publisher.channels.base import Channel, Recipient, Sender, Throttle
from publisher.delivery import BatchRun
from publisher.errors import TransientDeliveryError, UnknownChannelError
from publisher.fanout import fan_out
from publisher.links import unsubscribe_url
from publisher.logs import log_event
from publisher.ratelimit import SlidingWindowLimiter
from publisher.redis_server import connect, connect_async
from publisher.settings import Settings, get_settings
from publisher.store import K_REAPER_LOCK, Ledger, Store, k_rate

log = logging.getLogger(__name__)


class Runtime:
    """Per-process state of a worker."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or get_settings()
        self.store = Store(connect(self.settings))
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
        return SharedThrottle(limiter, channel)

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
        requeued = 0
        ttl_s = self.settings.publisher_record_ttl_days * 86400
        for release_id, channel in self.store.active():
            size = channels.get(channel).batch_size_for(self.settings)
            batches = self.store.reap(release_id, channel, broker_idle, size)
            for batch_id in batches:
                dispatch(release_id, channel, batch_id)
            requeued += len(batches)
            counts = self.store.counts(release_id, channel)
            if counts["pending"] == 0 and counts["paused"] == 0:
                self.store.retire(release_id, channel, ttl_s)
                self.store.maybe_mark_published(release_id)
        return {"released": len(due), "batches_requeued": requeued}


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop's loop where it is installed (not on Windows): less CPU per send than asyncio's."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


class SharedThrottle:
    """Waits for a slot in the channel's shared window and in the recipient's own limits."""

    def __init__(self, limiter: SlidingWindowLimiter, channel: type[Channel]) -> None:
        self.limiter = limiter
        self.channel = channel

    async def before_send(self, chat: str, consecutive: bool = False) -> None:
        try:
            await self.limiter.acquire(*self.channel.recipient_scopes(chat, consecutive))
        except redis.RedisError as exc:  # Redis restarting: wait, don't send unthrottled
            raise TransientDeliveryError(f"rate limiter unavailable: {exc}", 1.0) from exc


_runtime: Runtime | None = None


def runtime() -> Runtime:
    """This process's runtime, made on first use (after the fork)."""
    global _runtime
    if _runtime is None:
        _runtime = Runtime()
    return _runtime
