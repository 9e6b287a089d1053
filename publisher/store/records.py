"""A delivery record's shape, and what the delivery engine hands the ledger about a send.

A record is stored as the compact JSON array `[state, attempts, platform_ids, error,
possible_duplicate, claim_token]` (`publisher.store.keys` says where); `DeliveryRecord` is how
it is read back, `Outcome` how a send's result is written.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

COUNT_FIELDS = ("sent", "failed", "pending", "skipped", "paused", "uncertain")
QUEUED = json.dumps(["queued", 0, [], "", 0, ""])


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

    @classmethod
    def from_stored(cls, channel: str, recipient: str, raw: bytes | str) -> DeliveryRecord:
        """The record as Redis keeps it (the JSON array) -> a DeliveryRecord."""
        rec = json.loads(raw)
        ids = [str(i) for i in rec[2]]
        return cls(channel, recipient, rec[0], int(rec[1]), ids, rec[3], bool(rec[4]))

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


def new_token() -> str:
    """A batch task's claim token: only its holder may start or finish the records it claimed."""
    return uuid.uuid4().hex[:12]
