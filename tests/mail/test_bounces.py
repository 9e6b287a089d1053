"""Bounces on a real Redis: refused at send time (the rules as the engine applies them through
`record_bounce`) and reported later by delivery status notifications, read from a Maildir and
from an mbox by `publisher bounces import`.

The DSNs in data/dsn/ are real formats: RFC 3464 multipart/report from Postfix (a 5.1.1 "user
unknown", a delay warning), Exchange Online (5.2.2 mailbox full) and Sendmail (two recipients,
one failed and one delayed), and qmail's plain-text QSBMF (a 5.1.1, and a 5.7.1 policy refusal).
"""

from __future__ import annotations

import mailbox
from collections.abc import Callable
from pathlib import Path

import pytest

from publisher import services
from publisher.services.bounces import import_bounces, open_mailbox, record_bounce
from publisher.settings import get_settings
from tests.conftest import publisher_env, run_cli

DSN = Path(__file__).parent / "data" / "dsn"
JOURNALISTS = [
    "gone@example.net", "full@example.com", "slow@example.org", "olduser@example.org",
    "strict@example.com", "nobody@example.net", "busy@example.net", "amira@example.org",
]  # fmt: skip
# The files of one mailbox, in order: the mailbox-full bounce three times (the limit is 3).
FILES = [
    "postfix-user-unknown.eml", "exchange-mailbox-full.eml", "delayed.eml", "qmail-plain.eml",
    "exchange-mailbox-full.eml", "qmail-policy.eml", "two-recipients.eml", "stranger.eml",
    "out-of-office.eml", "exchange-mailbox-full.eml",
]  # fmt: skip


@pytest.fixture
def backend(data_dir: Path) -> services.Backend:
    backend = services.connect(None, get_settings())
    for address in JOURNALISTS:
        services.add_journalist(backend, address, "admin", name=address.split("@")[0])
    return backend


def make_maildir(folder: Path, files: list[str]) -> Path:
    box = mailbox.Maildir(folder, create=True)
    for name in files:
        box.add((DSN / name).read_bytes())
    return folder


def make_mbox(path: Path, files: list[str]) -> Path:
    box = mailbox.mbox(path, create=True)
    for name in files:
        box.add((DSN / name).read_bytes())
    box.flush()
    box.close()
    return path


def state(backend: services.Backend, address: str) -> tuple[str, str]:
    found = backend.store.recipient("email", address)
    assert found is not None, address
    why = found[1]
    return ("subscribed", "") if why is None else (why["state"], why["cause"])


@pytest.mark.parametrize("make", [make_maildir, make_mbox], ids=["maildir", "mbox"])
def test_a_mailbox_of_dsns_follows_the_rules(
    tmp_path: Path, backend: services.Backend, make: Callable[[Path, list[str]], Path]
) -> None:
    result = import_bounces(backend, open_mailbox(make(tmp_path / "bounces", FILES)), "admin")
    lines = [m.line() for m in result.messages]
    for line in lines:
        print(line)
    print(result.summary())
    assert len(lines) == len(FILES)
    # no such user: suppressed at once, matched whatever the case of the DSN's address
    for address in ("gone@example.net", "olduser@example.org", "nobody@example.net"):
        kind, cause = state(backend, address)
        assert kind == "bounced" and "5.1.1" in cause and "User unknown" in cause
    # another permanent failure: counted, suppressed at the third (PUBLISHER_BOUNCE_LIMIT)
    assert "full@example.com hard bounce 1 of 3 counted: 554 5.2.2" in lines[1]
    assert "full@example.com hard bounce 2 of 3 counted" in lines[4]
    assert "full@example.com suppressed (hard bounce 3 of 3)" in lines[9]
    kind, cause = state(backend, "full@example.com")
    assert kind == "bounced" and "3 times" in cause and "5.2.2" in cause
    assert state(backend, "strict@example.com") == ("subscribed", "")  # one policy refusal
    assert backend.store.bounce_counts("email", ["strict@example.com"])["strict@example.com"] == (
        1,
        0,
    )
    # temporary: counted as soft, nothing suppressed
    for address in ("slow@example.org", "busy@example.net"):
        assert state(backend, address) == ("subscribed", "")
        assert backend.store.bounce_counts("email", [address])[address].soft == 1
    assert "slow@example.org soft bounce 1 counted, not suppressed: 4.4.1" in lines[2]
    # someone we never sent to, and a message that is no bounce
    assert "stranger@example.org not a journalist, ignored" in lines[7]
    assert backend.store.recipient("email", "stranger@example.org") is None
    assert lines[8].endswith("not a bounce, skipped")
    assert state(backend, "amira@example.org") == ("subscribed", "")
    totals = result.totals()
    assert (totals["suppressed"], totals["counted"], totals["soft"]) == (4, 3, 2)
    # every suppression is an event with its cause; so is every counted bounce
    events = backend.store.recipient_events("email")
    suppressed = {e["address"]: e for e in events if e["type"] == "suppressed"}
    assert set(suppressed) == {"gone@example.net", "olduser@example.org", "nobody@example.net",
                               "full@example.com"}  # fmt: skip
    assert all(e["state"] == "bounced" and e["cause"] for e in suppressed.values())
    counted = [e for e in events if e["type"] == "bounced"]
    assert len(counted) == 6 and all(e["cause"] for e in counted)  # 4 hard, 2 soft


