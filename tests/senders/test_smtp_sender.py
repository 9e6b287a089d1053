"""The SMTP sender, with smtplib, against a real SMTP server (aiosmtpd) on loopback."""

from __future__ import annotations

import asyncio
import pickle
import smtplib
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from publisher.channels.base import Recipient, SendContext
from publisher.channels.email import EmailChannel
from publisher.errors import (
    ChannelFault,
    DeliveryError,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from publisher.links import read_token
from publisher.release import release_from_mapping
from publisher.render import RenderContext, Templates, body_parts
from publisher.senders import smtp as smtp_module
from publisher.senders.smtp import SMTPSender, SMTPTarget, translate
from publisher.settings import Settings
from tests.peers.smtp import SMTPPeer

PUBLIC_URL = "https://press.example.org"
UNSUBSCRIBE = f"{PUBLIC_URL}/unsubscribe/email/c2FtaXJhQGV4YW1wbGUub3Jn.sig"
AUTH = ("press", "s3cret/with:odd@chars")


@pytest.fixture(scope="module")
def payload() -> dict[str, Any]:
    release = release_from_mapping(
        {
            "title": "Assad regime kills dozens of civilians in Idlib",
            "date": "2020-02-11T10:00:00+02:00",
            "summary": "Jets bombed residential neighborhoods of Idlib.",
            "body": "The bombing caused massive destruction.\n\nCivil defense teams rushed in.\n",
        }
    )
    ctx = RenderContext(PUBLIC_URL, 5, "Press Office", Templates())
    return EmailChannel.render(release, body_parts(release), ctx)


@pytest.fixture(scope="module")
def server() -> Iterator[SMTPPeer]:
    with SMTPPeer(auth=AUTH) as peer:
        yield peer


@pytest.fixture
def peer(server: SMTPPeer) -> SMTPPeer:
    server.reset()
    server.reject.clear()
    server.replies.clear()
    server.data_replies.clear()
    return server


def url_for(peer: SMTPPeer, user: str = AUTH[0], password: str = AUTH[1]) -> str:
    quote = {"/": "%2F", ":": "%3A", "@": "%40"}
    encoded = "".join(quote.get(c, c) for c in password)
    return f"smtp://{user}:{encoded}@{peer.host}:{peer.port}"


def settings_for(url: str) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        smtp_url=url,
        mail_from="Press Office <press@coalition.example>",
    )


def send_all(
    url: str, payload: dict[str, Any], recipients: list[Recipient], concurrent: bool = False
) -> list[list[str]]:
    async def go() -> list[list[str]]:
        sender = SMTPSender(settings_for(url))
        await sender.start()
        try:
            sends = [
                sender.deliver(payload, r, SendContext("rel-1", unsubscribe_url=UNSUBSCRIBE))
                for r in recipients
            ]
            if concurrent:
                return list(await asyncio.gather(*sends))
            return [await send for send in sends]
        finally:
            await sender.close()

    return asyncio.run(go())


def test_each_journalist_gets_their_own_copy_alone_in_to(
    peer: SMTPPeer, payload: dict[str, Any]
) -> None:
    recipients = [
        Recipient("samira@example.org", "Samira Haddad"),
        Recipient("omar@example.net", "عمر الحلبي"),
    ]
    ids = send_all(url_for(peer), payload, recipients)
    assert [m.rcpt_tos for m in peer.messages] == [["samira@example.org"], ["omar@example.net"]]
    first, second = (m.message for m in peer.messages)
    assert first["To"] == "Samira Haddad <samira@example.org>"
    assert second["To"].addresses[0].display_name == "عمر الحلبي"
    assert first["List-Unsubscribe"] == f"<{UNSUBSCRIBE}>"
    assert first["Message-ID"] == ids[0][0] and ids[0][0].endswith("@coalition.example>")
    assert first["Message-ID"] != second["Message-ID"]
    assert first["Subject"] == "Assad regime kills dozens of civilians in Idlib"
    assert peer.messages[0].mail_from == "press@coalition.example"
    assert peer.messages[0].login == AUTH[0]
    assert UNSUBSCRIBE in first.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    # each journalist's own preferences link, made from the settings and their address
    settings = settings_for(url_for(peer))
    for message, recipient in zip((first, second), recipients, strict=True):
        text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        token = text.split("/preferences/")[1].split()[0]
        assert read_token(token, "preferences", settings) == ("email", recipient.address)
        domain = message["From"].addresses[0].domain  # the List-Id lives where From does
        assert message["List-Id"] == f'"Press Office releases" <releases.{domain}>'


