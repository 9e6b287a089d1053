"""Command-line commands that touch the store: publish, status, recipients, the processes."""

from __future__ import annotations

import getpass
import json
import os
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn
from rich.table import Table

from publisher.cli import (
    EXIT_UNAVAILABLE,
    fail,
    main,
    parse_channels,
    user_errors,
)
from publisher.errors import ReleaseErrors
from publisher.settings import get_settings
from publisher.store import Store

WORKER_GRACE_S = 10.0


def who() -> str:
    return os.environ.get("PUBLISHER_USER") or getpass.getuser()


def open_store() -> Store:
    from publisher.redis_server import connect

    with user_errors():
        store = Store(connect())
        store.ping()
    return store


def known_release(store: Store, release_id: str) -> None:
    if not store.release_exists(release_id):
        fail(f"{release_id}: id: no such release; fix: use the id that publish printed")


def parse_at(value: str) -> datetime:
    from publisher.release import parse_datetime

    parsed = parse_datetime(value, get_settings().timezone)
    if parsed is None:
        raise click.BadParameter(f"{value!r} is not ISO 8601 (e.g. 2024-05-01T09:00+03:00)")
    return parsed


def workers_alive(timeout_s: float) -> bool:
    """True once a worker answers a ping (polling up to timeout_s: it may still be starting)."""
    from workers.app import app

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if app.control.ping(timeout=0.5):
                return True
        except Exception:  # noqa: BLE001 - a broker hiccup is the same as no answer
            pass
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.5)


@main.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--at", "at", help="ISO 8601 time (no offset: PUBLISHER_TIMEZONE); beats publish_at")
@click.option("--channels", "channels", help="comma-separated; replaces the file's channels")
@click.option("--wait", is_flag=True, help="block until delivered, then print the report")
@click.option("--retry-failed", is_flag=True, help="send again only to failed recipients")
def publish(
    file: Path, at: str | None, channels: str | None, wait: bool, retry_failed: bool
) -> None:
    """Submit a release; the first line printed is its id."""
    from publisher.publishing import submit
    from publisher.release import load_release, publishing_problems
    from publisher.render import render_all

    chosen = parse_channels(channels)
    when = parse_at(at) if at else None
    with user_errors():
        release = load_release(file)
        problems = publishing_problems(release)
        if problems:
            raise ReleaseErrors(problems)
        rendered = render_all(release)  # every channel must render before anything is queued
    store = open_store()
    from workers.tasks import dispatch, queue_publish

    try:
        result = submit(
            store, release, rendered, queue_publish, who(), when, chosen, retry_failed, dispatch
        )
    except OSError as exc:  # the broker is the same Redis: unreachable means exit 3
        fail(f"cannot queue the release: {exc}", EXIT_UNAVAILABLE)
    click.echo(result.release_id)
    messages = {
        "queued": "queued for delivery",
        "scheduled": f"scheduled for {result.at.isoformat() if result.at else ''}",
        "already-published": "already published: nothing new sent (see --retry-failed)",
        "retrying": f"retrying {result.count} failed deliveries",
    }
    click.echo(messages[result.action], err=True)
    if wait and result.action != "scheduled":
        sys.exit(wait_for(store, release.id))


def wait_for(store: Store, release_id: str) -> int:
    from publisher.delivery import exit_code_for, finished, release_status

    status = release_status(store, release_id)
    if not finished(status) and not workers_alive(WORKER_GRACE_S):
        click.echo(
            "error: no worker is running; start one with `publisher worker` "
            "(the release stays queued and goes out when a worker starts)",
            err=True,
        )
        return EXIT_UNAVAILABLE
    console = Console(stderr=True)
    with Progress(
        TextColumn("{task.description:>9}"),
        BarColumn(),
        TextColumn("{task.fields[detail]}"),
        console=console,
        transient=not console.is_terminal,
    ) as progress:
        bars = {name: progress.add_task(name, total=None, detail="") for name in status["channels"]}
        while True:
            status = release_status(store, release_id)
            for name, counts in status["channels"].items():
                done = counts["sent"] + counts["failed"] + counts["skipped"]
                total = done + counts["pending"] + counts["paused"]
                detail = f"{done}/{total}" + (" paused" if counts.get("paused_reason") else "")
                progress.update(bars[name], total=max(total, 1), completed=done, detail=detail)
            if finished(status):
                break
            time.sleep(0.25)
    print_status(status)
    return exit_code_for(status)


def print_status(status: dict[str, Any]) -> None:
    console = Console()
    table = Table(title=f"{status['id']}  ({status['state']})")
    columns = ("sent", "failed", "pending", "skipped", "paused", "uncertain")
    table.add_column("channel")
    for name in columns:
        table.add_column(name, justify="right")
    for channel, counts in status["channels"].items():
        table.add_row(channel, *(str(counts[c]) for c in columns))
    console.print(table)
    for error in status["errors"][:50]:
        console.print(f"{error['channel']} {error['recipient']}: {error['error']}", markup=False)


@main.command()
@click.argument("release_id")
@click.option("--json", "as_json", is_flag=True)
def status(release_id: str, as_json: bool) -> None:
    """Per channel: sent / failed / pending / skipped / paused, and the errors."""
    from publisher.delivery import exit_code_for, release_status

    store = open_store()
    known_release(store, release_id)
    report = release_status(store, release_id)
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        print_status(report)
    sys.exit(exit_code_for(report))


