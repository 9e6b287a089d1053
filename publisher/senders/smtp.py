"""Email delivery over SMTP: the rendered message, personalised, to one journalist at a time.

Each journalist is alone in To, in the envelope and in the header. Per message the work is a byte
substitution (`personalize`: To, Date, a Message-ID on MAIL_FROM's domain, the unsubscribe and
preferences links), a DKIM signature over those final bytes when DKIM_PRIVATE_KEY is set, and
one `sendmail` on a pooled connection: connections are opened once and reused by one thread at
a time. smtplib's exceptions become ours here (`translate`), bounces sorted by `bounce_kind`:

    5xx, 5.1.x ("no such user")          PermanentDeliveryError gone, state "bounced": suppressed
    RCPT 5xx, anything else              PermanentDeliveryError hard_bounce: counted towards
                                         PUBLISHER_BOUNCE_LIMIT
    DATA 5xx, 5.2.x (mailbox full...)    the same (one recipient per message)
    DATA 5xx, other; 5.1.7/5.1.8         PermanentDeliveryError: failed; about our message or
                                         sender (spam, policy, size), not counted
    4xx anywhere                         TransientDeliveryError: retried (a soft bounce)
"""

from __future__ import annotations

import asyncio
import queue
import re
import smtplib
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import formataddr, formatdate, make_msgid, parseaddr
from typing import Any, ClassVar
from urllib.parse import unquote, urlsplit