def test_one_connection_serves_many_sends_in_turn(peer: SMTPPeer, payload: dict[str, Any]) -> None:
    recipients = [Recipient(f"j{i}@example.org") for i in range(50)]
    send_all(url_for(peer), payload, recipients)
    assert len(peer.messages) == 50
    assert peer.connections == 1


def test_concurrent_sends_share_a_small_pool(peer: SMTPPeer, payload: dict[str, Any]) -> None:
    recipients = [Recipient(f"j{i}@example.org") for i in range(50)]
    send_all(url_for(peer), payload, recipients, concurrent=True)
    assert sorted(m.rcpt_tos[0] for m in peer.messages) == sorted(r.address for r in recipients)
    assert 1 <= peer.connections <= smtp_module.POOL_SIZE


def test_a_rejected_address_is_gone(peer: SMTPPeer, payload: dict[str, Any]) -> None:
    peer.reject.add("nobody@example.org")
    with pytest.raises(PermanentDeliveryError, match="550 5.1.1") as caught:
        send_all(url_for(peer), payload, [Recipient("nobody@example.org")])
    assert caught.value.gone and caught.value.state == "bounced"
    assert not caught.value.hard_bounce
    assert "nobody@example.org" in str(caught.value)


# What a receiving server's reply for one journalist makes of the send (the SMTP peer speaks it).
BOUNCES: list[tuple[str, str, type[DeliveryError], str]] = [
    ("rcpt", "550 5.1.1 <j@example.org>: Recipient address rejected: User unknown",
     PermanentDeliveryError, "gone"),
    ("rcpt", "550 5.1.10 Recipient address rejected: null MX", PermanentDeliveryError, "gone"),
    ("rcpt", "550 Requested action not taken: no such user here", PermanentDeliveryError,
     "gone"),
    ("rcpt", "552 5.2.2 Mailbox full", PermanentDeliveryError, "hard"),
    ("rcpt", "550 5.7.1 Relaying denied", PermanentDeliveryError, "hard"),
    ("rcpt", "554 Transaction failed", PermanentDeliveryError, "hard"),
    ("rcpt", "553 5.1.8 Sender address domain does not exist", PermanentDeliveryError,
     "message"),
    ("rcpt", "450 4.2.0 <j@example.org>: Recipient address rejected: Greylisted",
     TransientDeliveryError, "soft"),
    ("rcpt", "451 4.1.1 Recipient verification unavailable", TransientDeliveryError, "soft"),
    ("data", "550 5.1.1 Mailbox does not exist", PermanentDeliveryError, "gone"),
    ("data", "552 5.2.2 Over quota", PermanentDeliveryError, "hard"),
    ("data", "550 5.7.1 Message rejected as spam", PermanentDeliveryError, "message"),
    ("data", "554 5.6.0 Message content rejected", PermanentDeliveryError, "message"),
    ("data", "554 Message refused", PermanentDeliveryError, "message"),
    ("data", "452 4.2.2 Mailbox full, try later", TransientDeliveryError, "soft"),
]  # fmt: skip


@pytest.mark.parametrize(("stage", "reply", "expected", "kind"), BOUNCES)
def test_a_refusal_at_send_time_is_sorted_into_gone_hard_or_soft(
    peer: SMTPPeer,
    payload: dict[str, Any],
    stage: str,
    reply: str,
    expected: type[DeliveryError],
    kind: str,
) -> None:
    (peer.replies if stage == "rcpt" else peer.data_replies)["J@example.org"] = reply
    with pytest.raises(expected) as caught:
        send_all(url_for(peer), payload, [Recipient("j@example.org")])
    error = caught.value
    assert reply.split()[0] in str(error) and reply.split()[-1] in str(error)  # the reply, said
    if kind == "soft":
        return
    assert isinstance(error, PermanentDeliveryError)
    assert (error.gone, error.hard_bounce) == {
        "gone": (True, False),
        "hard": (False, True),
        "message": (False, False),
    }[kind]
    if error.gone:
        assert error.state == "bounced"
    assert pickle.loads(pickle.dumps(error)).args == error.args
    assert peer.messages == []


