"""What the mail tests share: the settings of a press office that signs its mail, a DKIM key
pair made for the test run, and release emails as the SMTP peer receives them.

Messages go the whole way: rendered by the email channel, personalised and DKIM-signed by
`SMTPSender`, sent with smtplib to the aiosmtpd peer on loopback, and taken from the peer's
record of the bytes it received.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

from publisher.briefing import Item, briefing_release, sections
from publisher.channels.base import Recipient, SendContext
from publisher.channels.email import EmailChannel
from publisher.links import unsubscribe_url
from publisher.release import load_release
from publisher.render import RenderContext, body_parts
from publisher.senders.dkim import public_key_record
from publisher.senders.smtp import SMTPSender
from publisher.services.releases import prepare
from publisher.settings import Settings, reload_settings
from tests.peers.smtp import SMTPPeer

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "releases"
RELEASES = {
    "en": EXAMPLES / "2020-02-11-the-assad-regime-forces-on-tuesday-launched-a-deadly-attack.md",
    "ar": EXAMPLES / "2020-02-11-idlib-attack-statement-ar.md",
}
JOURNALISTS = {
    "en": ("Samira Haddad", "samira@example.org"),
    "ar": ("عمر الحلبي", "omar@example.net"),
}
SELECTOR = "press2024"
DOMAIN = "press.example.org"
ADDRESS = "Office 12, 34 Example Street\nIstanbul 34000, Türkiye"
ENV = {
    "PUBLIC_URL": "https://press.example.org",
    "MAIL_FROM": f"Press Office <press@{DOMAIN}>",
    "ORGANISATION_NAME": "Press Office",
    "ORGANISATION_ADDRESS": ADDRESS,
    "PUBLISHER_SECRET_KEY": "mail-tests-secret-key-not-for-production",
}


def make_key(folder: Path, bits: int = 2048) -> Path:
    """A fresh RSA private key in PEM (openssl, as an operator would make one)."""
    openssl = shutil.which("openssl")
    assert openssl, "the mail tests need the openssl command to make a DKIM key"
    path = folder / f"dkim-{bits}.pem"
    subprocess.run([openssl, "genrsa", "-out", str(path), str(bits)], check=True,
                   capture_output=True)  # fmt: skip
    return path


def dns_for(key: Path) -> Any:
    """A dkimpy `dnsfunc` answering the selector's TXT record for `key`, and nothing else."""
    record = public_key_record(key.read_bytes())

    def lookup(name: bytes, timeout: int = 5) -> bytes | None:
        return record if name == f"{SELECTOR}._domainkey.{DOMAIN}.".encode() else None

    return lookup


@contextmanager
def press_office(**extra: str) -> Iterator[Settings]:
    """This process's settings as the press office's (ENV plus `extra`), restored afterwards."""
    values = {**ENV, **extra}
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield reload_settings()
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        reload_settings()


def render(language: str, settings: Settings) -> dict[str, Any]:
    release = load_release(RELEASES[language])
    return EmailChannel.render(release, body_parts(release), RenderContext.from_settings(settings))


def send(
    peer: SMTPPeer, settings: Settings, payload: dict[str, Any], name: str, address: str
) -> bytes:
    """One journalist's copy through SMTPSender; the bytes the peer received."""
    before = len(peer.messages)

    async def go() -> None:
        sender = SMTPSender(settings.model_copy(update={"smtp_url": peer.url}))
        ctx = SendContext("rel-1", unsubscribe_url=unsubscribe_url("email", address, settings))
        try:
            await sender.deliver(payload, Recipient(address, name), ctx)
        finally:
            await sender.close()

    asyncio.run(go())
    assert len(peer.messages) == before + 1
    return peer.messages[-1].data


def received(peer: SMTPPeer, key: Path | None) -> dict[str, bytes]:
    """The English and the Arabic release emails as the peer received them (DKIM-signed with
    `key`, or unsigned when None)."""
    dkim = {"DKIM_PRIVATE_KEY": str(key), "DKIM_SELECTOR": SELECTOR} if key else {}
    with press_office(**dkim) as settings:
        return {
            language: send(peer, settings, render(language, settings), *JOURNALISTS[language])
            for language in RELEASES
        }


BRIEFING_DAY = date(2020, 2, 11)
BRIEFING_ITEMS = {
    "en": [
        ("statement", "Statement on the deadly attack on Idlib", "Press Releases",
         "The Assad regime forces on Tuesday launched a deadly attack on the city of Idlib."),
        ("envoy", "Delegation meets the UN envoy in Geneva", "Coalition News",
         "The delegation stressed the need for urgent humanitarian access."),
        ("council", "Local council reopens two schools in Azaz", "Local News",
         "Two schools reopened after repairs funded by the local council."),
    ],
    "ar": [
        ("statement-ar", "بيان حول الهجوم الدموي على إدلب", "بيانات صحفية",
         "شنت قوات نظام الأسد يوم الثلاثاء هجومًا دمويًا على مدينة إدلب."),
        ("envoy-ar", "الوفد يلتقي المبعوث الأممي في جنيف", "أخبار الائتلاف",
         "شدد الوفد على ضرورة وصول المساعدات الإنسانية بشكل عاجل."),
    ],
}  # fmt: skip


def render_briefing(language: str, settings: Settings) -> dict[str, Any]:
    """The email payload of a day's briefing in `language` (three categories in English)."""
    items = [
        Item(rid, title, lede, f"{settings.public_url}/releases/{rid}/", category)
        for rid, title, category, lede in BRIEFING_ITEMS[language]
    ]
    templates = RenderContext.from_settings(settings).templates
    release = briefing_release(
        BRIEFING_DAY, language, sections(items), templates, settings.organisation_name,
        settings.timezone,
    )  # fmt: skip
    return prepare(release)["channels"]["email"]  # type: ignore[no-any-return]


def received_briefings(peer: SMTPPeer, key: Path) -> dict[str, bytes]:
    """The English and the Arabic briefing as the peer received them, DKIM-signed."""
    with press_office(DKIM_PRIVATE_KEY=str(key), DKIM_SELECTOR=SELECTOR) as settings:
        return {
            language: send(peer, settings, render_briefing(language, settings), *reader)
            for language, reader in JOURNALISTS.items()
        }
