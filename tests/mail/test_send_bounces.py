"""Bounces at send time, through the whole pipeline (`publisher publish --wait`, a real worker,
real Redis, aiosmtpd): "no such user" is suppressed at once; other 5xx are counted and suppress
at PUBLISHER_BOUNCE_LIMIT; a 4xx is retried, counted as soft and fails that address alone; each
is a recipient event with its cause, and a suppressed address gets nothing more."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from publisher.store import Store
from publisher.store.keys import k_bounces
from tests.conftest import Worker, publisher_env, run_cli
from tests.peers.smtp import SMTPPeer
from tests.test_pipeline import write_release

GONE, FULL, GREY, FINE = (f"{n}@example.org" for n in ("gone", "full", "grey", "fine"))


@pytest.fixture
def smtp() -> Iterator[SMTPPeer]:
    with SMTPPeer() as peer:
        yield peer


def journalists(env: dict[str, str]) -> dict[str, dict[str, str]]:
    rows = json.loads(run_cli("journalists", "list", "--json", env=env).stdout)
    return {row["email"]: row for row in rows}


def publish(env: dict[str, str], folder: Path, title: str) -> dict[str, int]:
    release = write_release(folder, f"{title}.md", title=title)
    result = run_cli("publish", str(release), "--channels", "email", "--wait", env=env)
    release_id = result.stdout.splitlines()[0]
    report = json.loads(run_cli("status", release_id, "--json", env=env).stdout)
    return report["channels"]["email"]  # type: ignore[no-any-return]


def test_send_time_bounces_follow_the_rules(
    tmp_path: Path, data_dir: Path, smtp: SMTPPeer, workers: list[Worker]
) -> None:
    env = publisher_env(
        data_dir,
        SMTP_URL=smtp.url,
        MAIL_FROM="Press Office <press@example.org>",
        PUBLISHER_BOUNCE_LIMIT="2",
    )
    csv = tmp_path / "journalists.csv"
    csv.write_text("email\n" + "".join(f"{a}\n" for a in (GONE, FULL, GREY, FINE)))
    assert run_cli("journalists", "import", str(csv), env=env).returncode == 0
    smtp.reject = {GONE}
    smtp.replies = {FULL: "552 5.2.2 Mailbox full", GREY: "450 4.2.0 Greylisted, try later"}
    workers.append(Worker(env, log=tmp_path / "worker.log").start())

    first = publish(env, tmp_path, "First release")
    assert Counter(r for m in smtp.messages for r in m.rcpt_tos) == Counter({FINE: 1})
    # The deferring mailbox failed alone after its tries: the channel went on, not paused.
    assert (first["sent"], first["skipped"], first["failed"], first["pending"]) == (1, 1, 2, 0)
    assert smtp.rejected.count(GREY) == 5
    states = journalists(env)
    assert (states[GONE]["state"], states[FULL]["state"]) == ("bounced", "subscribed")
    assert "5.1.1" in states[GONE]["cause"]

    store = Store(redis.Redis.from_url(env["REDIS_URL"]))
    counts = store.bounce_counts("email", [FULL, GREY, FINE])
    assert counts[FULL] == (1, 0) and counts[GREY] == (0, 5) and counts[FINE] == (0, 0)

    smtp.replies = {FULL: "552 5.2.2 Mailbox full"}  # the greylisting is over
    second = publish(env, tmp_path, "Second release")
    assert (second["sent"], second["skipped"], second["failed"]) == (2, 1, 0)
    states = journalists(env)
    assert states[FULL]["state"] == "bounced"
    assert states[FULL]["cause"].startswith("bounced 2 times (PUBLISHER_BOUNCE_LIMIT 2)")

    before = len(smtp.messages)
    third = publish(env, tmp_path, "Third release")
    got = Counter(r for m in smtp.messages[before:] for r in m.rcpt_tos)
    assert got == Counter({GREY: 1, FINE: 1})  # nothing to the two bounced addresses
    assert third["sent"] == 2 and third["skipped"] == 0  # suppressed: not in the audience

    events = [e for e in store.recipient_events("email") if e["type"] in ("bounced", "suppressed")]
    said = [(e["type"], e["address"], e.get("bounce", e.get("state"))) for e in events]
    assert said.count(("bounced", GREY, "soft")) == 5
    assert said.count(("bounced", FULL, "hard")) == 2
    assert ("suppressed", GONE, "bounced") in said and ("suppressed", FULL, "bounced") in said
    assert all(e["cause"] for e in events)
    assert store.redis.hlen(k_bounces("email")) == 2  # FULL's hard count, GREY's soft
