"""DKIM: each message, as the SMTP peer received it, verifies with dkimpy against the public key
(no DNS); the signature covers the list headers and breaks when one is changed or added; it is
byte for byte the one plain `dkim.sign` makes, though OpenSSL does the RSA step; a key that
cannot be used pauses the channel with a one-line fix and never shows the key."""

from __future__ import annotations

import asyncio
import mailbox
import re
import types
from pathlib import Path

import dkim
import pytest

from publisher.channels.base import Recipient, SendContext
from publisher.errors import ChannelFault
from publisher.senders.dkim import DkimConfigError, DkimSigner, public_key_record
from publisher.senders.outbox import OutboxSender
from publisher.senders.smtp import SMTPSender
from publisher.settings import Settings
from tests.mail.mailing import (
    DOMAIN,
    SELECTOR,
    dns_for,
    make_key,
    press_office,
    received,
    render,
)
from tests.peers.smtp import SMTPPeer

SIGNED = {
    "from", "to", "subject", "date", "message-id", "list-id", "list-unsubscribe",
    "list-unsubscribe-post", "mime-version", "content-type",
}  # fmt: skip


def signature_tags(raw: bytes) -> dict[str, str]:
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    found = re.search(r"^DKIM-Signature:(.*?)\r\n(?![ \t])", head, re.S | re.M)
    assert found, "no DKIM-Signature header"
    value = re.sub(r"\s+", "", found.group(1))
    return dict(tag.split("=", 1) for tag in value.split(";") if tag)


@pytest.mark.parametrize("language", ["en", "ar"])
def test_a_received_message_verifies_against_the_public_key(
    signed_mail: dict[str, bytes], dkim_key: Path, language: str
) -> None:
    raw = signed_mail[language]
    assert dkim.verify(raw, dnsfunc=dns_for(dkim_key))
    tags = signature_tags(raw)
    assert (tags["d"], tags["s"], tags["a"], tags["c"]) == (
        DOMAIN, SELECTOR, "rsa-sha256", "relaxed/relaxed"
    )  # fmt: skip
    signed = tags["h"].lower().split(":")
    assert SIGNED <= set(signed)
    # oversigned: one more than they occur, so that a second copy cannot be added
    for name in ("from", "subject", "list-unsubscribe", "list-unsubscribe-post"):
        assert signed.count(name) == 2


@pytest.mark.parametrize(
    "tamper",
    [
        lambda raw: raw.replace(b"List-Unsubscribe: <https://", b"List-Unsubscribe: <http://", 1),
        lambda raw: raw.replace(b"\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click", b"", 1),
        lambda raw: raw.replace(
            b"\r\nFrom: ", b"\r\nList-Unsubscribe: <https://evil.example/u>\r\nFrom: ", 1
        ),
        lambda raw: raw.replace(b"\r\nSubject: ", b"\r\nSubject: Fwd: ", 1),
        lambda raw: raw.replace(b'\r\nList-Id: "Press', b'\r\nList-Id: "Other', 1),
        lambda raw: raw.replace(b"February 11, 2020", b"February 12, 2020", 1),
    ],
    ids=[
        "unsubscribe-changed",
        "one-click-dropped",
        "unsubscribe-added",
        "subject",
        "list-id",
        "body",
    ],  # fmt: skip
)
def test_any_change_to_a_signed_part_breaks_the_signature(
    signed_mail: dict[str, bytes], dkim_key: Path, tamper: object
) -> None:
    raw = signed_mail["en"]
    changed = tamper(raw)  # type: ignore[operator]
    assert changed != raw
    assert not dkim.verify(changed, dnsfunc=dns_for(dkim_key))


def test_a_maildir_dry_run_is_signed_the_same_way(tmp_path: Path, dkim_key: Path) -> None:
    env = {"DKIM_PRIVATE_KEY": str(dkim_key), "DKIM_SELECTOR": SELECTOR,
           "PUBLISHER_DATA_DIR": str(tmp_path)}  # fmt: skip
    with press_office(**env) as settings:
        payload = render("ar", settings)
        sender = OutboxSender("email", settings, maildir=True)
        ctx = SendContext("rel-1", unsubscribe_url="https://press.example.org/unsubscribe/t")
        asyncio.run(sender.deliver(payload, Recipient("omar@example.net", "عمر"), ctx))
    box = mailbox.Maildir(tmp_path / "maildir", create=False)
    (key,) = box.keys()
    raw = box.get_bytes(key).replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    assert dkim.verify(raw, dnsfunc=dns_for(dkim_key))