from publisher.channels.base import Recipient, SendContext, Sender, Throttle
from publisher.channels.email_mime import CONTROL_CHARS, mail_domain
from publisher.errors import (
    ChannelFault,
    DeliveryError,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from publisher.links import link
from publisher.senders.dkim import DkimConfigError, DkimSigner
from publisher.settings import Settings

POOL_SIZE = 4
TIMEOUT_S = 30.0
IDLE_CHECK_S = 20.0  # a connection idle this long may have been dropped: NOOP it first


@dataclass(frozen=True)
class SMTPTarget:
    """Where SMTP_URL points: smtp:// (STARTTLS when offered) or smtps:// (implicit TLS)."""

    host: str
    port: int
    implicit_tls: bool
    username: str | None
    password: str | None

    @classmethod
    def from_url(cls, url: str) -> SMTPTarget:
        """Parse `smtp://user:pass@host:port` (user and password URL-encoded)."""
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            shown = f"{parts.scheme}://{parts.hostname or ''}"  # never echo the password
            raise ValueError(f"SMTP_URL must look like smtp://user:pass@host:port, not {shown}")
        implicit_tls = parts.scheme == "smtps"
        return cls(
            host=parts.hostname,
            port=parts.port or (465 if implicit_tls else 587),
            implicit_tls=implicit_tls,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password is not None else None,
        )


def to_field(name: str, address: str) -> str:
    """The To value for personalize: a non-ASCII name stays readable, personalize encodes it."""
    # A header is one line: a stray tab or line break in a stored name must not stop the mail.
    name = " ".join(CONTROL_CHARS.sub(" ", name).split())
    if not name:
        return address
    if name.isascii():
        return formataddr((name, address))
    quoted = name.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{quoted}" <{address}>'


def _reply(code: int, message: bytes | str) -> str:
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else message
    return " ".join(f"{code} {text}".split())


#: An RFC 3463 enhanced status code where a reply or a DSN's Status field starts.
ENHANCED_STATUS = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
#: What servers that give no enhanced code say when the mailbox does not exist.
NO_SUCH_USER = re.compile(
    r"user unknown|unknown user|no such user|no such mailbox|no such recipient|"
    r"mailbox not found|recipient not found|unknown recipient|does not exist|"
    r"address rejected: user unknown|invalid mailbox|invalid recipient",
    re.IGNORECASE,
)


def enhanced_status(text: str) -> str | None:
    """The first enhanced status code ("5.1.1") in a reply or diagnostic, if any."""
    found = ENHANCED_STATUS.search(text)
    return ".".join(found.groups()) if found else None


def bounce_kind(text: str, status: str | None = None, at_data: bool = False) -> str:
    """How a permanent refusal of one address counts.

    "gone": the mailbox does not exist (5.1.x, or the words for it when there is no enhanced
    code): suppressed at once. "message": the refusal is about our message or our sender, not
    the address (5.1.7 and 5.1.8 name the sender's address; at DATA, any code outside 5.1 and
    5.2, such as 5.7.1 spam or policy, 5.3.4 size): it fails, and counts nothing against the
    journalist. "hard": any other (mailbox full or disabled, relay refused...): counted towards
    PUBLISHER_BOUNCE_LIMIT. `status` is an enhanced code given apart from the text (a DSN's
    Status field); `at_data`, that the reply came after the whole message was sent.
    """
    status = status or enhanced_status(text)
    if status is None:
        if NO_SUCH_USER.search(text):
            return "gone"
        return "message" if at_data else "hard"
    if status in ("5.1.7", "5.1.8"):
        return "message"
    if status.startswith("5.1."):
        return "gone"
    if at_data and not status.startswith("5.2."):
        return "message"
    return "hard"


def _refused(address: str, reply: str, at_data: bool) -> PermanentDeliveryError:
    """A 5xx for one address, sorted by `bounce_kind`."""
    kind = bounce_kind(reply, at_data=at_data)
    if kind == "gone":
        return PermanentDeliveryError(
            f"mail server rejected {address}: {reply}", gone=True, state="bounced"
        )
    if kind == "message":
        return PermanentDeliveryError(f"mail server refused the message: {reply}", gone=False)
    return PermanentDeliveryError(
        f"mail server rejected {address}: {reply}", gone=False, hard_bounce=True
    )


def translate(exc: Exception, address: str, release_id: str = "ID") -> DeliveryError:
    """Our exception for what smtplib (or the socket under it) raised sending to `address`."""
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return ChannelFault(
            f"mail server refused the SMTP login ({_reply(exc.smtp_code, exc.smtp_error)}); "
            f"fix SMTP_URL, then run publisher resume {release_id}"
        )
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, message = exc.recipients.get(address) or next(iter(exc.recipients.values()))
        reply = _reply(code, message)
        if 400 <= code < 500:
            return TransientDeliveryError(
                f"mail server deferred {address}: {reply}", soft_bounce=True
            )
        return _refused(address, reply, at_data=False)
    if isinstance(exc, smtplib.SMTPSenderRefused):
        if 400 <= exc.smtp_code < 500:
            return TransientDeliveryError(
                f"mail server deferred the sender: {_reply(exc.smtp_code, exc.smtp_error)}"
            )
        return ChannelFault(
            f"mail server refused the sender {exc.sender} "
            f"({_reply(exc.smtp_code, exc.smtp_error)}); fix MAIL_FROM or SMTP_URL, "
            f"then run publisher resume {release_id}"
        )
    if isinstance(exc, smtplib.SMTPConnectError | smtplib.SMTPHeloError):
        reply = _reply(exc.smtp_code, exc.smtp_error)
        if 400 <= exc.smtp_code < 500:
            return TransientDeliveryError(f"mail server is busy: {reply}")
        return ChannelFault(
            f"mail server refused the connection ({reply}); fix SMTP_URL, "
            f"then run publisher resume {release_id}"
        )
    if isinstance(exc, smtplib.SMTPResponseException):  # SMTPDataError and the like
        reply = _reply(exc.smtp_code, exc.smtp_error)
        if 400 <= exc.smtp_code < 500:
            return TransientDeliveryError(f"mail server deferred the message: {reply}")
        if isinstance(exc, smtplib.SMTPDataError):  # after RCPT: about the message or mailbox
            return _refused(address, reply, at_data=True)
        return PermanentDeliveryError(f"mail server refused the message: {reply}", gone=False)
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return ChannelFault(
            f"mail server lacks a needed extension ({exc}); fix SMTP_URL, "
            f"then run publisher resume {release_id}"
        )
    if isinstance(exc, ssl.SSLCertVerificationError):
        return ChannelFault(
            f"mail server's TLS certificate is not trusted ({exc.verify_message}); fix SMTP_URL, "
            f"then run publisher resume {release_id}"
        )
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return TransientDeliveryError(f"mail server closed the connection: {exc}")
    if isinstance(exc, smtplib.SMTPException):
        return TransientDeliveryError(f"SMTP error: {exc}")
    if isinstance(exc, TimeoutError):
        return TransientDeliveryError("mail server did not answer in time")
    if isinstance(exc, OSError):
        return TransientDeliveryError(f"mail server unreachable: {exc.strerror or exc}")
    return TransientDeliveryError(f"SMTP error: {type(exc).__name__}: {exc}")


def connect(target: SMTPTarget, local_hostname: str, timeout_s: float) -> smtplib.SMTP:
    """An SMTP session ready to send: TLS (implicit, or STARTTLS when offered) and login as
    SMTP_URL says. smtplib's errors propagate (callers translate them)."""
    context = ssl.create_default_context()
    smtp: smtplib.SMTP
    if target.implicit_tls:
        smtp = smtplib.SMTP_SSL(
            target.host, target.port, local_hostname, timeout=timeout_s, context=context
        )
    else:
        smtp = smtplib.SMTP(target.host, target.port, local_hostname, timeout=timeout_s)
    try:
        smtp.ehlo()
        if not target.implicit_tls and smtp.has_extn("starttls"):
            smtp.starttls(context=context)
            smtp.ehlo()
        if target.username:
            smtp.login(target.username, target.password or "")
    except BaseException:
        smtp.close()
        raise
    return smtp


class _Connection:
    """One SMTP connection, opened on first use; used by one thread at a time."""

    def __init__(self, target: SMTPTarget, local_hostname: str) -> None:
        self.target = target
        self.local_hostname = local_hostname
        self.smtp: smtplib.SMTP | None = None
        self.last_used = 0.0

    def send(self, from_addr: str, to_addr: str, data: bytes) -> None:
        """sendmail on this connection, (re)connecting first when needed."""
        options = () if to_addr.isascii() else ("SMTPUTF8",)
        for attempt in (1, 2):
            smtp = self._ready()
            try:
                smtp.sendmail(from_addr, [to_addr], data, options)
                return
            except smtplib.SMTPResponseException as exc:
                if exc.smtp_code == 421:  # the server closes the connection after a 421
                    self.close()
                    # 421 at MAIL (too many messages on this connection): nothing was
                    # accepted, so a fresh connection may take the message at once.
                    if attempt == 1 and isinstance(exc, smtplib.SMTPSenderRefused):
                        continue
                raise
            except (smtplib.SMTPRecipientsRefused, smtplib.SMTPNotSupportedError):
                raise  # an answer about this message: the connection is fine
            except OSError:  # SMTPServerDisconnected and other SMTPExceptions are OSErrors
                self.close()
                raise
            finally:
                self.last_used = time.monotonic()

    def _ready(self) -> smtplib.SMTP:
        smtp = self.smtp
        if smtp is not None and time.monotonic() - self.last_used > IDLE_CHECK_S:
            try:
                alive = smtp.noop()[0] == 250
            except (smtplib.SMTPException, OSError):
                alive = False
            if not alive:
                self.close()
                smtp = None
        if smtp is None:
            smtp = self.smtp = self._connect()
        return smtp

    def _connect(self) -> smtplib.SMTP:
        return connect(self.target, self.local_hostname, TIMEOUT_S)

    def close(self) -> None:
        smtp, self.smtp = self.smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()


_Job = tuple[asyncio.AbstractEventLoop, asyncio.Future[None], str, str, bytes]


class _SendThreads:
    """A few threads that each own one connection and take sends from one queue.

    A thread starts only when every running one is busy, so sends made one after another all
    go through the first connection. A thread finishes its send even if the caller was
    cancelled meanwhile, so a connection is never shared.
    """

    def __init__(self, size: int, connect: Callable[[], _Connection]) -> None:
        self.size = size
        self.connect = connect
        self.jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self.threads: list[threading.Thread] = []
        self.connections: list[_Connection] = []
        self.busy = 0  # sends submitted and not finished
        self.lock = threading.Lock()

    def submit(self, from_addr: str, to_addr: str, data: bytes) -> asyncio.Future[None]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        with self.lock:
            self.busy += 1
            if self.busy > len(self.threads) and len(self.threads) < self.size:
                connection = self.connect()
                self.connections.append(connection)
                thread = threading.Thread(
                    target=self._work, args=(connection,), name="smtp-send", daemon=True
                )
                self.threads.append(thread)
                thread.start()
        self.jobs.put((loop, future, from_addr, to_addr, data))
        return future

    def _work(self, connection: _Connection) -> None:
        while (job := self.jobs.get()) is not None:
            loop, future, from_addr, to_addr, data = job
            error: BaseException | None = None
            try:
                connection.send(from_addr, to_addr, data)
            except BaseException as exc:  # handed to the awaiting task
                error = exc
            with self.lock:
                self.busy -= 1
            try:
                loop.call_soon_threadsafe(_settle, future, error)
            except RuntimeError:  # the loop closed meanwhile: nobody is waiting
                pass
        connection.close()

    def stop(self) -> None:
        """Let every thread finish its queue, close its connection and exit."""
        with self.lock:
            threads, self.threads = self.threads, []
        for _ in threads:
            self.jobs.put(None)
        for thread in threads:
            thread.join()


def _settle(future: asyncio.Future[None], error: BaseException | None) -> None:
    if future.cancelled():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)


