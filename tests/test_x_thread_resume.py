"""An X thread cut short resumes at its first unposted part, whatever cut it short.

Rules of delivery (docs: DESIGN.md): each posted part's platform id is durable before the next
part is posted, and every retry (inline in the task, after `publisher resume`, after a killed
worker's lease expires) continues at the first unposted part, replying to the last posted one.
X refuses a post whose text is already on the account, so a retry that starts over at post 1
ends the thread with a duplicate-content refusal; these tests would see that.

Everything runs as a user runs it: `publisher publish` / `resume` / `deliveries` / `status`, a
real `publisher worker` process, real Redis and the real tweepy client against the loopback X
API (`tests/peers/x_api.py`), whose `fail_when` and `hold` knobs aim a fault at one post.
"""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import tweepy

from tests.conftest import PUBLISHER, ROOT, Worker, publisher_env, run_cli, wait_until
from tests.peers.x_api import FakeXAPI, Post, XRequest, rebased_session

THREAD = 5  # X_THREAD_MAX, and the posts each release below renders to
POSITIONS = range(1, THREAD + 1)


# -- helpers ---------------------------------------------------------------------------------------


@pytest.fixture
def x() -> Iterator[FakeXAPI]:
    with FakeXAPI() as peer:
        yield peer


def x_env(data_dir: Path, x: FakeXAPI) -> dict[str, str]:
    """Only X configured, against the stand-in, with five-post threads."""
    return publisher_env(
        data_dir,
        X_CONSUMER_KEY=x.consumer_key,
        X_CONSUMER_SECRET=x.consumer_secret,
        X_ACCESS_TOKEN=x.access_token,
        X_ACCESS_TOKEN_SECRET=x.access_token_secret,
        X_API_URL=x.base_url,
        X_THREAD_MAX=str(THREAD),
    )


def thread_release(folder: Path, tag: str) -> Path:
    """A release for X only whose every paragraph names `tag` (texts differ between releases,
    so X's duplicate rule only refuses a post of the same release sent twice)."""
    paragraphs = [
        f"Release {tag}, paragraph {n}: the envoy heard the delegation on humanitarian access, "
        f"the protection of civilians and the reopening of crossings for aid convoys."
        for n in range(1, 9)
    ]
    front = {
        "title": f"Thread {tag}",
        "date": "2024-05-01T09:00:00+03:00",
        "category": "Coalition News",
        "summary": f"Lede of {tag}.",
        "channels": "x",
    }
    path = folder / f"{tag}.md"
    lines = ["---", *(f"{k}: {json.dumps(v)}" for k, v in front.items()), "---"]
    path.write_text("\n".join(lines) + "\n" + "\n\n".join(paragraphs) + "\n", encoding="utf-8")
    return path