def test_one_bouncing_journalist_does_not_stop_the_others(
    peer: SMTPPeer, payload: dict[str, Any]
) -> None:
    peer.replies["full@example.org"] = "552 5.2.2 Mailbox full"

    async def go() -> list[str]:
        sender = SMTPSender(settings_for(url_for(peer)))
        ctx = SendContext("rel-1", unsubscribe_url=UNSUBSCRIBE)
        outcomes = []
        try:
            for address in ("a@example.org", "full@example.org", "b@example.org"):
                try:
                    await sender.deliver(payload, Recipient(address), ctx)
                    outcomes.append("sent")
                except PermanentDeliveryError as exc:
                    outcomes.append("hard" if exc.hard_bounce else "other")
        finally:
            await sender.close()
        return outcomes

    assert asyncio.run(go()) == ["sent", "hard", "sent"]
    assert [m.rcpt_tos for m in peer.messages] == [["a@example.org"], ["b@example.org"]]
    assert peer.connections == 1  # a refused RCPT leaves the connection usable


def test_a_refused_login_pauses_the_channel(peer: SMTPPeer, payload: dict[str, Any]) -> None:
    with pytest.raises(ChannelFault, match="refused the SMTP login") as caught:
        send_all(url_for(peer, password="wrong"), payload, [Recipient("a@example.org")])
    assert "SMTP_URL" in str(caught.value) and "publisher resume rel-1" in str(caught.value)
    assert "wrong" not in str(caught.value)
    assert peer.messages == []


def test_a_temporary_refusal_is_transient_and_the_next_send_goes_through(
    peer: SMTPPeer, payload: dict[str, Any]
) -> None:
    peer.fail_next(1, 451)

    async def go() -> None:
        sender = SMTPSender(settings_for(url_for(peer)))
        ctx = SendContext("rel-1", unsubscribe_url=UNSUBSCRIBE)
        try:
            with pytest.raises(TransientDeliveryError, match="451"):
                await sender.deliver(payload, Recipient("a@example.org"), ctx)
            await sender.deliver(payload, Recipient("a@example.org"), ctx)
        finally:
            await sender.close()

    asyncio.run(go())
    assert [m.rcpt_tos for m in peer.messages] == [["a@example.org"]]
    assert peer.connections == 1


def test_a_message_refused_at_data_fails_without_suppressing(
    peer: SMTPPeer, payload: dict[str, Any]
) -> None:
    peer.fail_next(1, 554)
    with pytest.raises(PermanentDeliveryError, match="554") as caught:
        send_all(url_for(peer), payload, [Recipient("a@example.org")])
    assert not caught.value.gone


def test_an_unreachable_server_is_transient(payload: dict[str, Any]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens once the probe is closed
    with pytest.raises(TransientDeliveryError, match="unreachable"):
        send_all(f"smtp://127.0.0.1:{port}", payload, [Recipient("a@example.org")])


def test_a_connection_dropped_while_idle_is_replaced(
    peer: SMTPPeer, payload: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(smtp_module, "IDLE_CHECK_S", 0.0)

    async def go() -> None:
        sender = SMTPSender(settings_for(url_for(peer)))
        ctx = SendContext("rel-1", unsubscribe_url=UNSUBSCRIBE)
        try:
            await sender.deliver(payload, Recipient("a@example.org"), ctx)
            for connection in sender.connections:  # the network drops the idle connection
                if connection.smtp is not None and connection.smtp.sock is not None:
                    connection.smtp.sock.shutdown(socket.SHUT_RDWR)
            await sender.deliver(payload, Recipient("b@example.org"), ctx)
        finally:
            await sender.close()

    asyncio.run(go())
    assert [m.rcpt_tos for m in peer.messages] == [["a@example.org"], ["b@example.org"]]
    assert peer.connections == 2


def test_an_invalid_unsubscribe_url_fails_clearly(peer: SMTPPeer, payload: dict[str, Any]) -> None:
    async def go() -> None:
        sender = SMTPSender(settings_for(url_for(peer)))
        try:
            await sender.deliver(payload, Recipient("a@example.org"), SendContext("rel-1"))
        finally:
            await sender.close()

    with pytest.raises(PermanentDeliveryError, match="cannot address this email"):
        asyncio.run(go())
    assert peer.messages == []


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://mail.example.org", SMTPTarget("mail.example.org", 587, False, None, None)),
        (
            "smtps://u:p%40ss@mail.example.org",
            SMTPTarget("mail.example.org", 465, True, "u", "p@ss"),
        ),
        ("smtp://a%2Fb:@127.0.0.1:2525", SMTPTarget("127.0.0.1", 2525, False, "a/b", "")),
    ],
)
def test_smtp_url(url: str, expected: SMTPTarget) -> None:
    assert SMTPTarget.from_url(url) == expected


