"""The whole pipeline, as a user runs it: `publisher publish --wait` with a real worker process,
real Redis, the real clients against the loopback peers, and a real SMTP server."""

from __future__ import annotations

import json
import signal
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.conftest import Worker, publisher_env, run_cli, wait_until
from tests.peers.smtp import SMTPPeer
from tests.peers.telegram_api import FakeBotAPI
from tests.peers.x_api import FakeXAPI

LONG_BODY = "\n\n".join(
    f"Paragraph {n}: the delegation stressed the need for urgent humanitarian access to the "
    f"region, for the protection of civilians and for an end to the bombardment of towns. " * 3
    for n in range(1, 9)
)


def write_release(folder: Path, name: str = "release.md", **front: str) -> Path:
    fields = {"title": "Delegation meets envoy", "date": "2024-05-01T09:00:00+03:00",
              "category": "Coalition News", "summary": "A short lede."}  # fmt: skip
    fields.update(front)
    lines = ["---", *(f"{k}: {json.dumps(v)}" for k, v in fields.items()), "---", LONG_BODY]
    path = folder / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def peers() -> Iterator[tuple[FakeBotAPI, FakeXAPI, SMTPPeer]]:
    with FakeBotAPI() as bot, FakeXAPI() as x, SMTPPeer() as smtp:
        yield bot, x, smtp


def live_env(
    data_dir: Path, bot: FakeBotAPI, x: FakeXAPI, smtp: SMTPPeer, **extra: str
) -> dict[str, str]:
    """Every channel configured against its loopback peer; `extra` overrides any of it."""
    settings = {
        "TELEGRAM_BOT_TOKEN": bot.token,
        "TELEGRAM_API_URL": bot.base_url,
        "TELEGRAM_CHANNEL": "@press_office",
        "X_CONSUMER_KEY": x.consumer_key,
        "X_CONSUMER_SECRET": x.consumer_secret,
        "X_ACCESS_TOKEN": x.access_token,
        "X_ACCESS_TOKEN_SECRET": x.access_token_secret,
        "X_API_URL": x.base_url,
        "SMTP_URL": smtp.url,
        "MAIL_FROM": "Press Office <press@example.org>",
    }
    return publisher_env(data_dir, **{**settings, **extra})


def import_recipients(
    tmp_path: Path, env: dict[str, str], chats: list[int], emails: list[str]
) -> None:
    subscribers = tmp_path / "chats.txt"
    subscribers.write_text("\n".join(str(c) for c in chats) + "\n")
    assert (
        run_cli(
            "subscribers", "import", "--channel", "telegram", str(subscribers), env=env
        ).returncode
        == 0
    )
    journalists = tmp_path / "journalists.csv"
    journalists.write_text(
        "email,name,language\n" + "".join(f"{e},Name {i},en\n" for i, e in enumerate(emails))
    )
    assert run_cli("journalists", "import", str(journalists), env=env).returncode == 0


