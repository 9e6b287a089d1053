"""The daily briefing at PUBLISHER_BRIEFING_AT, sent by the workers' own schedulers: two workers,
each with its scheduler, at the briefing time; every daily reader gets one briefing in their
language, instant readers none, and nothing comes twice."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.conftest import Worker, publisher_env, run_cli, wait_until
from tests.peers.smtp import SMTPPeer
from tests.test_pipeline import write_release

JOURNALISTS = {
    "instant@example.org": "en,instant",
    "daily@example.org": "en,daily",
    "both@example.org": "en,both",
    "arabic@example.org": "ar,daily",
}
BRIEFING_READERS = {"daily@example.org", "both@example.org", "arabic@example.org"}


@pytest.fixture
def smtp() -> Iterator[SMTPPeer]:
    with SMTPPeer() as peer:
        yield peer


def briefing_subjects(smtp: SMTPPeer, since: int) -> Counter[tuple[str, str]]:
    return Counter(
        (rcpt, str(m.message["Subject"])) for m in smtp.messages[since:] for rcpt in m.rcpt_tos
    )


def test_two_schedulers_send_each_daily_reader_one_briefing(
    tmp_path: Path, data_dir: Path, smtp: SMTPPeer, workers: list[Worker]
) -> None:
    now = datetime.now(UTC)
    common = {
        "SMTP_URL": smtp.url,
        "MAIL_FROM": "Press Office <press@example.org>",
        "ORGANISATION_NAME": "Press Office",
        "PUBLISHER_TIMEZONE": "UTC",
        "PUBLISHER_SECRET_KEY": "a-secret-both-workers-share",
    }
    later = f"{(now.hour + 12) % 24:02d}:00"  # not due while the releases go out
    env = publisher_env(data_dir, PUBLISHER_BRIEFING_AT=later, **common)
    csv = tmp_path / "journalists.csv"
    csv.write_text(
        "cadence,language,email\n"  # columns in another order than the documented one
        + "".join(f"{v.split(',')[1]},{v.split(',')[0]},{a}\n" for a, v in JOURNALISTS.items())
    )
    assert run_cli("journalists", "import", str(csv), env=env).returncode == 0
    publishing = Worker(env, log=tmp_path / "publishing.log").start()
    workers.append(publishing)
    day = f"{now:%Y-%m-%d}"
    nine = f"{day}T09:00:00+00:00"
    english = write_release(tmp_path, "en.md", title="Statement on aid", date=nine)
    out = run_cli("publish", str(english), "--channels", "email", "--wait", env=env)
    assert out.returncode == 0, out.stderr
    arabic = write_release(
        tmp_path, "ar.md", title="بيان حول المساعدات", date=nine, language="ar",
        translation_of=out.stdout.splitlines()[0],
    )  # fmt: skip
    assert run_cli("publish", str(arabic), "--channels", "email", "--wait", env=env).returncode == 0
    instant = Counter(r for m in smtp.messages for r in m.rcpt_tos)
    assert instant == Counter({"instant@example.org": 1, "both@example.org": 1})
    publishing.stop()

    at = f"{now:%H:%M}"  # due now: both schedulers see it on their first look
    before = len(smtp.messages)
    for n in (1, 2):
        second_dir = tmp_path / f"worker-{n}"
        second_dir.mkdir()
        worker_env = {**env, "PUBLISHER_BRIEFING_AT": at, "PUBLISHER_DATA_DIR": str(second_dir)}
        workers.append(Worker(worker_env, log=tmp_path / f"worker-{n}.log").start())
    assert wait_until(lambda: len(smtp.messages) - before >= len(BRIEFING_READERS), 60)
    time.sleep(12)  # another look of each scheduler: nothing more
    got = briefing_subjects(smtp, before)
    assert sorted(rcpt for rcpt, _ in got) == sorted(BRIEFING_READERS)
    assert all(count == 1 for count in got.values()), got
    subjects = dict(got.keys())
    assert "Statement on aid" not in subjects["daily@example.org"]  # a briefing, not the release
    assert subjects["daily@example.org"] == subjects["both@example.org"]
    assert subjects["arabic@example.org"] != subjects["daily@example.org"]

    for language, readers in (("en", 2), ("ar", 1)):
        result = run_cli("status", f"briefing-{day}-{language}", "--json", env=env)
        email = json.loads(result.stdout)["channels"]["email"]
        assert (email["sent"], email["pending"]) == (readers, 0), (language, email)
