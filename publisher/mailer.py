"""One transactional email, sent now: a sign-up's confirmation, not a release to a list.

`compose` builds the message (From MAIL_FROM, one To, a Message-ID on MAIL_FROM's domain, a
plain-text and an HTML part); `send` delivers it at once with smtplib to SMTP_URL, or, when
SMTP_URL is unset, into the Maildir under the data dir (`{data_dir}/maildir/`, where the email
channel's dry run writes too). Every message leaves through `finish`, the one place where it
is DKIM-signed over its final bytes (DKIM_PRIVATE_KEY, DKIM_SELECTOR), as releases are.

smtplib's exceptions become ours here: TransientDeliveryError (try again later),
PermanentDeliveryError (the server refused this address or message), ChannelFault (the
settings are wrong: login, sender, TLS).
"""

from __future__ import annotations

import mailbox
import smtplib
import socket
import ssl
from email.message import EmailMessage
from email.policy import SMTP, SMTPUTF8
from email.utils import formatdate, make_msgid, parseaddr
from pathlib import Path

from publisher.errors import (
    ChannelFault,
    DeliveryError,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from publisher.senders.dkim import DkimConfigError, DkimSigner
from publisher.senders.smtp import SMTPTarget, connect
from publisher.settings import Settings

TIMEOUT_S = 15.0  # a person waits for the page: fail soon rather than hang


def sender_address(settings: Settings) -> str:
    """MAIL_FROM's bare address (the envelope sender)."""
    return parseaddr(settings.mail_from)[1] or settings.mail_from


def compose(settings: Settings, to: str, subject: str, text: str, html: str) -> EmailMessage:
    """A finished transactional message to one address: text and HTML alternatives."""
    domain = sender_address(settings).rpartition("@")[2] or "localhost"
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = to
    message["Subject"] = " ".join(subject.split())
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=domain)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies, please
    # 7-bit safe on the wire (a server without 8BITMIME takes it): quoted-printable parts.
    message.set_content(text, cte="quoted-printable")
    message.add_alternative(html, subtype="html", cte="quoted-printable")
    return message


def finish(settings: Settings, message: EmailMessage) -> bytes:
    """The message's final bytes, as they go on the wire, DKIM-signed when DKIM is set up.

    Raises ChannelFault when the DKIM settings cannot be used."""
    # Non-ASCII names and subjects become RFC 2047 encoded words; only an address that is not
    # ASCII itself needs SMTPUTF8 (raw UTF-8 headers).
    addresses = [_bare(str(message[name] or "")) for name in ("From", "To")]
    data = message.as_bytes(policy=SMTP if all(a.isascii() for a in addresses) else SMTPUTF8)
    signer = _signer(settings)
    return signer.sign(data) if signer is not None else data


#: (key file, selector, MAIL_FROM) -> its signer: the key is read once per process.
_signers: dict[tuple[Path | None, str | None, str], DkimSigner | None] = {}


def _signer(settings: Settings) -> DkimSigner | None:
    """The DKIM signer the settings describe (None without DKIM); ChannelFault if unusable."""
    cache_key = (settings.dkim_private_key, settings.dkim_selector, settings.mail_from)
    if cache_key not in _signers:
        try:
            _signers[cache_key] = DkimSigner.from_settings(settings)
        except DkimConfigError as exc:
            raise ChannelFault(str(exc)) from None
    return _signers[cache_key]


def send(settings: Settings, message: EmailMessage) -> str:
    """Send one message now; returns where it went ("smtp" or "maildir:KEY").

    Raises TransientDeliveryError, PermanentDeliveryError or ChannelFault.
    """
    data = finish(settings, message)
    recipient = _bare(str(message["To"]))
    if not settings.smtp_url:
        return "maildir:" + _to_maildir(Path(settings.data_dir) / "maildir", data)
    try:
        target = SMTPTarget.from_url(settings.smtp_url)
    except ValueError as exc:
        raise ChannelFault(str(exc)) from None
    try:
        _sendmail(target, sender_address(settings), recipient, data)
    except (smtplib.SMTPException, OSError) as exc:
        raise translate(exc, recipient) from exc
    return "smtp"


def _bare(to: str) -> str:
    return parseaddr(to)[1] or to


def _to_maildir(path: Path, data: bytes) -> str:
    try:
        # Maildir writes to tmp/ and renames into new/: safe with several writers.
        return mailbox.Maildir(path, create=True).add(data)
    except OSError as exc:
        raise ChannelFault(f"cannot write the Maildir {path}: {exc.strerror}") from exc


def _sendmail(target: SMTPTarget, from_addr: str, to_addr: str, data: bytes) -> None:
    smtp = connect(target, socket.gethostname(), TIMEOUT_S)
    try:
        options = () if to_addr.isascii() else ("SMTPUTF8",)
        smtp.sendmail(from_addr, [to_addr], data, options)
    finally:
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()


def translate(exc: BaseException, address: str) -> DeliveryError:
    """Our exception for what smtplib (or the socket under it) raised sending to `address`."""
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return ChannelFault(f"mail server refused the SMTP login ({_reply(exc)}); fix SMTP_URL")
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, text = exc.recipients.get(address) or next(iter(exc.recipients.values()))
        reply = " ".join(f"{code} {text.decode('utf-8', 'replace')}".split())
        if 400 <= code < 500:
            return TransientDeliveryError(f"mail server deferred {address}: {reply}")
        return PermanentDeliveryError(f"mail server rejected {address}: {reply}", gone=True)
    if isinstance(exc, smtplib.SMTPSenderRefused) and exc.smtp_code >= 500:
        return ChannelFault(f"mail server refused the sender ({_reply(exc)}); fix MAIL_FROM")
    if isinstance(exc, smtplib.SMTPResponseException):
        if 400 <= exc.smtp_code < 500:
            return TransientDeliveryError(f"mail server deferred the message: {_reply(exc)}")
        return PermanentDeliveryError(f"mail server refused the message: {_reply(exc)}")
    if isinstance(exc, ssl.SSLCertVerificationError):
        return ChannelFault(f"mail server's TLS certificate is not trusted ({exc.verify_message})")
    if isinstance(exc, TimeoutError):
        return TransientDeliveryError("mail server did not answer in time")
    if isinstance(exc, smtplib.SMTPException):
        return TransientDeliveryError(f"SMTP error: {exc}")
    if isinstance(exc, OSError):
        return TransientDeliveryError(f"mail server unreachable: {exc.strerror or exc}")
    return TransientDeliveryError(f"SMTP error: {type(exc).__name__}: {exc}")


def _reply(exc: smtplib.SMTPResponseException) -> str:
    error = exc.smtp_error
    text = error.decode("utf-8", "replace") if isinstance(error, bytes) else str(error)
    return " ".join(f"{exc.smtp_code} {text}".split())
