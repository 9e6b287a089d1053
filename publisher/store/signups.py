"""Sign-ups awaiting their confirmation, and the web app's per-client and per-address limits."""

from __future__ import annotations

from publisher.store.base import StoreBase


class SignUps(StoreBase):
    """Pending sign-ups (double opt-in) and fixed-window request counters."""