def status(env: dict[str, str], release_id: str) -> dict[str, object]:
    result = run_cli("status", release_id, "--json", env=env)
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_everyone_exactly_once_and_blocked_users_unsubscribed(
    tmp_path: Path,
    data_dir: Path,
    peers: tuple[FakeBotAPI, FakeXAPI, SMTPPeer],
    workers: list[Worker],
) -> None:
    bot, x, smtp = peers
    env = live_env(data_dir, bot, x, smtp)
    chats = list(range(1000, 1060))
    bot.blocked = {1003, 1007}
    bot.missing = {1011}
    emails = [f"j{i}@example.org" for i in range(8)]
    smtp.reject = {"j5@example.org"}
    import_recipients(tmp_path, env, chats, emails)
    workers.append(Worker(env, log=tmp_path / "worker.log").start())

    result = run_cli("publish", str(write_release(tmp_path)), "--wait", env=env)
    release_id = result.stdout.splitlines()[0]
    assert result.returncode == 1, result.stderr  # gone recipients make the exit code 1
    assert release_id == "2024-05-01-delegation-meets-envoy"

    per_chat = Counter(r.chat_id for r in bot.requests if r.ok and r.method == "sendMessage")
    rendered = run_cli("render", str(tmp_path / "release.md"), "--json", env=env).stdout
    parts = len(json.loads(rendered)["channels"]["telegram"]["messages"])
    assert parts >= 1
    for chat in chats:
        expected = 0 if chat in (1003, 1007, 1011) else parts
        assert per_chat[chat] == expected, chat
    assert per_chat["@press_office"] == parts
    delivered = Counter(rcpt for m in smtp.messages for rcpt in m.rcpt_tos)
    assert delivered == Counter({e: 1 for e in emails if e != "j5@example.org"})
    assert len(x.live_posts()) >= 2

    report = status(env, release_id)
    channels = report["channels"]
    assert isinstance(channels, dict)
    assert channels["telegram"]["sent"] == 58  # 57 subscribers + the channel
    assert channels["telegram"]["skipped"] == 3
    assert channels["email"]["sent"] == 7 and channels["email"]["skipped"] == 1
    assert channels["x"]["sent"] == 1 and channels["website"]["sent"] == 1
    assert all(c["pending"] == 0 and c["uncertain"] == 0 for c in channels.values())
    kinds = [event["type"] for event in report["events"]]  # type: ignore[union-attr]
    assert kinds[:2] == ["submitted", "published"] and "finished" in kinds or len(kinds) >= 2
    site_index = (data_dir / "site" / "index.html").read_text(encoding="utf-8")
    assert "Delegation meets envoy" in site_index
    page = data_dir / "site" / "releases" / release_id / "index.html"
    assert "Delegation meets envoy" in page.read_text(encoding="utf-8")

    listed = json.loads(
        run_cli("subscribers", "list", "--channel", "telegram", "--json", env=env).stdout
    )
    states = {row["chat_id"]: row["state"] for row in listed}
    blocked = {"1003", "1007", "1011"}
    assert states == {str(c): "blocked" if str(c) in blocked else "subscribed" for c in chats}
    # A blocked user stays out even if a later import lists them again.
    import_recipients(tmp_path, env, [1003], [])
    listed = json.loads(
        run_cli("subscribers", "list", "--channel", "telegram", "--json", env=env).stdout
    )
    assert {row["chat_id"]: row["state"] for row in listed}["1003"] == "blocked"

    again = run_cli("publish", str(tmp_path / "release.md"), "--wait", env=env)
    assert again.stdout.splitlines()[0] == release_id
    assert "nothing new" in again.stderr
    assert (
        Counter(r.chat_id for r in bot.requests if r.ok and r.method == "sendMessage") == per_chat
    )


def test_worker_killed_mid_broadcast_loses_nobody(
    tmp_path: Path,
    data_dir: Path,
    peers: tuple[FakeBotAPI, FakeXAPI, SMTPPeer],
    workers: list[Worker],
) -> None:
    bot, x, smtp = peers
    bot.latency_s = 0.05
    env = live_env(data_dir, bot, x, smtp, TELEGRAM_RATE_LIMIT="400")
    chats = list(range(5000, 7000))
    import_recipients(tmp_path, env, chats, [])
    release = write_release(tmp_path, channels="telegram", title="Short")
    release.write_text(release.read_text().replace(LONG_BODY, "One short paragraph."))
    first = Worker(env, log=tmp_path / "worker1.log").start()
    workers.append(first)
    result = run_cli("publish", str(release), env=env)
    release_id = result.stdout.splitlines()[0]

    def sent() -> int:
        return sum(1 for r in bot.requests if r.ok and r.method == "sendMessage")

    assert wait_until(lambda: sent() >= 300, 60), "the broadcast did not start"
    first.kill(signal.SIGKILL)
    at_kill = sent()
    assert at_kill < len(chats) + 1, "finished before the kill; make the broadcast slower"
    restarted = time.monotonic()
    workers.append(Worker(env, log=tmp_path / "worker2.log").start())
    done = run_cli("publish", str(release), "--wait", env=env, timeout_s=120)
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - restarted < 60

    per_chat = Counter(r.chat_id for r in bot.requests if r.ok and r.method == "sendMessage")
    assert set(chats) <= set(per_chat), "somebody was lost"
    doubled = sum(n - 1 for n in per_chat.values())
    assert doubled <= 2 * 32, doubled  # two worker processes, 32 in flight each
    counts = status(env, release_id)["channels"]["telegram"]  # type: ignore[index]
    assert counts["sent"] == len(chats) + 1
    assert counts["uncertain"] >= doubled
    assert counts["uncertain"] <= 2 * 32