def run_all(commands: list[list[str]], env: dict[str, str]) -> list[tuple[int, str, str]]:
    """Run several `publisher` commands at once; (exit code, stdout, stderr) of each, in order."""
    running = [
        subprocess.Popen(
            [*PUBLISHER, *args],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for args in commands
    ]
    results = []
    for process in running:
        out, err = process.communicate(timeout=120)
        results.append((process.returncode, out, err))
    return results


def rendered_thread(env: dict[str, str], file: Path) -> list[str]:
    """The thread `publisher render --channel x --json` says a release is."""
    result = run_cli("render", str(file), "--channel", "x", "--json", env=env)
    assert result.returncode == 0, result.stderr
    return [post["text"] for post in json.loads(result.stdout)["channels"]["x"]["posts"]]


def posted_text(request: XRequest) -> str | None:
    """The text of a `POST /2/tweets`, else None."""
    if request.method == "POST" and request.path == "/2/tweets" and isinstance(request.body, dict):
        text = request.body.get("text")
        return text if isinstance(text, str) else None
    return None


def position(x: FakeXAPI, request: XRequest) -> int:
    """Where the post a request asks for would stand in its thread: 1 for a post that replies
    to nothing, else one more than the post it replies to (0: not a post)."""
    if posted_text(request) is None:
        return 0
    by_id = {post.id: post for post in list(x.posts)}
    reply = request.body.get("reply") or {}
    parent = by_id.get(str(reply.get("in_reply_to_tweet_id", ""))) if reply else None
    depth = 1
    while parent is not None:
        depth += 1
        parent = by_id.get(parent.in_reply_to) if parent.in_reply_to else None
    return depth


def is_post(texts: list[str]) -> Callable[[XRequest], bool]:
    """Matches a request posting one of `texts`."""
    return lambda request: posted_text(request) in texts


def post_of(
    x: FakeXAPI, tag: str, first: int, last: int | None = None
) -> Callable[[XRequest], bool]:
    """Matches a request posting, for the release tagged `tag`, post `first` (to `last`, or on
    to the end of the thread when `last` is None)."""

    def match(request: XRequest) -> bool:
        text = posted_text(request)
        if text is None or tag not in text:
            return False
        at = position(x, request)
        return first <= at and (last is None or at <= last)

    return match


def posts_of(x: FakeXAPI, tag: str) -> list[Post]:
    """The posts the stand-in accepted for the release tagged `tag`, in the order accepted."""
    return [post for post in list(x.posts) if tag in post.text]


def attempts_of(x: FakeXAPI, tag: str) -> Counter[str]:
    """How many times each text of the release tagged `tag` was sent (whatever X answered)."""
    return Counter(t for t in (posted_text(r) for r in list(x.requests)) if t and tag in t)


def settled(x: FakeXAPI, tag: str, after: int = 0) -> bool:
    """Nothing more will happen to this thread on its own: all of it is posted, or X refused
    its last post (of the requests from index `after` on) for good (401, 403 duplicate...: a
    4xx other than 429)."""
    if len(posts_of(x, tag)) >= THREAD:
        return True
    answers = [r.status for r in list(x.requests)[after:] if tag in (posted_text(r) or "")]
    return bool(answers) and 400 <= answers[-1] < 500 and answers[-1] != 429


def publish_all(env: dict[str, str], files: list[Path]) -> list[str]:
    """`publisher publish FILE` for each file at once; the release ids."""
    answers = run_all([["publish", str(f)] for f in files], env)
    for code, out, err in answers:
        assert code == 0 and out.strip(), f"publish: exit {code}: {err}"
    return [out.splitlines()[0] for _, out, _ in answers]


def deliveries(env: dict[str, str], release_id: str) -> list[dict[str, Any]]:
    result = run_cli("deliveries", release_id, "--channel", "x", "--json", env=env)
    assert result.returncode in (0, 1), result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


Snapshot = tuple[list[dict[str, Any]], dict[str, int]]
FINAL = ("sent", "failed", "skipped", "paused")


def with_counts(
    env: dict[str, str], release_ids: list[str], records: list[list[dict[str, Any]]]
) -> list[Snapshot]:
    """Each release's records (from `deliveries`) with `status ID --json`'s x counts, asked
    all at once."""
    counts = []
    for code, out, err in run_all([["status", r, "--json"] for r in release_ids], env):
        assert code in (0, 1), err
        counts.append(json.loads(out)["channels"]["x"])
    return list(zip(records, counts, strict=True))


def settle(
    x: FakeXAPI,
    env: dict[str, str],
    tags: list[str],
    release_ids: list[str],
    timeout_s: float,
    after: int = 0,
) -> list[Snapshot]:
    """Wait until each thread has settled on the stand-in and its record is final; then each
    release's records and counts. (The stand-in is watched in-process, and `publisher` asked
    only once a thread has settled: each `publisher` run costs half a second of CPU.)"""
    assert wait_until(lambda: all(settled(x, tag, after) for tag in tags), timeout_s, 0.05), [
        (tag, len(posts_of(x, tag))) for tag in tags if not settled(x, tag, after)
    ]
    records: dict[str, list[dict[str, Any]]] = {}

    def final() -> bool:
        left = [r for r in release_ids if r not in records]
        answers = run_all([["deliveries", r, "--channel", "x", "--json"] for r in left], env)
        for release_id, (code, out, err) in zip(left, answers, strict=True):
            assert code in (0, 1), err
            rows = json.loads(out)
            if rows and all(row["state"] in FINAL for row in rows):
                records[release_id] = rows
        return len(records) == len(release_ids)

    time.sleep(0.2)  # the outcome is written a moment after the last answer
    assert wait_until(final, 30, 0.2), f"records not final: {set(release_ids) - set(records)}"
    return with_counts(env, release_ids, [records[r] for r in release_ids])


class Problems:
    """Failed checks, per release: one run shows every position that breaks, not the first."""

    def __init__(self) -> None:
        self.found: list[str] = []

    @contextmanager
    def about(self, what: str) -> Iterator[None]:
        try:
            yield
        except AssertionError as exc:
            self.found.append(f"{what}: {str(exc).splitlines()[0] if str(exc) else 'failed'}")

    def assert_none(self) -> None:
        assert not self.found, "\n".join(["", *self.found])


def assert_thread_complete(
    x: FakeXAPI, snapshot: Snapshot, release_id: str, tag: str, uncertain: int = 0
) -> dict[str, Any]:
    """The account holds the whole thread once, as one chain, and the record says so."""
    posts = posts_of(x, tag)
    texts = [p.text for p in posts]
    answers = [r.status for r in list(x.requests) if tag in (posted_text(r) or "")]
    assert len(texts) == THREAD, f"{len(texts)} posts on the account; X answered {answers}"
    assert len(set(texts)) == THREAD, "a text was posted twice"
    assert all(not p.deleted for p in posts)
    assert posts[0].in_reply_to is None, "the first post is a reply"
    for previous, post in zip(posts, posts[1:], strict=False):
        assert post.in_reply_to == previous.id, "the chain is broken"
    records, counts = snapshot
    assert len(records) == 1, records
    record = records[0]
    assert record["recipient"] == "account"
    assert record["state"] == "sent", f"record {record['state']}: {record['error']}"
    assert record["platform_ids"] == [p.id for p in posts], f"record {record['platform_ids']}"
    assert bool(record["possible_duplicate"]) is bool(uncertain), record
    assert (counts["sent"], counts["failed"], counts["pending"], counts["paused"]) == (1, 0, 0, 0)
    assert counts["uncertain"] == uncertain, counts
    return record


def sent_twice_only(x: FakeXAPI, tag: str, k: int) -> None:
    """Post k was sent twice (the failed try, then the one that took); every other post once."""
    posts = posts_of(x, tag)
    expected = Counter({p.text: 2 if i == k else 1 for i, p in enumerate(posts, 1)})
    assert attempts_of(x, tag) == expected, f"{tag}: posts sent again"


# -- the stand-in's fault knobs --------------------------------------------------------------------


def test_stand_in_aims_faults_and_holds_requests(x: FakeXAPI) -> None:
    client = tweepy.Client(**x.credentials)
    client.session = rebased_session(x.base_url)
    x.fail_when(is_post(["b"]), 503)
    x.fail_next(1, 429, reset_in_s=0)
    with pytest.raises(tweepy.TooManyRequests):  # not aimed at: fail_next's queue answers...
        client.create_tweet(text="a")
    client.create_tweet(text="a")
    with pytest.raises(tweepy.TwitterServerError):
        client.create_tweet(text="b")  # ...while "b" meets its own fault, once
    client.create_tweet(text="b")
    x.fail_when(is_post(["c", "d"]), 401, times=None)
    for text in ("c", "d", "c"):
        with pytest.raises(tweepy.Unauthorized):
            client.create_tweet(text=text)
    x.clear_failures()
    client.create_tweet(text="c")
    assert [r.status for r in x.requests] == [429, 201, 503, 201, 401, 401, 401, 201]

    for accept, text in ((False, "e"), (True, "f")):
        held = x.hold(is_post([text]))
        outcome: list[object] = []

        def post(text: str = text, outcome: list[object] = outcome) -> None:
            outcome.append(_try(lambda: client.create_tweet(text=text)))

        sender = threading.Thread(target=post)
        sender.start()
        assert held.arrived.wait(5) and held.request is not None
        assert posted_text(held.request) == text and sender.is_alive()
        held.release(accept=accept)
        sender.join(5)
        assert isinstance(outcome[0], dict if accept else tweepy.TwitterServerError)
    assert [p.text for p in x.posts] == ["a", "b", "c", "f"]


def _try(call: Callable[[], Any]) -> object:
    try:
        return call().data
    except Exception as exc:  # noqa: BLE001 - handed back to the test
        return exc


# -- 1. an inline retry in the task ----------------------------------------------------------------

FAULTS = [(503, 1.0), (429, 0.0)]  # a server error; a rate limit whose reset is a second away


def test_fault_once_at_every_position_continues_at_that_post(
    tmp_path: Path, data_dir: Path, x: FakeXAPI, workers: list[Worker]
) -> None:
    """X answers 503 (and, in another release, 429 with a short reset) once to post k of a
    five-post thread, for every k: the task's own retry posts post k, replying to post k-1
    (not post 1 again), and the thread completes, recorded post by post. One release per
    (fault, k), all on one worker."""
    env = x_env(data_dir, x)
    cases = [(status, reset_s, k) for status, reset_s in FAULTS for k in POSITIONS]
    tags = [f"fault-{status}-at-{k}" for status, _, k in cases]
    files = [thread_release(tmp_path, tag) for tag in tags]
    for (status, reset_s, k), tag in zip(cases, tags, strict=True):
        x.fail_when(post_of(x, tag, k, k), status, reset_in_s=reset_s)
    workers.append(Worker(env, log=tmp_path / "worker.log").start())

    release_ids = publish_all(env, files)
    states = settle(x, env, tags, release_ids, 90)

    problems = Problems()
    for release_id, (status, _, k), tag, snapshot in zip(
        release_ids, cases, tags, states, strict=True
    ):
        with problems.about(f"{status} at post {k}"):
            assert_thread_complete(x, snapshot, release_id, tag)
            sent_twice_only(x, tag, k)
            kth = posts_of(x, tag)[k - 1].text
            answers = [r.status for r in x.requests if posted_text(r) == kth]
            assert answers == [status, 201], f"post {k} answered {answers}"
    problems.assert_none()
    assert [p.text for p in posts_of(x, tags[0])] == rendered_thread(env, files[0])
    assert len(x.posts) == THREAD * len(files)


def test_x_takes_the_post_then_answers_503_at_every_position_the_retry_adopts_it(
    tmp_path: Path, data_dir: Path, x: FakeXAPI, workers: list[Worker]
) -> None:
    """X makes post k and still answers 503 (it failed after taking it), for every k: the
    task's retry is refused as duplicate content, finds post k on the account and goes on
    from it. Nothing is posted twice and the record holds every id."""
    env = x_env(data_dir, x)
    tags = [f"taken-503-at-{k}" for k in POSITIONS]
    files = [thread_release(tmp_path, tag) for tag in tags]
    for k, tag in zip(POSITIONS, tags, strict=True):
        x.fail_when(post_of(x, tag, k, k), 503, accept=True)
    workers.append(Worker(env, log=tmp_path / "worker.log").start())
    release_ids = publish_all(env, files)
    states = settle(x, env, tags, release_ids, 90)
    problems = Problems()
    for release_id, k, tag, snapshot in zip(release_ids, POSITIONS, tags, states, strict=True):
        with problems.about(f"post {k} taken, then 503"):
            assert_thread_complete(x, snapshot, release_id, tag)
    problems.assert_none()


def test_a_fault_on_every_post_of_one_thread_does_not_pause_it(
    tmp_path: Path, data_dir: Path, x: FakeXAPI, workers: list[Worker]
) -> None:
    """One 503 on each of the five posts, each retried successfully: progress between faults
    renews the retry budget, so the thread completes instead of pausing X."""
    env = x_env(data_dir, x)
    tag = "fault-on-every-post"
    files = [thread_release(tmp_path, tag)]
    for k in POSITIONS:
        x.fail_when(post_of(x, tag, k, k), 503)
    workers.append(Worker(env, log=tmp_path / "worker.log").start())
    release_ids = publish_all(env, files)
    (snapshot,) = settle(x, env, [tag], release_ids, 90)
    problems = Problems()
    with problems.about("a 503 on every post"):
        assert_thread_complete(x, snapshot, release_ids[0], tag)
    problems.assert_none()


# -- 2. after `publisher resume` -------------------------------------------------------------------


def test_bad_credentials_at_every_position_resume_continues_at_that_post(
    tmp_path: Path, data_dir: Path, x: FakeXAPI, workers: list[Worker]
) -> None:
    """From post k of release k on, X answers 401 (credentials revoked): the channel pauses with
    posts 1..k-1 posted and their ids recorded; once the fault is gone, `publisher resume`
    posts k..5, post k replying to post k-1, and nothing is posted twice."""
    env = x_env(data_dir, x)
    tags = [f"revoked-at-{k}" for k in POSITIONS]
    files = [thread_release(tmp_path, tag) for tag in tags]
    for k, tag in zip(POSITIONS, tags, strict=True):
        x.fail_when(post_of(x, tag, k), 401, times=None)
    workers.append(Worker(env, log=tmp_path / "worker.log").start())

    release_ids = publish_all(env, files)
    states = settle(x, env, tags, release_ids, 60)

    problems = Problems()
    for k, tag, (records, counts) in zip(POSITIONS, tags, states, strict=True):
        with problems.about(f"paused at post {k}"):
            assert (counts["paused"], counts["sent"], counts["failed"]) == (1, 0, 0), counts
            before = posts_of(x, tag)
            assert len(before) == k - 1, f"{len(before)} posts before the pause"
            (record,) = records
            assert record["state"] == "paused", f"record {record['state']}: {record['error']}"
            assert record["platform_ids"] == [p.id for p in before], (
                f"record keeps {record['platform_ids']} of the {k - 1} posts made"
            )
            assert sum(attempts_of(x, tag).values()) == k, f"did not stop at post {k}"

    x.clear_failures()
    resumed_at = len(x.requests)
    for code, out, err in run_all([["resume", release_id] for release_id in release_ids], env):
        assert code == 0, out + err
    states = settle(x, env, tags, release_ids, 60, after=resumed_at)

    for release_id, k, tag, snapshot in zip(release_ids, POSITIONS, tags, states, strict=True):
        with problems.about(f"resumed from post {k}"):
            assert_thread_complete(x, snapshot, release_id, tag)
            sent_twice_only(x, tag, k)
    problems.assert_none()
    assert len(x.posts) == THREAD * len(files)


# -- 3. after a killed worker's lease expires ------------------------------------------------------


def test_worker_killed_with_post_in_flight_next_worker_continues_there(
    tmp_path: Path, data_dir: Path, x: FakeXAPI, workers: list[Worker]
) -> None:
    """The worker is SIGKILLed while post 3 is in flight (the stand-in holds it; X never takes
    it). Posts 1 and 2 were recorded before post 3 left; once the claim expires, the next
    worker posts 3, 4 and 5, post 3 replying to post 2. Only the in-flight post is sent again,
    and the record is flagged as a possible duplicate, as every send in flight at a crash is."""
    k = 3
    env = x_env(data_dir, x)
    tag = f"killed-at-{k}"
    files = [thread_release(tmp_path, tag)]
    held = x.hold(post_of(x, tag, k, k))
    first = Worker(env, log=tmp_path / "worker1.log").start()
    workers.append(first)

    (release_id,) = publish_all(env, files)
    assert held.arrived.wait(60), f"post {k} never left"
    before = posts_of(x, tag)
    assert len(before) == k - 1
    (record,) = deliveries(env, release_id)
    assert record["state"] not in FINAL, record
    assert record["platform_ids"] == [p.id for p in before], "posted ids not durable yet"

    first.kill(signal.SIGKILL)
    held.release(accept=False)  # the request died with its worker: X never took the post
    workers.append(Worker(env, log=tmp_path / "worker2.log").start())
    (snapshot,) = settle(x, env, [tag], [release_id], 90)

    record = assert_thread_complete(x, snapshot, release_id, tag, uncertain=1)
    sent_twice_only(x, tag, k)  # posts 1 and 2 never again; post 3 once more
    assert record["possible_duplicate"]
    assert len(x.posts) == THREAD


def test_worker_killed_after_x_accepted_the_post_in_flight_next_worker_adopts_it(
    tmp_path: Path, data_dir: Path, x: FakeXAPI, workers: list[Worker]
) -> None:
    """The worker is SIGKILLed while post 3 is in flight, and X takes the post all the same (the
    stand-in creates it once its client has gone): the account holds post 3, the record only
    posts 1 and 2. Once the claim expires, the next worker's resend of post 3 is refused as
    duplicate content; the record being a possible duplicate, the worker finds post 3 on the
    account, adopts its id and posts 4 and 5 replying to it. The thread is whole, post 3 on the
    account once, and the record says it was uncertain."""
    k = 3
    env = x_env(data_dir, x)
    tag = f"killed-accepted-at-{k}"
    files = [thread_release(tmp_path, tag)]
    held = x.hold(post_of(x, tag, k, k))
    first = Worker(env, log=tmp_path / "worker1.log").start()
    workers.append(first)

    (release_id,) = publish_all(env, files)
    assert held.arrived.wait(60), f"post {k} never left"
    assert len(posts_of(x, tag)) == k - 1

    first.kill(signal.SIGKILL)
    held.release(accept=True)  # X takes the post though nobody hears the answer
    assert wait_until(lambda: len(posts_of(x, tag)) == k, 10, 0.05), "X never took post 3"
    (record,) = deliveries(env, release_id)
    assert len(record["platform_ids"]) == k - 1, record
    workers.append(Worker(env, log=tmp_path / "worker2.log").start())
    (snapshot,) = settle(x, env, [tag], [release_id], 90)

    record = assert_thread_complete(x, snapshot, release_id, tag, uncertain=1)
    sent_twice_only(x, tag, k)  # post 3 sent twice, on the account once
    kth = posts_of(x, tag)[k - 1].text
    assert [r.status for r in x.requests if posted_text(r) == kth] == [201, 403]
    assert record["possible_duplicate"]
    assert len(x.posts) == THREAD
