"""What every command shares: exit codes, one-line errors, the backend, who is acting.

Exit codes, for every command: 0 done; 1 a delivery failed or a channel is paused; 2 bad input
(one line per problem); 3 Redis or the workers cannot be reached.
"""

from __future__ import annotations

import getpass
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import click
from rich.console import Console
from rich.table import Table

from publisher import services
from publisher.errors import PublisherError, StoreUnavailable
from publisher.services.status import COUNTS
from publisher.settings import get_settings

EXIT_BAD_INPUT, EXIT_UNAVAILABLE = 2, 3  # 0 and 1 come from the services' exit_code_for


def fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    """Print one line per problem on stderr and exit with the contract's code."""
    for line in message.splitlines() or [message]:
        click.echo(line if line.startswith("error") else f"error: {line}", err=True)
    sys.exit(code)


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn our exceptions into one-line messages and exit codes; never a traceback."""
    try:
        yield
    except StoreUnavailable as exc:
        fail(str(exc), EXIT_UNAVAILABLE)
    except PublisherError as exc:  # bad input: a release, a template, a CSV, an id, a channel
        fail(str(exc))


class Commands(click.Group):
    """The command group: every command below it runs inside `user_errors`."""

    def invoke(self, ctx: click.Context) -> Any:
        with user_errors():
            return super().invoke(ctx)


def backend() -> services.Backend:
    """This invocation's backend (store opened on first use, queue as the entry point gave)."""
    ctx = click.get_current_context()
    root = ctx.find_root()
    root.ensure_object(dict)
    if "backend" not in root.obj:
        root.obj["backend"] = services.connect(root.obj.get("make_queue"))
    found: services.Backend = root.obj["backend"]
    return found


def who() -> str:
    """Who is acting, for the event stream: PUBLISHER_USER, else the login name."""
    return get_settings().publisher_user or getpass.getuser()


def channel_list(value: str | None) -> list[str] | None:
    """`--channels a,b` / `--channel a` -> a list (unknown names: exit 2)."""
    if value is None:
        return None
    return services.channel_names([v.strip().lower() for v in value.split(",") if v.strip()])


def print_status(status: dict[str, Any]) -> None:
    """A release's status as a table, then its errors (at most 50 lines)."""
    console = Console()
    table = Table(title=f"{status['id']}  ({status['state']})")
    table.add_column("channel")
    for name in COUNTS:
        table.add_column(name, justify="right")
    for channel, counts in status["channels"].items():
        table.add_row(channel, *(str(counts[c]) for c in COUNTS))
    console.print(table)
    for channel, counts in status["channels"].items():
        for kind, values in counts.get("audience", {}).items():
            shares = ", ".join(f"{name} {count}" for name, count in sorted(values.items()))
            console.print(f"{channel} audience by {kind}: {shares}", markup=False)
    for error in status["errors"][:50]:
        console.print(f"{error['channel']} {error['recipient']}: {error['error']}", markup=False)