@main.command()
@click.argument("release_id")
@click.option("--channel", "channel")
@click.option("--state", "state")
@click.option("--json", "as_json", is_flag=True)
def deliveries(release_id: str, channel: str | None, state: str | None, as_json: bool) -> None:
    """One line per recipient."""
    store = open_store()
    known_release(store, release_id)
    channels = parse_channels(channel) or store.release_channels(release_id)
    rows = [
        r.to_json()
        for c in channels
        for r in store.records(release_id, c)
        if state is None or r.state == state
    ]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for row in rows:
        flag = " (possible duplicate)" if row["possible_duplicate"] else ""
        ids = ",".join(row["platform_ids"])
        click.echo(
            f"{row['channel']}\t{row['recipient']}\t{row['state']}\t{row['attempts']}\t"
            f"{ids}\t{row['error']}{flag}"
        )


@main.command()
@click.argument("release_id")
def cancel(release_id: str) -> None:
    """Withdraw a scheduled release, or stop a broadcast under way."""
    from publisher.publishing import cancel as cancel_release

    store = open_store()
    known_release(store, release_id)
    click.echo(f"{release_id}: {cancel_release(store, release_id, who())}")


@main.command()
@click.argument("release_id")
def resume(release_id: str) -> None:
    """Continue channels paused by a channel-wide fault."""
    from publisher.publishing import resume as resume_release
    from workers.tasks import dispatch

    store = open_store()
    known_release(store, release_id)
    resumed = resume_release(store, release_id, who(), dispatch)
    if not resumed:
        click.echo(f"{release_id}: no channel is paused")
    for channel, count in resumed.items():
        click.echo(f"{release_id}: {channel} resumed, {count} deliveries queued again")


@main.group()
def subscribers() -> None:
    """Telegram subscribers."""


@subscribers.command("import")
@click.option("--channel", "channel", required=True, type=click.Choice(["telegram"]))
@click.argument("file", type=click.Path(path_type=Path))
def subscribers_import(channel: str, file: Path) -> None:
    """One chat id or @channel a line (optionally: ,language,category;category)."""
    from publisher.recipients import parse_subscribers

    import_recipients(channel, parse_subscribers, file, "subscribers")


def import_recipients(channel: str, parse: Any, file: Path, noun: str) -> None:
    """Import what is valid; report each bad line (exit 2) after importing the rest."""
    with user_errors():
        entries, problems = parse(file)
    added, suppressed = open_store().add_recipients(channel, entries)
    click.echo(f"{added} {noun} imported, {suppressed} left out (unsubscribed, blocked or bounced)")
    if problems:
        fail("\n".join(str(p) for p in problems))


@subscribers.command("list")
@click.option("--channel", "channel", required=True, type=click.Choice(["telegram"]))
@click.option("--json", "as_json", is_flag=True)
def subscribers_list(channel: str, as_json: bool) -> None:
    """Who is subscribed, with their choices."""
    found = open_store().recipients(channel)
    rows = [{"chat_id": chat, **info} for chat, info in sorted(found.items())]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
    else:
        for row in rows:
            click.echo(
                f"{row['chat_id']}\t{row.get('language', '')}\t"
                f"{';'.join(row.get('categories', []))}"
            )


@main.group()
def journalists() -> None:
    """Journalists who get releases by email."""


@journalists.command("import")
@click.argument("file", type=click.Path(path_type=Path))
def journalists_import(file: Path) -> None:
    """A CSV: a header row, then email,name,language[,beats] (beats separated by ';')."""
    from publisher.recipients import parse_journalists

    import_recipients("email", parse_journalists, file, "journalists")


@main.command()
@click.option("--concurrency", type=int, default=None, help="worker processes (default: CPUs)")
@click.option("--no-beat", is_flag=True, help="do not run the scheduler inside this worker")
@click.option("--loglevel", default="INFO")
def worker(concurrency: int | None, no_beat: bool, loglevel: str) -> None:
    """Run a Celery worker (with the scheduler, unless --no-beat)."""
    open_store()
    get_settings().data_dir.mkdir(parents=True, exist_ok=True)
    from workers.app import QUEUE, app

    argv = [
        "worker",
        f"--loglevel={loglevel}",
        "-Q",
        QUEUE,
        "--without-gossip",
        "--without-mingle",
        "-n",
        f"publisher-{os.getpid()}@%h",
    ]
    if concurrency:
        argv.append(f"--concurrency={concurrency}")
    # Beat runs as a thread of the worker's main process (workers.app.BeatThread), not `-B`.
    app.conf.publisher_beat_thread = not no_beat
    app.worker_main(argv)


@main.command()
@click.option("--loglevel", default="INFO")
def beat(loglevel: str) -> None:
    """Run the scheduler alone (releases embargoed releases, re-queues lost work)."""
    open_store()
    get_settings().data_dir.mkdir(parents=True, exist_ok=True)
    from workers.app import app

    app.start(["beat", f"--loglevel={loglevel}"])


@main.command()
def down() -> None:
    """Stop the embedded Redis of this data dir."""
    from publisher.redis_server import stop_embedded, uses_embedded

    if not uses_embedded():
        click.echo("REDIS_URL is set: no embedded Redis to stop")
        return
    click.echo("embedded Redis stopped" if stop_embedded() else "embedded Redis was not running")
