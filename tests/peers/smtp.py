"""`SMTPPeer`: a real SMTP server (aiosmtpd) on 127.0.0.1 that records what it receives.

    with SMTPPeer(auth=("user", "secret")) as peer:
        with smtplib.SMTP(peer.host, peer.port) as smtp:
            smtp.login("user", "secret")
            smtp.send_message(msg)
        assert peer.messages[0].rcpt_tos == ["a@example.org"]

Knobs: `reject` (addresses refused at RCPT with Postfix's 550 5.1.1), `replies` (address ->
the whole reply line its RCPT gets, e.g. "552 5.2.2 Mailbox full" or "450 4.2.0 Greylisted"),
`data_replies` (address -> the reply DATA gets for a message to it), `auth` (required
credentials, AUTH PLAIN/LOGIN over plain loopback), `fail_next()` (temporary failures at DATA).
`connections` counts TCP connections, so tests can check that a sender reuses one.
"""

from __future__ import annotations

import email
import email.policy
import socket
import threading
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from email.message import EmailMessage
from types import TracebackType
from typing import Any, Self

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

__all__ = ["ReceivedMail", "SMTPPeer"]


@dataclass(frozen=True, slots=True)
class ReceivedMail:
    """One accepted message: envelope sender and recipients, raw bytes, who logged in."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes = field(repr=False)
    t_monotonic: float
    login: str | None = None

    @property
    def message(self) -> EmailMessage:
        """The message parsed with the modern `email.policy.default`."""
        message = email.message_from_bytes(self.data, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        return message


class _Handler:
    """aiosmtpd handler hooks, delegating to the peer's knobs and records."""

    def __init__(self, peer: SMTPPeer) -> None:
        self.peer = peer

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        reply = {a.lower(): r for a, r in self.peer.replies.items()}.get(address.lower())
        if reply is not None:
            if not reply.startswith("2"):
                self.peer.rejected.append(address)
                return reply
        elif address.lower() in {a.lower() for a in self.peer.reject}:
            self.peer.rejected.append(address)
            return (
                f"550 5.1.1 <{address}>: Recipient address rejected: "
                "User unknown in virtual mailbox table"
            )
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        failure = self.peer._take_failure()
        if failure is not None:
            return failure
        replies = {a.lower(): r for a, r in self.peer.data_replies.items()}
        for address in envelope.rcpt_tos:
            if address.lower() in replies:
                return replies[address.lower()]
        login = (
            session.auth_data.login.decode()
            if isinstance(session.auth_data, LoginPassword)
            else None
        )
        content = envelope.original_content or envelope.content or b""
        if isinstance(content, str):
            content = content.encode()
        with self.peer._lock:
            self.peer.messages.append(
                ReceivedMail(
                    envelope.mail_from or "",
                    list(envelope.rcpt_tos),
                    content,
                    time.monotonic(),
                    login,
                )
            )
        return "250 2.0.0 Ok: queued"


class _Controller(Controller):
    """aiosmtpd Controller on a pre-bound socket, building one SMTP per connection."""

    def __init__(self, peer: SMTPPeer, sock: socket.socket) -> None:
        super().__init__(
            _Handler(peer),
            hostname="127.0.0.1",
            port=sock.getsockname()[1],
            server_hostname="peer.localhost",
        )
        self.peer = peer
        self.sock = sock

    def factory(self) -> SMTP:
        peer = self.peer
        with peer._lock:
            peer.connections += 1
        server = SMTP(
            self.handler,
            hostname="peer.localhost",
            ident="ESMTP loopback peer",
            enable_SMTPUTF8=True,
            auth_require_tls=False,
            authenticator=peer._authenticate,
        )
        # Set after construction: passing auth_required=True without TLS makes aiosmtpd warn
        # on every connection, and plain AUTH over loopback is the point here.
        server._auth_required = peer.auth is not None
        return server

    def _create_server(self) -> Awaitable[Any]:
        return self.loop.create_server(self._factory_invoker, sock=self.sock)


class SMTPPeer:
    """Loopback SMTP server. `host`/`port` to connect; `messages` what was accepted.

    Knobs (plain attributes): `reject` (set of addresses), `replies` and `data_replies`
    (address -> reply line at RCPT, at DATA), `auth` ((user, password) or None; when None any
    AUTH is accepted and none is required); `fail_next()`.
    Records: `messages`, `rejected` (refused RCPT addresses), `connections`, `auth_failures`.
    """

    host = "127.0.0.1"

    def __init__(
        self, *, auth: tuple[str, str] | None = None, reject: set[str] | None = None
    ) -> None:
        self.auth = auth
        self.reject: set[str] = set(reject or ())
        self.replies: dict[str, str] = {}
        self.data_replies: dict[str, str] = {}
        self.messages: list[ReceivedMail] = []
        self.rejected: list[str] = []
        self.connections = 0
        self.auth_failures = 0
        self.port = 0
        self._lock = threading.Lock()
        self._failures: list[int] = []
        self._controller: _Controller | None = None

    @property
    def url(self) -> str:
        """An ``smtp://`` URL for this peer (with credentials when `auth` is set)."""
        cred = f"{self.auth[0]}:{self.auth[1]}@" if self.auth else ""
        return f"smtp://{cred}{self.host}:{self.port}"

    def fail_next(self, n: int = 1, code: int = 451) -> None:
        """Refuse the next `n` messages at DATA with `code` (4xx temporary, 5xx permanent)."""
        with self._lock:
            self._failures.extend([code] * n)

    def reset(self) -> None:
        """Forget messages, rejections, failures and the connection count (knobs stay)."""
        with self._lock:
            self.messages = []
            self.rejected = []
            self._failures.clear()
            self.connections = 0
            self.auth_failures = 0

    def _take_failure(self) -> str | None:
        with self._lock:
            if not self._failures:
                return None
            code = self._failures.pop(0)
        if code == 451:
            return "451 4.3.0 Error: queue file write error"
        if 400 <= code < 500:
            return f"{code} 4.0.0 Requested action aborted, try again later"
        return f"{code} 5.0.0 Message rejected"

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        expected = self.auth
        if expected is None:
            return AuthResult(success=True, auth_data=auth_data)
        ok = auth_data.login == expected[0].encode() and auth_data.password == expected[1].encode()
        if not ok:
            with self._lock:
                self.auth_failures += 1
        if ok:
            return AuthResult(success=True, auth_data=auth_data)
        return AuthResult(success=False, handled=False)

    def start(self) -> Self:
        """Listen on a free port and serve in a background thread."""
        if self._controller is not None:
            raise RuntimeError("SMTPPeer already running")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, 0))
        self.port = sock.getsockname()[1]
        controller = _Controller(self, sock)
        controller.start()
        self._controller = controller
        with self._lock:
            self.connections = 0  # the controller's own readiness probe is not a client
        return self

    def stop(self) -> None:
        """Stop the server and join its thread (idempotent)."""
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()
            controller.sock.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
