"""`publisher bounces import PATH`: delivery status notifications that came back later."""

from __future__ import annotations

from pathlib import Path

import click

from publisher.cli.common import backend, who
from publisher.services.bounces import import_bounces, open_mailbox


@click.group()
def bounces() -> None:
    """Bounces that come back after sending (delivery status notifications)."""


@bounces.command("import")
@click.argument("path", type=click.Path(path_type=Path))
def bounces_import(path: Path) -> None:
    """Read a Maildir or an mbox of bounces: suppress, or count, each journalist they name.

    No such user: suppressed at once. Another permanent failure: counted, suppressed at
    PUBLISHER_BOUNCE_LIMIT. A temporary one: counted as soft, nothing suppressed.
    """
    box = open_mailbox(path)  # a bad path is exit 2 before the store is touched
    result = import_bounces(backend(), box, who())
    for report in result.messages:
        click.echo(report.line())
    click.echo(result.summary())


COMMANDS = [bounces]
