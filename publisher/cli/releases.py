"""Commands on submitted releases: publish, status, deliveries, cancel, resume."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn

from publisher import services
from publisher.cli.common import backend, channel_list, print_status, who


@click.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--at", "at", help="ISO 8601 time (no offset: PUBLISHER_TIMEZONE); beats publish_at")
@click.option("--channels", "channels", help="comma-separated; replaces the file's channels")
@click.option("--wait", is_flag=True, help="block until delivered, then print the report")
@click.option("--retry-failed", is_flag=True, help="send again only to failed recipients")
def publish(
    file: Path, at: str | None, channels: str | None, wait: bool, retry_failed: bool
) -> None:
    """Submit a release; the first line printed is its id."""
    chosen = channel_list(channels)
    when = services.parse_time(at) if at else None
    release = services.load(file)
    result = services.submit(backend(), release, who(), when, chosen, retry_failed)
    click.echo(result.release_id)
    messages = {
        "queued": "queued for delivery",
        "scheduled": f"scheduled for {result.at.isoformat() if result.at else ''}",
        "already-published": "already published: nothing new sent (see --retry-failed)",
        "retrying": f"retrying {result.count} failed deliveries",
    }
    click.echo(messages[result.action], err=True)
    if wait and result.action != "scheduled":
        sys.exit(_wait_for(result.release_id))


def _wait_for(release_id: str) -> int:
    console = Console(stderr=True)
    status: dict[str, Any] = {}
    with Progress(
        TextColumn("{task.description:>9}"),
        BarColumn(),
        TextColumn("{task.fields[detail]}"),
        console=console,
        transient=not console.is_terminal,
    ) as progress:
        bars: dict[str, Any] = {}
        for status in services.watch(backend(), release_id):
            for name, counts in status["channels"].items():
                if name not in bars:
                    bars[name] = progress.add_task(name, total=None, detail="")
                done = counts["sent"] + counts["failed"] + counts["skipped"]
                total = done + counts["pending"] + counts["paused"]
                detail = f"{done}/{total}" + (" paused" if counts.get("paused_reason") else "")
                progress.update(bars[name], total=max(total, 1), completed=done, detail=detail)
    print_status(status)
    return services.exit_code_for(status)


@click.command()
@click.argument("release_id")
@click.option("--json", "as_json", is_flag=True)
def status(release_id: str, as_json: bool) -> None:
    """Per channel: sent / failed / pending / skipped / paused, and the errors."""
    report = services.release_status(backend(), release_id)
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        print_status(report)
    sys.exit(services.exit_code_for(report))


@click.command()
@click.argument("release_id")
@click.option("--channel", "channel")
@click.option("--state", "state")
@click.option("--json", "as_json", is_flag=True)
def deliveries(release_id: str, channel: str | None, state: str | None, as_json: bool) -> None:
    """One line per recipient."""
    rows = services.deliveries(backend(), release_id, channel_list(channel), state)
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


@click.command()
@click.argument("release_id")
def cancel(release_id: str) -> None:
    """Withdraw a scheduled release, or stop a broadcast under way."""
    click.echo(f"{release_id}: {services.cancel(backend(), release_id, who())}")


@click.command()
@click.argument("release_id")
def resume(release_id: str) -> None:
    """Continue channels paused by a channel-wide fault."""
    resumed = services.resume(backend(), release_id, who())
    if not resumed:
        click.echo(f"{release_id}: no channel is paused")
    for channel, count in resumed.items():
        click.echo(f"{release_id}: {channel} resumed, {count} deliveries queued again")


COMMANDS = [publish, status, deliveries, cancel, resume]
