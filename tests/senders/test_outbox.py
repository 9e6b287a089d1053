"""Dry runs: what a channel without credentials would have sent, on disk; and the factory."""

from __future__ import annotations

import asyncio
import json
import mailbox
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest

from publisher.channels.base import Recipient, SendContext
from publisher.channels.email import EmailChannel
from publisher.errors import UnknownChannelError
from publisher.links import read_token
from publisher.release import release_from_mapping
from publisher.render import RenderContext, Templates, body_parts
from publisher.senders import make_sender
from publisher.senders.outbox import OutboxSender
from publisher.senders.smtp import SMTPSender
from publisher.senders.telegram import TelegramSender
from publisher.senders.x import XSender
from publisher.settings import Settings

UNSUBSCRIBE = "https://press.example.org/unsubscribe/email/abc.sig"
TELEGRAM = {
    "messages": [
        {"text": "<b>Title</b>", "parse_mode": "HTML"},
        {"text": "Body", "parse_mode": "HTML"},
        {"photo": "https://press.example.org/a.jpg", "caption": "A", "parse_mode": "HTML"},
    ]
}


def settings_for(data_dir: Path, **values: Any) -> Settings:
    return Settings(_env_file=None, publisher_data_dir=data_dir, **values)  # type: ignore[call-arg]


def deliver(
    sender: OutboxSender, payload: dict[str, Any], address: str, ctx: SendContext
) -> list[str]:
    async def go() -> list[str]:
        await sender.start()
        return await sender.deliver(payload, Recipient(address, "Samira Haddad"), ctx)

    return asyncio.run(go())


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


def test_each_send_is_one_json_line(tmp_path: Path) -> None:
    sender = OutboxSender("telegram", settings_for(tmp_path))
    assert sender.dry_run
    first = deliver(sender, TELEGRAM, "42", SendContext("rel-1"))
    deliver(sender, TELEGRAM, "@press_channel", SendContext("rel-1"))
    assert first == ["outbox:1", "outbox:2", "outbox:3"]
    written = lines(tmp_path / "outbox" / "telegram" / "rel-1.jsonl")
    assert [line["recipient"] for line in written] == ["42", "@press_channel"]
    assert written[0]["parts"] == TELEGRAM["messages"]
    assert written[0]["at"].endswith("+00:00")


def test_a_resumed_dry_run_records_only_the_rest(tmp_path: Path) -> None:
    sender = OutboxSender("x", settings_for(tmp_path))
    payload = {"posts": [{"text": "1/3"}, {"text": "2/3"}, {"text": "3/3"}]}
    ids = deliver(sender, payload, "account", SendContext("rel-2", done_parts=["outbox:1"]))
    assert ids == ["outbox:1", "outbox:2", "outbox:3"]
    written = lines(tmp_path / "outbox" / "x" / "rel-2.jsonl")
    assert written[0]["parts"] == [{"text": "2/3"}, {"text": "3/3"}]


def _append_many(data_dir: str, worker: int) -> None:
    sender = OutboxSender("telegram", settings_for(Path(data_dir)))
    long_text = {"messages": [{"text": f"{worker}:" + "x" * 5000, "parse_mode": "HTML"}]}

    async def go() -> None:
        for i in range(100):
            await sender.deliver(long_text, Recipient(f"{worker}-{i}"), SendContext("rel-3"))

    asyncio.run(go())


def test_several_processes_append_whole_lines(tmp_path: Path) -> None:
    # spawn, not fork: other tests leave server threads in this process
    with ProcessPoolExecutor(4, mp_context=multiprocessing.get_context("spawn")) as pool:
        list(pool.map(_append_many, [str(tmp_path)] * 4, range(4)))
    written = lines(tmp_path / "outbox" / "telegram" / "rel-3.jsonl")
    assert len(written) == 400
    assert len({line["recipient"] for line in written}) == 400


@pytest.fixture(scope="module")
def email_payload() -> dict[str, Any]:
    release = release_from_mapping(
        {"title": "Press release", "date": "2020-02-11T10:00:00+02:00", "body": "Body.\n"}
    )
    ctx = RenderContext("https://press.example.org", 5, "Press Office", Templates())
    return EmailChannel.render(release, body_parts(release), ctx)


def test_an_email_dry_run_lands_in_a_maildir(tmp_path: Path, email_payload: dict[str, Any]) -> None:
    sender = make_sender("email", settings_for(tmp_path))
    assert isinstance(sender, OutboxSender) and sender.dry_run
    ctx = SendContext("rel-4", unsubscribe_url=UNSUBSCRIBE)
    ids = deliver(sender, email_payload, "samira@example.org", ctx)
    box = mailbox.Maildir(tmp_path / "maildir", create=False)
    assert ids == [f"maildir:{key}" for key in box.keys()]
    message = message_from_bytes(box.get_bytes(box.keys()[0]), policy=policy.default)
    assert message["To"] == "Samira Haddad <samira@example.org>"
    assert message["List-Unsubscribe"] == f"<{UNSUBSCRIBE}>"
    assert message["Subject"] == "Press release"
    assert message["Message-ID"].endswith("@localhost>")  # MAIL_FROM's domain
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    preferences = read_token(text.split("/preferences/")[1].split()[0], "preferences",
                             settings_for(tmp_path))  # fmt: skip
    assert preferences == ("email", "samira@example.org")
    assert "DKIM-Signature" not in message  # no DKIM settings: unsigned
    written = lines(tmp_path / "outbox" / "email" / "rel-4.jsonl")
    assert written[0]["recipient"] == "samira@example.org"
    assert written[0]["maildir"] == box.keys()[0]


def test_the_factory_picks_real_senders_only_with_credentials(tmp_path: Path) -> None:
    bare = settings_for(tmp_path)
    for channel in ("telegram", "x", "email"):
        sender = make_sender(channel, bare, None)
        assert isinstance(sender, OutboxSender) and sender.channel == channel
    full = settings_for(
        tmp_path,
        telegram_bot_token="1:token",
        x_consumer_key="k",
        x_consumer_secret="s",
        x_access_token="t",
        x_access_token_secret="ts",
        smtp_url="smtp://127.0.0.1:2525",
    )
    assert isinstance(make_sender("telegram", full, None), TelegramSender)
    assert isinstance(make_sender("x", full, None), XSender)
    assert isinstance(make_sender("email", full, None), SMTPSender)
    # Three of the four X keys are not enough.
    assert isinstance(make_sender("x", settings_for(tmp_path, x_consumer_key="k")), OutboxSender)


def test_the_factory_refuses_an_unknown_channel(tmp_path: Path) -> None:
    with pytest.raises(UnknownChannelError, match="mastodon"):
        make_sender("mastodon", settings_for(tmp_path), None)
