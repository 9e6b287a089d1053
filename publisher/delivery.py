"""Delivery of one batch: claim it, send under the in-flight bound, retry, record outcomes.

The engine side of the pipeline (fan-out is `publisher.fanout`). Celery never appears here: a
worker's task calls `BatchRun.run` through `publisher.runtime`. Exactly once per recipient
rests on the store's claims:

- a batch task claims its recipients under a lease it renews while it runs;
- it marks a few recipients `sending` just before their requests start, so a crash leaves
  only those (at most PUBLISHER_MAX_IN_FLIGHT per process) to be flagged as possible duplicates;
- a send accepted but not yet recorded still holds its in-flight slot until its outcome is
  written, so batching the writes never widens that bound;
- a send starts only under a claim that still holds (the START script checks the token, and
  an inline retry or the next part of a recipient checks again): once the claims of a task
  were released (its lease expired, or its worker was found dead), the task can finish only
  what was already in flight, so even a worker that was stalled and comes back doubles at most
  its in-flight sends, each flagged.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from publisher import channels as channels_registry
from publisher.channels.base import Recipient, SendContext, Sender
from publisher.errors import (
    ChannelFault,
    PermanentDeliveryError,
    RecipientMoved,
    TransientDeliveryError,
)
from publisher.logs import log_event
from publisher.settings import Settings
from publisher.store import Ledger, Outcome, new_token

log = logging.getLogger(__name__)

LEASE_S = 30.0
START_CHUNK = 16
MAX_ATTEMPTS = 5
INLINE_RETRY_LIMIT_S = 20.0
DRY_RUN = "dry run"


class ClaimLost(Exception):
    """Raised when a batch task finds its claim on a recipient gone: another task owns it now."""


class InFlightWindow:
    """At most `limit` sends between 'request started' and 'outcome written to Redis'."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self.changed = asyncio.Condition()

    async def take(self, want: int, at_least: int = 1) -> int:
        """Wait until `at_least` slots are free, then take up to `want` of them."""
        at_least = min(at_least, self.limit)
        async with self.changed:
            await self.changed.wait_for(lambda: self.limit - self.used >= at_least)
            granted = min(want, self.limit - self.used)
            self.used += granted
            return granted

    async def give(self, count: int) -> None:
        async with self.changed:
            self.used -= count
            self.changed.notify_all()


def backoff_s(attempt: int, retry_after_s: float | None) -> float:
    """Exponential backoff with jitter, or what the platform asked for."""
    if retry_after_s is not None:
        return retry_after_s + random.uniform(0, 0.2)
    return float(min(2**attempt * 0.5, 30.0) * random.uniform(0.8, 1.2))


