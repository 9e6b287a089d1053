"""Every exception publisher raises, in one tree.

    PublisherError                      base of everything below
    ├── ReleaseError                    a release is invalid (file, field, fix)
    │   └── ReleaseErrors               several ReleaseErrors found in one pass
    ├── UnknownChannelError             no channel of that name is declared
    ├── RenderError                     a template or a channel limit cannot be met
    ├── StoreUnavailable                Redis cannot be reached (exit code 3)
    │   └── WorkersUnavailable          no worker answers (what was queued stays queued)
    ├── TokenError                      a signed link is tampered, expired or for another purpose
    ├── StateConflict                   a release's state does not allow the action (HTTP 409)
    ├── ApprovalRefused                 the author may not approve their own release (HTTP 403)
    └── DeliveryError                   one send did not go through
        ├── TransientDeliveryError      retry later (retry_after_s when the platform says)
        ├── PermanentDeliveryError      give up on this recipient (gone=True: unsubscribe them)
        ├── RecipientMoved              the recipient lives at a new address (a migrated group)
        └── ChannelFault                the whole channel is broken (bad token, SMTP auth): pause it

Foreign exceptions (python-telegram-bot, tweepy, smtplib, redis) are translated into these in the
module that talks to the foreign library, with ``raise Ours(...) from exc``. Every class pickles,
because they cross Celery's process boundary.
"""

from __future__ import annotations

from typing import Any


class PublisherError(Exception):
    """Base class of every error publisher raises on purpose."""

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, self.args)


class ReleaseError(PublisherError):
    """Raised when a release is invalid; names the file, the field and how to fix it."""

    def __init__(self, file: str, field: str, problem: str, fix: str) -> None:
        super().__init__(file, field, problem, fix)
        self.file = file
        self.field = field
        self.problem = problem
        self.fix = fix

    def __str__(self) -> str:
        return f"{self.file}: {self.field}: {self.problem}; fix: {self.fix}"


class ReleaseErrors(PublisherError):
    """Raised when validation found one or more problems; each is a ReleaseError."""

    def __init__(self, errors: list[ReleaseError]) -> None:
        super().__init__(errors)
        self.errors = errors

    def __str__(self) -> str:
        return "\n".join(str(e) for e in self.errors)


class RenderError(PublisherError):
    """Raised when a release cannot be rendered for a channel (broken template, limit)."""

    def __init__(self, channel: str, message: str, file: str = "") -> None:
        super().__init__(channel, message, file)
        self.channel = channel
        self.message = message
        self.file = file

    def __str__(self) -> str:
        where = f"{self.file}: " if self.file else ""
        return f"{where}channel {self.channel}: {self.message}"


class UnknownChannelError(PublisherError):
    """Raised when a channel name is not in the registry (a flag, a release, a stored task)."""

    def __init__(self, message: str, channel: str = "") -> None:
        super().__init__(message, channel)
        self.message = message
        self.channel = channel

    def __str__(self) -> str:
        return self.message


class StoreUnavailable(PublisherError):
    """Raised when Redis cannot be reached."""


class WorkersUnavailable(StoreUnavailable):
    """Raised when no worker answers: what was submitted stays queued for the next one."""


class DeliveryError(PublisherError):
    """Raised when one send to one recipient did not go through."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class TransientDeliveryError(DeliveryError):
    """Raised when a send may succeed later (429, timeout, 5xx); retry after retry_after_s."""

    def __init__(
        self, message: str, retry_after_s: float | None = None, soft_bounce: bool = False
    ) -> None:
        super().__init__(message)
        self.args = (message, retry_after_s, soft_bounce)
        self.retry_after_s = retry_after_s
        #: the recipient's own server deferred this address (an SMTP 4xx at RCPT): counted
        #: as a soft bounce, never suppressing
        self.soft_bounce = soft_bounce


class PermanentDeliveryError(DeliveryError):
    """Raised when a recipient can never get this send (blocked, not found, content refused).

    ``gone`` is true when the recipient itself is gone (blocked the bot, address rejected):
    the recipient is then suppressed, with ``state`` as the suppression's state ("blocked",
    "bounced"), and counted as skipped, not failed. ``hard_bounce`` marks a refusal that counts
    towards PUBLISHER_BOUNCE_LIMIT (an SMTP 5xx other than "no such user").
    """

    def __init__(
        self, message: str, gone: bool = False, state: str = "blocked", hard_bounce: bool = False
    ) -> None:
        super().__init__(message)
        self.args = (message, gone, state, hard_bounce)
        self.gone = gone
        self.state = state
        self.hard_bounce = hard_bounce


class RecipientMoved(DeliveryError):
    """Raised when the platform says the recipient now lives at another address (a Telegram
    group that became a supergroup): the record moves there and the send is tried there once."""

    def __init__(self, message: str, new_address: str) -> None:
        super().__init__(message)
        self.args = (message, new_address)
        self.new_address = new_address


class ChannelFault(DeliveryError):
    """Raised when the whole channel is broken (invalid token, SMTP auth refused): pause it."""


class TokenError(PublisherError):
    """Raised when a signed link's token is tampered, expired or made for another purpose."""

    def __init__(self, reason: str, purpose: str) -> None:
        self.message = (
            f"this link is not a {purpose} link"
            if reason == "wrong purpose"
            else f"this {purpose} link is {reason}"
        )
        super().__init__(self.message)
        self.args = (reason, purpose)
        self.reason = reason
        self.purpose = purpose

    def __str__(self) -> str:
        return self.message


class StateConflict(PublisherError):
    """Raised when a release's state does not allow an action (publish a draft nobody
    approved, edit a published release, approve content that changed since it was looked at)."""

    def __init__(self, release_id: str, state: str, message: str) -> None:
        super().__init__(release_id, state, message)
        self.release_id = release_id
        self.state = state
        self.message = message

    def __str__(self) -> str:
        return f"{self.release_id}: {self.message}"


class ApprovalRefused(PublisherError):
    """Raised when the author of a release tries to approve it while approval is required."""

    def __init__(self, release_id: str, message: str) -> None:
        super().__init__(release_id, message)
        self.release_id = release_id
        self.message = message

    def __str__(self) -> str:
        return f"{self.release_id}: {self.message}"
