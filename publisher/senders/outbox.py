"""Dry-run delivery for a channel without credentials: what would have been sent, on disk.

Telegram and X sends become one JSON line each in `{data_dir}/outbox/{channel}/{release}.jsonl`;
an email becomes a personalised message in the Maildir `{data_dir}/maildir/` (any mail client
reads it), exactly as the SMTP sender would send it (its own links, DKIM-signed when
DKIM_PRIVATE_KEY is set), plus its JSON line. Several worker processes append to one file: each
line is one `write` on a descriptor opened with O_APPEND, so lines never interleave.
"""

from __future__ import annotations

import json
import mailbox
import os
from datetime import UTC, datetime
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any, ClassVar

from publisher import channels
from publisher.channels.base import Recipient, SendContext, Sender
from publisher.channels.email_mime import mail_domain
from publisher.errors import ChannelFault, PermanentDeliveryError
from publisher.links import link
from publisher.senders.dkim import DkimConfigError, DkimSigner
from publisher.senders.smtp import to_field
from publisher.settings import Settings


def append_line(path: Path, record: dict[str, Any]) -> None:
    """Append one JSON line with a single write (safe across processes)."""
    line = json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode("utf-8"))
    finally:
        os.close(fd)


class OutboxSender(Sender):
    """Writes each send to the data dir instead of the platform (a dry run)."""

    dry_run: ClassVar[bool] = True

    def __init__(self, channel: str, settings: Settings, maildir: bool = False) -> None:
        self.channel = channel  # type: ignore[misc]  # one class serves every channel
        self.maildir = maildir  # an email: a personalised message in the Maildir as well
        self.folder = Path(settings.data_dir) / "outbox" / channel
        self.maildir_path = Path(settings.data_dir) / "maildir"
        self.domain = mail_domain(settings.mail_from)
        self.settings = settings
        self.fallback_unsubscribe = f"{settings.base_url}/unsubscribe"
        self._maildir: mailbox.Maildir | None = None
        self.signer: DkimSigner | None = None
        self.fault = ""
        if maildir:
            try:
                self.signer = DkimSigner.from_settings(settings)
            except DkimConfigError as exc:  # pauses the channel at its first send
                self.fault = str(exc)

    async def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)

    async def deliver(
        self, payload: dict[str, Any], recipient: Recipient, ctx: SendContext
    ) -> list[str]:
        """Record the send; return one fake id per part ("outbox:1", ... or "maildir:KEY")."""
        if self.fault:
            raise ChannelFault(f"{self.fault}; fix it, then run publisher resume {ctx.release_id}")
        record: dict[str, Any] = {"recipient": recipient.address, "release": ctx.release_id}
        if self.maildir:
            ids = [self._to_maildir(payload, recipient, ctx)]
            record["maildir"] = ids[0].removeprefix("maildir:")
        else:
            parts = channels.get(self.channel).parts(payload)
            done = len(ctx.done_parts)
            record["parts"] = parts[done:]
            ids = list(ctx.done_parts) + [f"outbox:{i + 1}" for i in range(done, len(parts))]
        record["at"] = datetime.now(UTC).isoformat(timespec="milliseconds")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            append_line(self.folder / f"{_safe(ctx.release_id)}.jsonl", record)
        except OSError as exc:
            raise ChannelFault(f"cannot write the outbox {self.folder}: {exc.strerror}") from exc
        return ids

    def _to_maildir(self, payload: dict[str, Any], recipient: Recipient, ctx: SendContext) -> str:
        from publisher.channels.email_mime import personalize

        try:
            data = personalize(
                payload["mime"],
                to=to_field(recipient.name, recipient.address),
                unsubscribe_url=ctx.unsubscribe_url or self.fallback_unsubscribe,
                message_id=make_msgid(domain=self.domain),
                date=formatdate(localtime=False),
                preferences_url=link("preferences", self.channel, recipient.address, self.settings),
            )
            if self.signer is not None:
                data = self.signer.sign(data)
        except ValueError as exc:
            raise PermanentDeliveryError(f"cannot address this email: {exc}") from exc
        try:
            if self._maildir is None:
                self._maildir = mailbox.Maildir(self.maildir_path, create=True)
            # Maildir writes to tmp/ and renames into new/: safe with several writers.
            return "maildir:" + self._maildir.add(data)
        except OSError as exc:
            raise ChannelFault(
                f"cannot write the Maildir {self.maildir_path}: {exc.strerror}"
            ) from exc


def _safe(release_id: str) -> str:
    # Release ids are [a-z0-9-]; anything else must not make a path.
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in release_id) or "release"
