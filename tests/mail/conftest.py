"""Fixtures of the mail tests: a DKIM key pair, the SMTP peer, the emails it received."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.mail.mailing import make_key, received, received_briefings
from tests.peers.smtp import SMTPPeer


@pytest.fixture(scope="session")
def dkim_key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_key(tmp_path_factory.mktemp("dkim"))


@pytest.fixture(scope="session")
def smtp_peer() -> Iterator[SMTPPeer]:
    with SMTPPeer() as peer:
        yield peer


@pytest.fixture(scope="session")
def signed_mail(smtp_peer: SMTPPeer, dkim_key: Path) -> dict[str, bytes]:
    """{"en": bytes, "ar": bytes}: the release emails as received, DKIM-signed."""
    return received(smtp_peer, dkim_key)


@pytest.fixture(scope="session")
def signed_briefings(smtp_peer: SMTPPeer, dkim_key: Path) -> dict[str, bytes]:
    """{"en": bytes, "ar": bytes}: a day's briefing emails as received, DKIM-signed."""
    return received_briefings(smtp_peer, dkim_key)