def test_shared_rate_limit_holds_across_two_workers(
    tmp_path: Path,
    data_dir: Path,
    peers: tuple[FakeBotAPI, FakeXAPI, SMTPPeer],
    workers: list[Worker],
) -> None:
    bot, x, smtp = peers
    bot.rate_limit_per_s = 20
    env = live_env(data_dir, bot, x, smtp, TELEGRAM_RATE_LIMIT="20")
    chats = list(range(100, 180))
    import_recipients(tmp_path, env, chats, [])
    release = write_release(tmp_path, channels="telegram", title="Rate")
    release.write_text(release.read_text().replace(LONG_BODY, "One short paragraph."))
    workers.append(Worker(env, concurrency=1, log=tmp_path / "w1.log").start())
    workers.append(Worker(env, concurrency=1, log=tmp_path / "w2.log").start())
    result = run_cli("publish", str(release), "--wait", env=env)
    assert result.returncode == 0, result.stderr
    assert bot.rate_limited == 0
    assert bot.max_in_window(1.0) <= 20
    assert sum(1 for r in bot.requests if r.ok and r.method == "sendMessage") == len(chats) + 1


def test_x_thread_resumed_not_doubled(
    tmp_path: Path,
    data_dir: Path,
    peers: tuple[FakeBotAPI, FakeXAPI, SMTPPeer],
    workers: list[Worker],
) -> None:
    bot, x, smtp = peers
    env = live_env(data_dir, bot, x, smtp)
    x.fail_next(2, status=503)
    workers.append(Worker(env, log=tmp_path / "worker.log").start())
    result = run_cli("publish", str(write_release(tmp_path, channels="x")), "--wait", env=env)
    assert result.returncode == 0, result.stderr
    posts = x.live_posts()
    texts = [p.text for p in posts]
    assert len(texts) == len(set(texts)) >= 2
    for previous, post in zip(posts, posts[1:], strict=False):
        assert post.in_reply_to == previous.id


def test_bad_token_pauses_channel_then_resume_sends_the_rest(
    tmp_path: Path,
    data_dir: Path,
    peers: tuple[FakeBotAPI, FakeXAPI, SMTPPeer],
    workers: list[Worker],
) -> None:
    bot, x, smtp = peers
    env = live_env(data_dir, bot, x, smtp, TELEGRAM_BOT_TOKEN="123:wrong")
    import_recipients(tmp_path, env, list(range(10, 30)), [])
    release = write_release(tmp_path, channels="telegram")
    worker = Worker(env, log=tmp_path / "w1.log").start()
    workers.append(worker)
    result = run_cli("publish", str(release), "--wait", env=env)
    assert result.returncode == 1
    release_id = result.stdout.splitlines()[0]
    report = status(env, release_id)
    assert report["channels"]["telegram"]["paused"] >= 1  # type: ignore[index]
    assert any("token" in e["error"] for e in report["errors"])  # type: ignore[union-attr]

    worker.stop()
    fixed = live_env(data_dir, bot, x, smtp)
    workers.append(Worker(fixed, log=tmp_path / "w2.log").start())
    assert run_cli("resume", release_id, env=fixed).returncode == 0
    done = run_cli("status", release_id, "--json", env=fixed)
    assert wait_until(
        lambda: (
            json.loads(run_cli("status", release_id, "--json", env=fixed).stdout)["channels"][
                "telegram"
            ]["pending"]
            == 0
            and json.loads(run_cli("status", release_id, "--json", env=fixed).stdout)["channels"][
                "telegram"
            ]["paused"]
            == 0
        ),
        60,
        1.0,
    ), done.stdout
    per_chat = Counter(r.chat_id for r in bot.requests if r.ok and r.method == "sendMessage")
    parts = max(per_chat.values())
    assert all(per_chat[c] == parts for c in range(10, 30))


