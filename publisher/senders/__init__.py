"""The I/O side of each channel: one `Sender` per channel and worker process.

Each channel's declaration (`publisher.channels`) builds its sender: the real one when the
channel's credentials are set, else the dry-run `OutboxSender` (outbox JSON lines; a Maildir for
email). Senders are imported on demand, so a worker that sends only email never imports
python-telegram-bot.
"""

from __future__ import annotations

from publisher import channels
from publisher.channels.base import Sender, Throttle
from publisher.settings import Settings


def make_sender(channel: str, settings: Settings, throttle: Throttle | None = None) -> Sender:
    """The sender of `channel` for this process (dry run when its credentials are unset).

    Raises UnknownChannelError for a channel that is not declared.
    """
    return channels.get(channel).make_sender(settings, throttle)