def test_a_wrong_scheme_is_refused() -> None:
    with pytest.raises(ValueError, match="smtp://user:pass@host:port"):
        SMTPTarget.from_url("http://mail.example.org")


def test_a_malformed_smtp_url_pauses_the_channel(payload: dict[str, Any]) -> None:
    sender = SMTPSender(settings_for("mail.example.org:587"))
    ctx = SendContext("rel-1", unsubscribe_url=UNSUBSCRIBE)
    with pytest.raises(ChannelFault, match="SMTP_URL must look like") as caught:
        asyncio.run(sender.deliver(payload, Recipient("a@example.org"), ctx))
    assert str(caught.value).endswith("then run publisher resume rel-1")


# Every exception smtplib raises, and what it must mean for one send.
SMTP_CASES: list[tuple[Exception, type[DeliveryError], bool | None]] = [
    (smtplib.SMTPRecipientsRefused({"a@x.org": (550, b"5.1.1 unknown")}), PermanentDeliveryError,
     True),
    (smtplib.SMTPRecipientsRefused({"a@x.org": (552, b"5.2.2 full")}), PermanentDeliveryError,
     False),
    (smtplib.SMTPRecipientsRefused({"a@x.org": (450, b"4.2.0 greylisted")}),
     TransientDeliveryError, None),
    (smtplib.SMTPSenderRefused(553, b"5.7.1 not owned by user", "press@x.org"), ChannelFault,
     None),
    (smtplib.SMTPSenderRefused(451, b"4.3.0 try later", "press@x.org"), TransientDeliveryError,
     None),
    (smtplib.SMTPDataError(552, b"5.3.4 message too big"), PermanentDeliveryError, False),
    (smtplib.SMTPDataError(451, b"4.3.0 queue error"), TransientDeliveryError, None),
    (smtplib.SMTPResponseException(554, b"5.0.0 refused"), PermanentDeliveryError, False),
    (smtplib.SMTPConnectError(554, b"no SMTP service here"), ChannelFault, None),
    (smtplib.SMTPHeloError(421, b"busy"), TransientDeliveryError, None),
    (smtplib.SMTPAuthenticationError(535, b"5.7.8 bad credentials"), ChannelFault, None),
    (smtplib.SMTPNotSupportedError("SMTP AUTH extension not supported"), ChannelFault, None),
    (smtplib.SMTPServerDisconnected("Connection unexpectedly closed"), TransientDeliveryError,
     None),
    (smtplib.SMTPException("No recipients"), TransientDeliveryError, None),
    (ConnectionRefusedError(111, "Connection refused"), TransientDeliveryError, None),
    (TimeoutError("timed out"), TransientDeliveryError, None),
]  # fmt: skip


def test_every_smtplib_exception_has_a_case() -> None:
    classes = {
        getattr(smtplib, name)
        for name in smtplib.__all__
        if isinstance(getattr(smtplib, name), type)
        and issubclass(getattr(smtplib, name), Exception)
    }
    assert classes <= {type(exc) for exc, _, _ in SMTP_CASES}


@pytest.mark.parametrize(("exc", "expected", "gone"), SMTP_CASES, ids=lambda v: repr(v)[:50])
def test_translation(exc: Exception, expected: type[DeliveryError], gone: bool | None) -> None:
    ours = translate(exc, "a@x.org", "rel-9")
    assert type(ours) is expected
    if gone is not None:
        assert isinstance(ours, PermanentDeliveryError) and ours.gone is gone
    assert str(ours) and "\n" not in str(ours)
    assert pickle.loads(pickle.dumps(ours)).args == ours.args
