"""`publisher.mailer`: one transactional message now, to SMTP_URL or the data dir's Maildir;
smtplib's failures become ours."""

from __future__ import annotations

import email
import email.policy
import mailbox
from email.message import EmailMessage
from pathlib import Path

import pytest

from publisher import mailer
from publisher.errors import ChannelFault, PermanentDeliveryError, TransientDeliveryError
from publisher.settings import Settings
from tests.peers.smtp import SMTPPeer


def settings(tmp_path: Path, smtp_url: str | None) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        publisher_data_dir=tmp_path,
        smtp_url=smtp_url,
        mail_from="Press Office <press@example.org>",
    )


def arabic_message(config: Settings, to: str = "أميرة <amira@example.org>") -> EmailMessage:
    return mailer.compose(config, to, "تأكيد الاشتراك", "مرحباً\n", "<p>مرحباً</p>")


def test_without_smtp_url_the_message_goes_to_the_maildir(tmp_path: Path) -> None:
    config = settings(tmp_path, None)
    where = mailer.send(config, arabic_message(config))
    assert where.startswith("maildir:")
    [stored] = mailbox.Maildir(tmp_path / "maildir").values()
    message = email.message_from_bytes(stored.as_bytes(), policy=email.policy.default)
    assert message["Subject"] == "تأكيد الاشتراك"
    assert message["Message-ID"].endswith("@example.org>")


def test_the_wire_bytes_are_7_bit_with_encoded_words(tmp_path: Path) -> None:
    config = settings(tmp_path, None)
    data = mailer.finish(config, arabic_message(config))
    assert data.isascii() and b"=?utf-8?" in data
    assert b"Content-Transfer-Encoding: quoted-printable" in data


def test_over_smtp_one_message_to_one_recipient(tmp_path: Path) -> None:
    with SMTPPeer() as peer:
        config = settings(tmp_path, peer.url)
        assert mailer.send(config, arabic_message(config)) == "smtp"
        [received] = peer.messages
    assert (received.mail_from, received.rcpt_tos) == ("press@example.org", ["amira@example.org"])
    body = received.message.get_body(("plain",))
    assert body is not None and body.get_content().strip() == "مرحباً"


def test_smtp_refusals_become_our_errors(tmp_path: Path) -> None:
    with SMTPPeer(reject={"nobody@example.org"}) as peer:
        config = settings(tmp_path, peer.url)
        with pytest.raises(PermanentDeliveryError) as refused:
            mailer.send(config, arabic_message(config, "nobody@example.org"))
        assert refused.value.gone and "5.1.1" in str(refused.value)
        peer.fail_next(1, code=451)
        with pytest.raises(TransientDeliveryError):
            mailer.send(config, arabic_message(config))
        port = peer.port
    with pytest.raises(TransientDeliveryError, match="unreachable"):  # nobody listens now
        mailer.send(settings(tmp_path, f"smtp://127.0.0.1:{port}"), arabic_message(config))


def test_the_confirmation_mail_is_dkim_signed_as_releases_are(tmp_path: Path) -> None:
    import dkim

    from tests.mail.mailing import SELECTOR, dns_for, make_key

    key = make_key(tmp_path)
    with SMTPPeer() as peer:
        config = settings(tmp_path, peer.url).model_copy(
            update={"dkim_private_key": key, "dkim_selector": SELECTOR,
                    "mail_from": "Press Office <press@press.example.org>"}
        )  # fmt: skip
        mailer.send(config, arabic_message(config))
        [received] = peer.messages
    assert received.data.startswith(b"DKIM-Signature:")
    assert dkim.verify(received.data, dnsfunc=dns_for(key))
    tampered = received.data.replace(b"<p>=D9=85", b"<p>=D9=86")
    assert tampered != received.data and not dkim.verify(tampered, dnsfunc=dns_for(key))
    broken = settings(tmp_path, None).model_copy(
        update={"dkim_private_key": tmp_path / "missing.pem", "dkim_selector": SELECTOR}
    )
    with pytest.raises(ChannelFault, match="DKIM_PRIVATE_KEY"):
        mailer.send(broken, arabic_message(broken))