def test_scheduled_release_sent_once_on_time_with_short_visibility_timeout(
    tmp_path: Path,
    data_dir: Path,
    peers: tuple[FakeBotAPI, FakeXAPI, SMTPPeer],
    workers: list[Worker],
) -> None:
    bot, x, smtp = peers
    env = live_env(data_dir, bot, x, smtp, PUBLISHER_VISIBILITY_TIMEOUT_S="1")
    import_recipients(tmp_path, env, [42], [])
    workers.append(Worker(env, log=tmp_path / "w.log").start())
    at = time.time() + 6
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(at))
    result = run_cli(
        "publish", str(write_release(tmp_path, channels="telegram")), "--at", stamp, env=env
    )
    assert result.returncode == 0, result.stderr
    assert "scheduled" in result.stderr
    time.sleep(max(0.0, at - time.time() - 1.5))
    assert not [r for r in bot.requests if r.method == "sendMessage"], "embargo leaked"
    assert wait_until(lambda: any(r.chat_id == 42 for r in bot.requests if r.ok), 20)
    first = min(r.t for r in bot.requests if r.ok and r.method == "sendMessage")
    time.sleep(8)  # several visibility timeouts and ticks later: still once
    per_chat = Counter(r.chat_id for r in bot.requests if r.ok and r.method == "sendMessage")
    parts = per_chat[42]
    assert parts >= 1 and per_chat["@press_office"] == parts
    assert first > 0
    assert redis.Redis.from_url(env["REDIS_URL"]).zcard("pub:schedule") == 0
    # The scheduler that released it is a thread of the worker's main process: the worker is
    # its main process and its two pool processes, no beat process beside them.
    assert len(workers[0].processes()) == 1 + 2


def test_redis_restarted_mid_broadcast_loses_nobody(
    tmp_path: Path,
    peers: tuple[FakeBotAPI, FakeXAPI, SMTPPeer],
    workers: list[Worker],
) -> None:
    from publisher.redis_server import restart_embedded, stop_embedded
    from publisher.settings import Settings
    from tests.redis_fixtures import short_dir

    bot, x, smtp = peers
    bot.latency_s = 0.02
    data_dir = short_dir(tmp_path / "v")
    env = live_env(data_dir, bot, x, smtp, TELEGRAM_RATE_LIMIT="300")
    env.pop("REDIS_URL", None)  # this test's own embedded Redis, which it restarts
    settings = Settings(publisher_data_dir=data_dir, redis_url=None)
    try:
        chats = list(range(20000, 21500))
        import_recipients(tmp_path, env, chats, [])
        release = write_release(tmp_path, channels="telegram", title="Restart")
        release.write_text(release.read_text().replace(LONG_BODY, "One short paragraph."))
        workers.append(Worker(env, log=tmp_path / "worker.log").start())
        run_cli("publish", str(release), env=env)

        def sent() -> int:
            return sum(1 for r in bot.requests if r.ok and r.method == "sendMessage")

        assert wait_until(lambda: sent() >= 200, 60), "the broadcast did not start"
        restart_embedded(settings)
        done = run_cli("publish", str(release), "--wait", env=env, timeout_s=150)
        assert done.returncode == 0, done.stderr
        per_chat = Counter(r.chat_id for r in bot.requests if r.ok and r.method == "sendMessage")
        assert set(chats) <= set(per_chat), "somebody was lost"
        doubled = sum(n - 1 for n in per_chat.values())
        assert doubled <= 2 * 32, doubled
    finally:
        for worker in workers:
            worker.kill()
        stop_embedded(settings)