HEAD = (
    b"From: Press Office <press@press.example.org>\r\n"
    b"To: Samira Haddad <samira@example.org>\r\n"
    b"Subject: Statement on the attack\r\n"
    b"Date: Tue, 11 Feb 2020 09:00:00 +0000\r\n"
    b"Message-ID: <1.2@press.example.org>\r\n"
    b'List-Id: "Press Office" <press.press.example.org>\r\n'
    b"List-Unsubscribe: <https://press.example.org/unsubscribe/t1>\r\n"
    b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
)
BODY = "إدلب، 11 شباط 2020.\r\n\r\nThe   statement, in  full. \r\n\r\n\r\n".encode()
FOLDED = (
    b"From: Press Office of the Syrian Network for Human Rights\r\n <press@press.example.org>\r\n"
    b"To: Samira Haddad <samira@example.org>,\r\n\tOmar <omar@example.net>,\r\n"
    b"  A Third Journalist With A Long Name <third.journalist@newsroom.example.com>\r\n"
    b"Subject: =?utf-8?b?2KfZhNmG2LjYp9mFINin2YTYs9mI2LHZiiDZiti02YYg2YfYrNmI2YXYp9mLINmF?=\r\n"
    b" =?utf-8?b?2YXZitiq2KfZiyDYudmE2Ykg2KXYr9mE2Kg=?= and a long English tail that goes\r\n"
    b" on past the line length limit of a header line\r\n"
    b"Date: Tue, 11 Feb 2020 09:00:00 +0000\r\n"
    b"Message-ID: <158141160000.4242.17@press.example.org>\r\n"
    b'List-Id: "Press Office of the Syrian Network for Human Rights"\r\n'
    b" <press.press.example.org>\r\n"
    b"List-Unsubscribe: <https://press.example.org/unsubscribe/" + b"a" * 120 + b">,\r\n"
    b" <mailto:unsubscribe@press.example.org?subject=unsubscribe-" + b"b" * 60 + b">\r\n"
    b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain;\r\n charset=utf-8\r\n"
    b"Content-Language: ar\r\n"
)
TWICE = HEAD + (
    b"From: Press Office <other@press.example.org>\r\n"
    b"Subject: Statement on the attack, again\r\n"
    b"List-Unsubscribe: <mailto:unsubscribe@press.example.org>\r\n"
    b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
)


MESSAGES = ("english release", "arabic release", "long folded headers", "oversigned headers twice")


@pytest.fixture(scope="module")
def messages(smtp_peer: SMTPPeer) -> dict[str, bytes]:
    """Unsigned messages to sign: the two release emails as received, and made-up ones."""
    mail = received(smtp_peer, None)
    return {
        "english release": mail["en"],
        "arabic release": mail["ar"],
        "long folded headers": FOLDED + b"\r\n" + BODY,
        "oversigned headers twice": TWICE + b"\r\n" + BODY,
    }


def split_signature(signed: bytes) -> tuple[bytes, bytes]:
    """(the DKIM-Signature header field on top, with its CRLF; the message under it)."""
    found = re.match(rb"DKIM-Signature:.*?\r\n(?![ \t])", signed, re.S)
    assert found, "no DKIM-Signature header on top"
    return found.group(0), signed[found.end() :]