class SMTPSender(Sender):
    """Sends each journalist their personalised copy of the rendered email, over SMTP_URL."""

    channel: ClassVar[str] = "email"

    def __init__(
        self, settings: Settings, throttle: Throttle | None = None, pool_size: int = POOL_SIZE
    ) -> None:
        if not settings.smtp_url:
            raise ValueError("SMTPSender needs SMTP_URL")
        # A malformed SMTP_URL pauses the channel at its first send, like a refused login,
        # rather than failing every task in the worker.
        self.fault = ""
        try:
            self.target = SMTPTarget.from_url(settings.smtp_url)
        except ValueError as exc:
            self.fault = str(exc)
            self.target = SMTPTarget("", 0, False, None, None)
        self.from_addr = parseaddr(settings.mail_from)[1] or settings.mail_from
        self.domain = mail_domain(settings.mail_from)
        self.settings = settings
        self.signer: DkimSigner | None = None
        try:
            self.signer = DkimSigner.from_settings(settings)
        except DkimConfigError as exc:  # pauses the channel at its first send, as above
            self.fault = self.fault or str(exc)
        self.throttle = throttle
        self.pool_size = pool_size
        self.hostname = socket.gethostname()  # not getfqdn(): that may wait on DNS
        self._threads: _SendThreads | None = None
        self._mime: tuple[str, bytes] = ("", b"")

    @property
    def connections(self) -> list[_Connection]:
        """The connections of the running send threads (opened on their first send)."""
        return list(self._threads.connections) if self._threads else []

    async def close(self) -> None:
        threads, self._threads = self._threads, None
        if threads is not None:
            await asyncio.to_thread(threads.stop)

    async def deliver(
        self, payload: dict[str, Any], recipient: Recipient, ctx: SendContext
    ) -> list[str]:
        """Send the journalist's copy; return its Message-ID."""
        from publisher.channels.email_mime import personalize

        if self.fault:
            raise ChannelFault(f"{self.fault}; fix it, then run publisher resume {ctx.release_id}")
        address = recipient.address
        message_id = make_msgid(domain=self.domain)
        try:
            data = personalize(
                self._mime_bytes(payload["mime"]),
                to=to_field(recipient.name, address),
                unsubscribe_url=ctx.unsubscribe_url,
                message_id=message_id,
                date=formatdate(localtime=False),
                preferences_url=link("preferences", self.channel, address, self.settings),
            )
            if self.signer is not None:
                data = self.signer.sign(data)
        except ValueError as exc:
            raise PermanentDeliveryError(f"cannot address this email: {exc}") from exc
        if self.throttle is not None:
            await self.throttle.before_send(address)
        if self._threads is None:
            self._threads = _SendThreads(
                self.pool_size, lambda: _Connection(self.target, self.hostname)
            )
        try:
            await self._threads.submit(self.from_addr, address, data)
        except Exception as exc:
            raise translate(exc, address, ctx.release_id) from exc
        return [message_id]

    def _mime_bytes(self, mime: str | bytes) -> bytes:
        # The same stored payload goes to every journalist: encode it once.
        if isinstance(mime, bytes):
            return mime
        if self._mime[0] is not mime:
            self._mime = (mime, mime.encode("ascii"))
        return self._mime[1]
