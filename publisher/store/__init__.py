"""Everything publisher keeps in Redis, behind one `Store`; no other module knows a key name.

    keys.py        every key name, and the key layout
    scripts.py     the Lua behind every change of a delivery record's state
    base.py        the shared client, and the error seam (Redis' errors -> StoreUnavailable)
    releases.py    a release, its rendered payloads, versions, events and schedule
    recipients.py  each channel's recipients, who is suppressed, and their event stream
    signups.py     sign-ups awaiting confirmation; the web app's request limits
    bounces.py     hard bounces counted per address
    drafts.py      the newsroom's drafts, their states and approvals; API idempotency keys
    accounts.py    newsroom users, their sessions, API tokens (by digest), sign-in attempts
    records.py     a delivery record's shape; the Outcome of a send
    ledger.py      delivery records in batches under leases (sync), and the asyncio `Ledger`
                   a running batch writes through

`Store` is synchronous, for the services, the command line and the worker's tick; every public
method raises `publisher.errors.StoreUnavailable` (one line, no password) when Redis is away or
refuses, so each command can exit 3. The store names no platform: a channel is only a name.
"""

from __future__ import annotations

from publisher.store.accounts import Accounts
from publisher.store.base import translate_errors
from publisher.store.bounces import Bounces
from publisher.store.drafts import Drafts
from publisher.store.keys import K_REAPER_LOCK, k_rate, k_recipients
from publisher.store.ledger import Deliveries, Ledger, RedisMediaCache
from publisher.store.recipients import Recipients
from publisher.store.records import DeliveryRecord, Outcome, new_token
from publisher.store.signups import SignUps

__all__ = [
    "K_REAPER_LOCK",
    "DeliveryRecord",
    "Ledger",
    "Outcome",
    "RedisMediaCache",
    "Store",
    "k_rate",
    "k_recipients",
    "new_token",
]


@translate_errors
class Store(Deliveries, Drafts, Recipients, SignUps, Bounces, Accounts):
    """Typed access to publisher's Redis data: releases, recipients and delivery records."""

    def ping(self) -> None:
        """Raise StoreUnavailable unless Redis answers."""
        self.redis.ping()