class BatchRun:
    """One deliver task: claim a batch, send it under the in-flight bound, record outcomes.

    Every Redis call here is awaited on the batch's event loop (`Ledger`), so sends keep going
    while a write is on its way; a send's in-flight slot is given back only once its outcome
    has been written. A write of outcomes also starts the next recipients, in the same round
    trip, so their sends take the places of the ones recorded.
    """

    def __init__(
        self,
        ledger: Ledger,
        sender: Sender,
        settings: Settings,
        release_id: str,
        channel: str,
        payload: dict[str, Any],
        lookup: Callable[[list[str]], dict[str, Recipient]],
        unsubscribe_url: Callable[[str], str] | None = None,
        owner: str = "",
        lease_s: float = LEASE_S,
    ) -> None:
        self.ledger = ledger
        self.owner = owner  # the worker process the claims are registered under
        self.lease_s = lease_s
        self.sender = sender
        self.release_id = release_id
        self.channel = channel
        self.payload = payload
        self.lookup = lookup
        self.recipients: dict[str, Recipient] = {}
        self.unsubscribe_url = unsubscribe_url
        self.window = InFlightWindow(settings.publisher_max_in_flight)
        self.bounce_limit = settings.publisher_bounce_limit
        self.token = new_token()
        self.buffer: list[Outcome] = []
        self.unfinished: set[str] = set()
        self.fault: str | None = None
        self.multi_part = len(channels_registry.get(channel).parts(payload)) > 1
        self.media = ledger.media(release_id)
        self.flush_timer: asyncio.TimerHandle | None = None
        # Outcomes are written an eighth of the window at a time, and each write starts as many
        # sends: one round trip per four messages, while a slot spends little time waiting for
        # a chunk to fill (a slot held by an outcome waiting to be written is not sending).
        self.flush_at = max(1, self.window.limit // 8)
        self.writes: set[asyncio.Task[None]] = set()
        self.write_error: BaseException | None = None
        self.claimed: dict[str, tuple[int, list[str], bool]] = {}
        self.order: list[str] = []
        self.next_index = 0
        self.sends: set[asyncio.Task[None]] = set()
        self.interrupted = False
        self.tally: Counter[str] = Counter()  # outcomes by state, for the batch's log line

    async def run(self, batch_id: str) -> dict[str, int]:
        started_s = time.monotonic()
        claimed = await self.ledger.claim(
            self.release_id, self.channel, batch_id, self.token, self.lease_s, self.owner
        )
        if not claimed:  # delivered twice, or taken by another task
            log_event(log, logging.INFO, "batch already taken", **self._where(batch_id))
            return self._receipt(claimed)
        log_event(
            log, logging.INFO, "batch started", **self._where(batch_id), recipients=len(claimed)
        )
        try:
            return await self._run_claimed(claimed)
        finally:
            await self._close_claim()
            log_event(
                log,
                logging.INFO,
                "batch finished",
                **self._where(batch_id),
                recipients=len(claimed),
                **dict(sorted(self.tally.items())),
                seconds=round(time.monotonic() - started_s, 3),
            )

    async def _close_claim(self) -> None:
        if not self.owner:
            return
        try:
            await self.ledger.close_claim(self.release_id, self.channel, self.token)
        except Exception as exc:  # noqa: BLE001 - the tick finds the token's records gone
            self._log(logging.WARNING, "claim not closed", error=str(exc))

    def _where(self, batch_id: str) -> dict[str, str]:
        return {"release_id": self.release_id, "channel": self.channel, "batch": batch_id}

    def _log(self, level: int, event: str, **fields: Any) -> None:
        """One log line about this batch's release and channel."""
        log_event(log, level, event, release_id=self.release_id, channel=self.channel, **fields)

    async def _run_claimed(self, claimed: dict[str, tuple[int, list[str], bool]]) -> dict[str, int]:
        self.recipients = self.lookup(list(claimed))
        self.unfinished = set(claimed)
        state = await self.ledger.channel_state(self.release_id, self.channel)
        if state.get("cancelled"):
            await self._finish_rest("skipped", "cancelled")
            return self._receipt(claimed)
        if state.get("paused"):
            await self._finish_rest("paused", state["paused"])
            return self._receipt(claimed)
        helpers = [asyncio.create_task(self._renew()), asyncio.create_task(self._watch())]
        try:
            await self._send_all(claimed)
        finally:
            for helper in helpers:
                helper.cancel()
            self._flush()
            if self.writes:
                await asyncio.wait(self.writes)
        if self.write_error is not None:
            # Redis stayed away through the client's retries: the leases bring the rest back.
            raise self.write_error
        if self.fault:
            await self._finish_rest("paused", self.fault)
        elif self.unfinished:  # cancelled while running: the rest is not sent
            await self._finish_rest("skipped", "cancelled")
        return self._receipt(claimed)

    async def _watch(self) -> None:
        """Cancelled, or paused by another worker? Checked every second while the batch runs."""
        while not self.interrupted:
            await asyncio.sleep(1.0)
            state = await self.ledger.channel_state(self.release_id, self.channel)
            if state.get("paused") and self.fault is None:
                self.fault = state["paused"]
            self.interrupted = bool(state.get("cancelled") or state.get("paused"))

    def _stopping(self) -> bool:
        return self.interrupted or self.fault is not None or self.write_error is not None

    def _receipt(self, claimed: dict[str, Any]) -> dict[str, int]:
        return {"claimed": len(claimed)}

    def _next(self, count: int) -> list[str]:
        """The next `count` recipients to start (fewer near the end; none once stopping)."""
        if self._stopping():
            return []
        chunk = self.order[self.next_index : self.next_index + count]
        self.next_index += len(chunk)
        return chunk

    def _refused(self, chunk: list[str], started: list[str]) -> None:
        """Recipients START would not mark as sending are no longer ours (released, or taken
        by another task since): this task has nothing more to say about them."""
        if len(started) < len(chunk):
            self.unfinished.difference_update(set(chunk).difference(started))

    def _launch(self, started: list[str]) -> None:
        for address in started:
            attempts, done, maybe_sent = self.claimed[address]
            task = asyncio.create_task(self._send_one(address, attempts + 1, done, maybe_sent))
            self.sends.add(task)
            task.add_done_callback(self.sends.discard)

    async def _send_all(self, claimed: dict[str, tuple[int, list[str], bool]]) -> None:
        self.claimed, self.order = claimed, list(claimed)
        # Fill the window; from then on, most sends are started by the writes of outcomes.
        while self.next_index < len(self.order) and not self._stopping():
            left = len(self.order) - self.next_index
            granted = await self.window.take(min(START_CHUNK, left), min(self.flush_at, left))
            chunk = self._next(granted)
            started = []
            if chunk:
                started = await self.ledger.start(self.release_id, self.channel, chunk, self.token)
                self._refused(chunk, started)
            await self.window.give(granted - len(started))
            self._launch(started)
        # A write under way may still start sends: wait until neither is left.
        while self.sends or self.writes:
            await asyncio.wait(self.sends | self.writes, return_when=asyncio.FIRST_COMPLETED)

    async def _send_one(
        self, address: str, attempt: int, done: list[str], maybe_sent: bool
    ) -> None:
        recipient = self.recipients[address]
        ctx = SendContext(
            release_id=self.release_id,
            done_parts=list(done),
            maybe_sent=maybe_sent,
            unsubscribe_url=self.unsubscribe_url(address) if self.unsubscribe_url else "",
            media=self.media,
        )
        if self.multi_part:
            ctx.on_part = self._part_recorder(address, ctx)
        outcome = await self._attempt(recipient, ctx, attempt)
        self.tally[outcome.state] += 1
        self.buffer.append(outcome)
        self.unfinished.discard(address)
        if len(self.buffer) >= self.flush_at:
            self._flush()
        elif self.flush_timer is None:
            # One timer for the lot: a slow trickle (a rate-limited channel) is written within
            # 20 ms without a timer per outcome.
            self.flush_timer = asyncio.get_running_loop().call_later(0.02, self._flush)

    async def _attempt(self, recipient: Recipient, ctx: SendContext, attempt: int) -> Outcome:
        address = recipient.address  # the record's; `recipient` may move (RecipientMoved)
        waited_s = 0.0
        progress = len(ctx.done_parts)
        while True:
            try:
                ids = await self.sender.deliver(self.payload, recipient, ctx)
            except RecipientMoved as exc:
                if recipient.address != address:  # moved once already: not again
                    return Outcome(address, "failed", ctx.done_parts, f"{exc}, after a move")
                await self.ledger.move_recipient(self.channel, address, exc.new_address)
                self._log(logging.INFO, "recipient moved", to=exc.new_address)
                recipient = dataclasses.replace(recipient, address=exc.new_address)
                continue
            except TransientDeliveryError as exc:
                if exc.soft_bounce:
                    await self.ledger.count_bounce(self.channel, address, False, str(exc))
                if len(ctx.done_parts) > progress:
                    # A part went through since the last failure: the platform is working, so
                    # this failure starts a fresh budget (five one-off 503s in a five-post
                    # thread must not pause the channel).
                    progress, attempt, waited_s = len(ctx.done_parts), 1, 0.0
                delay = backoff_s(attempt, exc.retry_after_s)
                # A timeout or a 5xx may come after the platform took the part: the next try
                # must be ready to find it there (X refuses the same text twice).
                ctx.maybe_sent = True
                self._log(
                    logging.WARNING,
                    "retry",
                    attempt=attempt,
                    parts_done=len(ctx.done_parts),
                    delay_s=round(delay, 2),
                    error=str(exc),
                )
                if attempt >= MAX_ATTEMPTS and exc.soft_bounce:
                    # One mailbox that keeps deferring is that address's problem, not the
                    # channel's: it fails alone (retry-failed tries it again).
                    return Outcome(address, "failed", ctx.done_parts, f"{exc} ({attempt} tries)")
                if attempt >= MAX_ATTEMPTS:
                    await self._pause(f"{exc} (still failing after {attempt} attempts)")
                    return Outcome(address, "paused", ctx.done_parts, str(exc))
                if waited_s + delay > INLINE_RETRY_LIMIT_S:
                    return Outcome(address, "retry", ctx.done_parts, str(exc), time.time() + delay)
                await asyncio.sleep(delay)
                waited_s += delay
                attempt += 1
                if not await self._still_holds(address):
                    return self._lost(address, ctx)
                continue
            except ClaimLost:
                return self._lost(address, ctx)
            except PermanentDeliveryError as exc:
                if exc.hard_bounce and await self._bounced_too_often(recipient.address, exc):
                    return Outcome(address, "skipped", ctx.done_parts, str(exc), gone=True)
                if exc.gone:
                    await self.ledger.suppress(self.channel, recipient.address, str(exc), exc.state)
                    return Outcome(address, "skipped", ctx.done_parts, str(exc), gone=True)
                return Outcome(address, "failed", ctx.done_parts, str(exc))
            except ChannelFault as exc:
                await self._pause(str(exc))
                return Outcome(address, "paused", ctx.done_parts, str(exc))
            except Exception as exc:  # a bug in a sender must not lose the record
                log.exception(
                    "unexpected error delivering",
                    extra={"fields": {"release_id": self.release_id, "channel": self.channel}},
                )
                return Outcome(address, "failed", ctx.done_parts, f"internal error: {exc!r}")
            if getattr(self.sender, "dry_run", False):
                return Outcome(address, "skipped", ids, DRY_RUN)
            return Outcome(address, "sent", ids)

    async def _bounced_too_often(self, address: str, exc: PermanentDeliveryError) -> bool:
        """Count a hard bounce; at PUBLISHER_BOUNCE_LIMIT the address is suppressed (the same
        rule `publisher bounces import` applies to the bounces that come back later)."""
        hard = await self.ledger.count_bounce(self.channel, address, True, str(exc))
        if hard < self.bounce_limit:
            return False
        why = f"bounced {hard} times (PUBLISHER_BOUNCE_LIMIT {self.bounce_limit}); last: {exc}"
        await self.ledger.suppress(self.channel, address, why, "bounced")
        return True

    async def _still_holds(self, address: str) -> bool:
        """Before a send is tried again: is the claim still this task's? (A worker stalled
        past its lease comes back to find it taken.) Unsure is no."""
        try:
            return await self.ledger.holds(self.release_id, self.channel, address, self.token)
        except Exception:  # noqa: BLE001 - Redis away: do not send without knowing
            return False

    def _lost(self, address: str, ctx: SendContext) -> Outcome:
        """The outcome of a recipient whose claim was lost: FINISH drops it (another task owns
        the record now)."""
        self._log(logging.WARNING, "claim lost", parts_done=len(ctx.done_parts))
        return Outcome(address, "retry", ctx.done_parts, "claim lost to another task")

    def _part_recorder(self, address: str, ctx: SendContext) -> Any:
        """Make each posted part durable before the next one is posted, and keep it in
        `ctx.done_parts`, so every retry (inline, after a lease, after resume) and every
        outcome written for this recipient continues after it instead of starting over.
        Raises ClaimLost when the record is no longer this task's: the next part is not sent."""

        async def record(index: int, platform_id: str) -> None:
            ids = ctx.done_parts
            del ids[index:]
            ids.append(platform_id)
            if not await self.ledger.record_parts(
                self.release_id, self.channel, address, list(ids), self.token
            ):
                raise ClaimLost(address)

        return record

    async def _pause(self, reason: str) -> None:
        if self.fault is None:
            self.fault = reason
            self._log(logging.ERROR, "channel paused", reason=reason)
            await self.ledger.pause(self.release_id, self.channel, reason)

    def _flush(self) -> None:
        """Write the buffered outcomes in the background; their slots free once written."""
        if self.flush_timer is not None:
            self.flush_timer.cancel()
            self.flush_timer = None
        if not self.buffer:
            return
        outcomes, self.buffer = self.buffer, []
        task = asyncio.get_running_loop().create_task(self._write(outcomes))
        self.writes.add(task)
        task.add_done_callback(self.writes.discard)

    async def _write(self, outcomes: list[Outcome]) -> None:
        chunk = self._next(len(outcomes))
        try:
            started = await self.ledger.finish(
                self.release_id, self.channel, outcomes, self.token, chunk
            )
        except Exception as exc:  # noqa: BLE001 - re-raised by run() once the sends settle
            self.write_error = self.write_error or exc
            started = []
        self._refused(chunk, started)
        self._launch(started)
        await self.window.give(len(outcomes) - len(started))

    async def _finish_rest(self, state: str, reason: str) -> None:
        rest = [Outcome(a, state, [], reason) for a in sorted(self.unfinished)]
        self.tally[state] += len(rest)
        await self.ledger.finish(self.release_id, self.channel, rest, self.token)
        self.unfinished.clear()

    async def _renew(self) -> None:
        while True:
            await asyncio.sleep(self.lease_s / 3)
            unfinished = list(self.unfinished)
            held = await self.ledger.renew(
                self.release_id, self.channel, unfinished, self.lease_s, self.token
            )
            if held < len(unfinished):
                self._log(logging.WARNING, "claims lost", held=held, unfinished=len(unfinished))