def test_no_worker_running_says_so(tmp_path: Path, data_dir: Path) -> None:
    env = publisher_env(data_dir)
    started = time.monotonic()
    result = run_cli("publish", str(write_release(tmp_path)), "--wait", env=env)
    assert result.returncode == 3
    assert "no worker is running" in result.stderr and "publisher worker" in result.stderr
    assert time.monotonic() - started < 30
    release_id = result.stdout.splitlines()[0]
    report = status(env, release_id)
    assert report["state"] == "queued"  # still queued: nothing lost


def test_exit_codes_for_unknown_ids_and_unreachable_redis(tmp_path: Path, data_dir: Path) -> None:
    env = publisher_env(data_dir)
    unknown = run_cli("status", "no-such-release", env=env)
    assert unknown.returncode == 2 and "no such release" in unknown.stderr
    down = publisher_env(data_dir, REDIS_URL=f"unix://{tmp_path}/nothing-here.sock")
    result = run_cli("publish", str(write_release(tmp_path)), env=down)
    assert result.returncode == 3
    assert "Redis" in result.stderr and "Traceback" not in result.stderr
    csv_file = tmp_path / "j.csv"
    csv_file.write_text("email,name,language\nok@example.org,Ok,en\nnot-an-address,Bad,en\n")
    imported = run_cli("journalists", "import", str(csv_file), env=env)
    assert imported.returncode == 2
    assert f"{csv_file}:3" in imported.stderr and "1 journalists imported" in imported.stdout


def test_finished_release_records_expire_but_counts_and_failures_stay(
    tmp_path: Path,
    data_dir: Path,
    peers: tuple[FakeBotAPI, FakeXAPI, SMTPPeer],
    workers: list[Worker],
) -> None:
    bot, x, smtp = peers
    env = live_env(data_dir, bot, x, smtp, PUBLISHER_RECORD_TTL_DAYS="0.00003")  # ~2.6 s
    bot.missing = set()
    import_recipients(tmp_path, env, [1, 2, 3], ["a@example.org", "bad@example.org"])
    smtp.reject = {"bad@example.org"}
    workers.append(Worker(env, log=tmp_path / "w.log").start())
    release = write_release(tmp_path, channels="telegram,email")
    result = run_cli("publish", str(release), "--wait", env=env)
    release_id = result.stdout.splitlines()[0]
    client = redis.Redis.from_url(env["REDIS_URL"])
    assert wait_until(lambda: not client.exists(f"pub:d:{release_id}:telegram"), 20, 0.5)
    report = status(env, release_id)
    assert report["channels"]["telegram"]["sent"] == 4  # type: ignore[index]
    assert report["channels"]["email"]["skipped"] == 1  # type: ignore[index]
    before = len(bot.requests)
    again = run_cli("publish", str(release), "--wait", env=env)
    assert "nothing new" in again.stderr
    assert len(bot.requests) == before


def test_bad_input_publishes_nothing(tmp_path: Path, data_dir: Path) -> None:
    env = publisher_env(data_dir)
    client = redis.Redis.from_url(env["REDIS_URL"])
    hostile = write_release(tmp_path, "hostile.md")
    hostile.write_text(hostile.read_text() + '\n<iframe src="https://evil.example"></iframe>\n')
    result = run_cli("publish", str(hostile), env=env)
    assert result.returncode == 2 and "iframe" in result.stderr and not result.stdout
    bad_channel = run_cli("publish", str(write_release(tmp_path)), "--channels", "x,fax", env=env)
    assert bad_channel.returncode == 2 and "fax" in bad_channel.stderr
    broken = tmp_path / "broken.md"
    broken.write_text("---\ntitle: [oops\n---\nbody\n")
    assert run_cli("publish", str(broken), env=env).returncode == 2
    assert not client.keys("pub:*"), "bad input must leave nothing queued or stored"