def test_a_second_import_changes_nothing_more(tmp_path: Path, backend: services.Backend) -> None:
    path = make_maildir(tmp_path / "bounces", ["postfix-user-unknown.eml"])
    import_bounces(backend, open_mailbox(path), "admin")
    again = import_bounces(backend, open_mailbox(path), "admin")
    assert again.messages[0].outcomes[0].action == "already suppressed"


def test_a_bounced_address_is_not_brought_back_by_an_import(
    tmp_path: Path, backend: services.Backend
) -> None:
    import_bounces(backend, open_mailbox(make_maildir(tmp_path / "b", FILES[:1])), "admin")
    csv = tmp_path / "j.csv"
    csv.write_text("email,name\nGONE@example.net,Gone\n", encoding="utf-8")
    report = services.import_journalists(backend, csv, "admin")
    assert (report.added, report.left_out) == (0, 1)
    assert state(backend, "gone@example.net")[0] == "bounced"


@pytest.mark.parametrize(
    ("kind", "expected"),
    [("gone", "suppressed"), ("hard", "counted"), ("soft", "soft"), ("message", "not counted")],
)
def test_a_send_time_refusal_follows_the_same_rules(
    backend: services.Backend, kind: str, expected: str
) -> None:
    reply = "550 5.1.1 <Amira@Example.org>: Recipient address rejected: User unknown"
    outcome = record_bounce(backend, "Amira@Example.org", kind, reply, "system")
    assert (outcome.address, outcome.action) == ("amira@example.org", expected)
    suppressed = state(backend, "amira@example.org")[0] == "bounced"
    assert suppressed is (kind == "gone")


def test_hard_bounces_suppress_at_the_limit_and_a_fresh_start_clears_them(
    backend: services.Backend,
) -> None:
    limit = backend.settings.publisher_bounce_limit
    actions = [
        record_bounce(backend, "amira@example.org", "hard", "552 5.2.2 Mailbox full", "system")
        for _ in range(limit)
    ]
    assert [a.action for a in actions] == ["counted"] * (limit - 1) + ["suppressed"]
    assert [a.hard for a in actions] == list(range(1, limit + 1))
    backend.store.clear_bounces("email", "amira@example.org")
    assert backend.store.bounce_counts("email", ["amira@example.org"]) == {
        "amira@example.org": (0, 0)
    }


def test_the_command_prints_a_line_per_message_and_a_summary(
    tmp_path: Path, backend: services.Backend, data_dir: Path
) -> None:
    env = publisher_env(data_dir)
    path = make_mbox(tmp_path / "bounces.mbox", FILES[:4])
    done = run_cli("bounces", "import", str(path), env=env)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 5
    assert lines[0].startswith("message 1: gone@example.net suppressed (no such user): 550 5.1.1")
    assert lines[-1].startswith("4 messages read: suppressed 2, hard bounces counted 1, soft")


@pytest.mark.parametrize("case", ["missing", "folder", "not an mbox"])
def test_a_bad_path_is_one_line_and_exit_2(tmp_path: Path, data_dir: Path, case: str) -> None:
    path = {"missing": tmp_path / "nowhere", "folder": tmp_path,
            "not an mbox": DSN / "qmail-plain.eml"}[case]  # fmt: skip
    done = run_cli("bounces", "import", str(path), env=publisher_env(data_dir))
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert str(path) in done.stderr and "Maildir" in done.stderr
    assert done.stdout == ""


def test_a_maildir_is_read_in_the_order_its_messages_arrived(
    tmp_path: Path, backend: services.Backend
) -> None:
    # The microseconds in a Maildir name are not zero-padded: by name alone, a message at
    # .M104905 of a second would come before one at .M99999 of the same second.
    folder = make_maildir(tmp_path / "box", [])
    names = [
        "1796281473.M99999P1642Q1.vm",  # first
        "1796281473.M104905P1642Q2.vm",
        "1796281474.M5P1642Q3.vm",
        "1796281474.V801I123M456.mx",  # Postfix's form
    ]
    for name in reversed(names):
        (folder / "new" / name).write_bytes((DSN / "exchange-mailbox-full.eml").read_bytes())
    result = import_bounces(backend, open_mailbox(folder), "admin")
    assert [m.line().split(" (")[1].split(")")[0] for m in result.messages] == names
    lines = [m.line() for m in result.messages]
    assert "hard bounce 1 of 3" in lines[0] and "hard bounce 3 of 3" in lines[2], lines