@pytest.mark.parametrize("name", MESSAGES)
def test_the_signature_is_byte_for_byte_what_dkimpy_makes(
    messages: dict[str, bytes], dkim_key: Path, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    message = messages[name]
    assert b"DKIM-Signature" not in message
    signer = DkimSigner.from_file(dkim_key, SELECTOR, DOMAIN)
    monkeypatch.setattr(dkim, "time", types.SimpleNamespace(time=lambda: 1_581_411_600.25))
    with monkeypatch.context() as patched:  # OpenSSL signs: dkimpy's RSA is never called
        patched.setattr(dkim, "RSASSA_PKCS1_v1_5_sign", None)
        signed = signer.sign(message)
    header, rest = split_signature(signed)
    assert rest == message
    expected = dkim.sign(
        message,
        SELECTOR.encode(),
        DOMAIN.encode(),
        dkim_key.read_bytes(),
        canonicalize=(b"relaxed", b"relaxed"),
        include_headers=DkimSigner._headers(message),
    )
    assert header == expected
    assert "t=1581411600;" in re.sub(r"\s+", "", header.decode("ascii"))
    if name == "oversigned headers twice":
        signed_names = signature_tags(signed)["h"].lower().split(":")
        for oversigned in ("from", "subject", "list-unsubscribe", "list-unsubscribe-post"):
            assert signed_names.count(oversigned) == 3


@pytest.mark.parametrize("name", MESSAGES)
def test_dkimpy_verifies_it_and_rejects_a_changed_unsubscribe(
    messages: dict[str, bytes], dkim_key: Path, name: str
) -> None:
    signed = DkimSigner.from_file(dkim_key, SELECTOR, DOMAIN).sign(messages[name])
    record = public_key_record(dkim_key.read_bytes())
    assert record.startswith(b"v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA")
    assert dkim.verify(signed, dnsfunc=dns_for(dkim_key))
    changed = re.sub(rb"(?m)^List-Unsubscribe: <", b"List-Unsubscribe: <https://evil.example/u>, <",
                     signed, count=1)  # fmt: skip
    assert changed != signed
    assert not dkim.verify(changed, dnsfunc=dns_for(dkim_key))


def settings_with(key: Path | None, selector: str | None = SELECTOR) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        smtp_url="smtp://127.0.0.1:1",
        mail_from=f"Press Office <press@{DOMAIN}>",
        dkim_private_key=key,
        dkim_selector=selector,
    )


SECRET_LINE = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj"


def broken_keys(folder: Path) -> dict[str, tuple[Path | None, str | None, str]]:
    garbage = folder / "garbage.pem"
    garbage.write_text(f"-----BEGIN PRIVATE KEY-----\n{SECRET_LINE}\n-----END PRIVATE KEY-----\n")
    text = folder / "notes.txt"
    text.write_text(f"my key is {SECRET_LINE}\n")
    small = make_key(folder, bits=512)
    return {
        "missing": (folder / "nowhere.pem", SELECTOR, "cannot read it"),
        "a folder": (folder, SELECTOR, "cannot read it"),  # unreadable, even for root
        "not PEM": (text, SELECTOR, "not an RSA private key in PEM"),
        "corrupt PEM": (garbage, SELECTOR, "not an RSA private key in PEM"),
        "512 bits": (small, SELECTOR, "a 512-bit key"),
        "no selector": (small, None, "DKIM_SELECTOR is not"),
        "no key": (None, SELECTOR, "DKIM_PRIVATE_KEY is not"),
        "bad selector": (small, "press 2024", "is not a DNS label"),
    }


def test_a_key_that_cannot_be_used_pauses_the_channel_and_never_shows(tmp_path: Path) -> None:
    for case, (key, selector, says) in broken_keys(tmp_path).items():
        settings = settings_with(key, selector)
        with pytest.raises(DkimConfigError, match=says):
            DkimSigner.from_settings(settings)
        payload = {"mime": "unused"}
        ctx = SendContext("rel-7", unsubscribe_url="https://press.example.org/unsubscribe/t")
        for sender in (SMTPSender(settings), OutboxSender("email", settings, maildir=True)):
            with pytest.raises(ChannelFault) as caught:
                asyncio.run(sender.deliver(payload, Recipient("a@example.org"), ctx))
            message = str(caught.value)
            assert says in message, case
            assert "\n" not in message and "fix" in message and "publisher resume rel-7" in message
            assert SECRET_LINE not in message and "BEGIN" not in message, case


def test_no_dkim_settings_means_unsigned(smtp_peer: SMTPPeer) -> None:
    assert DkimSigner.from_settings(settings_with(None, None)) is None
    raw = received(smtp_peer, None)["en"]
    assert b"DKIM-Signature" not in raw.split(b"\r\n\r\n", 1)[0]
