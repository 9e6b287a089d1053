"""Commands on recipients: Telegram subscribers and journalists."""

from __future__ import annotations

import json
from pathlib import Path

import click

from publisher import services
from publisher.cli.common import backend, fail, who


def _report(report: services.ImportReport, noun: str) -> None:
    """Say what was imported, then each bad line (exit 2 after importing the rest)."""
    click.echo(
        f"{report.added} {noun} imported, {report.left_out} left out "
        "(unsubscribed, blocked or bounced)"
    )
    if report.problems:
        fail("\n".join(str(p) for p in report.problems))


@click.group()
def subscribers() -> None:
    """People and chats that subscribe on a messaging channel (Telegram)."""


@subscribers.command("import")
@click.option("--channel", "channel", default="telegram", show_default=True)
@click.argument("file", type=click.Path(path_type=Path))
def subscribers_import(channel: str, file: Path) -> None:
    """One chat id or @channel a line (optionally: ,language,category;category)."""
    _report(services.import_subscribers(backend(), channel, file, who()), "subscribers")


@subscribers.command("list")
@click.option("--channel", "channel", default="telegram", show_default=True)
@click.option("--json", "as_json", is_flag=True)
def subscribers_list(channel: str, as_json: bool) -> None:
    """Who is subscribed (and who stopped or blocked the bot), with their choices."""
    rows = services.list_recipients(backend(), channel)
    for row in rows:
        if "chat_id" in row:
            del row["address"]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for row in rows:
        categories = ";".join(row.get("categories", [])) or "all"
        address = row.get("chat_id") or row["address"]
        click.echo(f"{address}\t{row['state']}\t{row.get('language', '')}\t{categories}")


@subscribers.command("stats")
@click.option("--channel", "channel", default="telegram", show_default=True)
@click.option("--json", "as_json", is_flag=True)
def subscribers_stats(channel: str, as_json: bool) -> None:
    """Subscribers per language and per category."""
    counts = services.stats(backend(), channel)
    if as_json:
        click.echo(json.dumps(counts, ensure_ascii=False, indent=2))
        return
    for kind, values in counts.items():
        for name, count in sorted(values.items()):
            click.echo(f"{kind}\t{name}\t{count}")


@click.group()
def journalists() -> None:
    """Journalists who get releases by email."""


@journalists.command("import")
@click.argument("file", type=click.Path(path_type=Path))
def journalists_import(file: Path) -> None:
    """A CSV whose header names its columns: email,name,language,outlet,beats,cadence."""
    _report(services.import_journalists(backend(), file, who()), "journalists")


@journalists.command("add")
@click.argument("email")
@click.option("--name", default="")
@click.option("--language", default="")
@click.option("--outlet", default="")
@click.option("--beats", default="", help="categories separated by ';' (none: all)")
@click.option("--cadence", default="", help="instant (default), daily or both")
def journalists_add(
    email: str, name: str, language: str, outlet: str, beats: str, cadence: str
) -> None:
    """Add or update one journalist."""
    wanted = [b.strip() for b in beats.split(";") if b.strip()]
    if services.add_journalist(backend(), email, who(), name, language, outlet, wanted, cadence):
        click.echo(f"{email}: added")
    else:
        fail(f"{email}: email: suppressed (unsubscribed or bounced); fix: they sign up again")


@journalists.command("remove")
@click.argument("email")
def journalists_remove(email: str) -> None:
    """Remove one journalist."""
    if not services.remove_journalist(backend(), email, who()):
        fail(f"{email}: email: no such journalist; fix: see publisher journalists list")
    click.echo(f"{email}: removed")


@journalists.command("list")
@click.option("--json", "as_json", is_flag=True)
def journalists_list(as_json: bool) -> None:
    """Every journalist with their choices and state (unsubscribed and bounced ones with why)."""
    rows = [
        {"email": row.pop("address"), **row} for row in services.list_recipients(backend(), "email")
    ]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for row in rows:
        beats = ";".join(row.get("beats", []))
        why = f"\t{row['cause']}" if row.get("cause") else ""
        click.echo(
            f"{row['email']}\t{row.get('name', '')}\t{row.get('language', '')}\t"
            f"{row.get('cadence', 'instant')}\t{beats}\t{row['state']}{why}"
        )


COMMANDS = [subscribers, journalists]
