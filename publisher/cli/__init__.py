"""The `publisher` command line: each command parses its arguments, calls one service
function (`publisher.services`) and prints the answer.

This is the entry point that hands the services their queue: the Celery one from `workers/`,
imported only when a command first queues something.
"""

from __future__ import annotations

import click

from publisher.cli import (
    accounts,
    bounces,
    briefing,
    content,
    processes,
    recipients,
    releases,
    web,
)
from publisher.cli.common import Commands
from publisher.services import Queue


def celery_queue() -> Queue:
    """The services' queue, backed by Celery (imported here, by the entry point, only)."""
    from workers.queue import CeleryQueue

    return CeleryQueue()


@click.group(cls=Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="publisher")
@click.pass_context
def main(ctx: click.Context) -> None:
    """Write a press release once; publish it to Telegram, X, email and the website."""
    ctx.ensure_object(dict)
    ctx.obj.setdefault("make_queue", celery_queue)


for module in (content, releases, recipients, briefing, bounces, accounts, processes, web):
    for command in module.COMMANDS:
        main.add_command(command)


def run() -> None:
    """Entry point of the console script and `python -m publisher`."""
    main()
