"""Hard bounces counted per address, until the limit suppresses it."""

from __future__ import annotations

from publisher.store.base import StoreBase


class Bounces(StoreBase):
    """Each channel's hard bounces per address."""
