"""Commands on newsroom accounts: users who sign in to the web app, and API tokens.

A password is read from the terminal (hidden, asked twice) or, when standard input is not a
terminal, from its first line, so a script can pipe it in; it is never an argument (arguments
show in `ps` and in shell history). A new token is printed once, alone on stdout; what else a
command has to say about it goes to stderr.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Any

import click

from publisher.cli.common import backend, fail, who
from publisher.services import accounts
from publisher.settings import get_settings


def _when(epoch_s: float | None) -> str:
    """An epoch time as ISO 8601 in the organisation's time zone ("" for never)."""
    if not epoch_s:
        return ""
    return datetime.fromtimestamp(epoch_s, get_settings().timezone).isoformat(timespec="seconds")


def _read_password() -> str:
    if sys.stdin.isatty():
        password: str = click.prompt(
            "Password", hide_input=True, confirmation_prompt=True, err=True
        )
        return password
    return sys.stdin.readline().rstrip("\r\n")  # spaces belong to a passphrase


@click.group()
def users() -> None:
    """Newsroom users: who signs in to the web app, and with which role."""


@users.command("add")
@click.argument("name")
@click.option("--role", default=None, help="officer, editor or admin")
def users_add(name: str, role: str | None) -> None:
    """Add a user; the password is asked for (or read from the first line of stdin)."""
    if role is None:
        fail(f"user: role: missing; fix: --role {', '.join(accounts.ROLES)}")
    name, role = accounts.check_user(name, role)  # before asking for a password
    ready = backend()  # Redis away: exit 3 before asking for a password
    user = accounts.add_user(ready, name, role, _read_password(), who())
    click.echo(f"{user.name}: added ({user.role})")


@users.command("list")
@click.option("--json", "as_json", is_flag=True)
def users_list(as_json: bool) -> None:
    """Every user with their role and state."""
    rows: list[dict[str, Any]] = [
        {
            "name": u.name,
            "role": u.role,
            "state": "disabled" if u.disabled else "active",
            "created": _when(u.created),
        }
        for u in accounts.list_users(backend())
    ]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for row in rows:
        click.echo(f"{row['name']}\t{row['role']}\t{row['state']}\t{row['created']}")


@users.command("disable")
@click.argument("name")
def users_disable(name: str) -> None:
    """Disable a user: no more sign-ins, and every session of theirs ends at once."""
    done = accounts.disable_user(backend(), name, who())
    name = accounts.normalise_name(name)
    state = "already disabled" if done.already else "disabled"
    click.echo(f"{name}: {state}; {done.sessions_ended} session(s) ended")


@click.group()
def tokens() -> None:
    """API tokens for programs (a CMS) that use the REST API."""


@tokens.command("create")
@click.option("--name", "name", default=None, help="a name to know and revoke it by")
@click.option("--role", default=accounts.DEFAULT_TOKEN_ROLE, show_default=True)
def tokens_create(name: str | None, role: str) -> None:
    """Make a token; it is printed once, alone on stdout, and kept only as a hash."""
    if name is None:
        fail(f"token: name: missing; fix: --name NAME ({accounts.NAME_FIX})")
    secret = accounts.create_token(backend(), name, role, who())
    click.echo(secret)
    click.echo(
        f"token {accounts.normalise_name(name)} ({role.strip().lower()}) created; "
        "it is not shown again",
        err=True,
    )


@tokens.command("list")
@click.option("--json", "as_json", is_flag=True)
def tokens_list(as_json: bool) -> None:
    """Every token by name, role, when made and when last used (never the token itself)."""
    rows = [
        {
            "name": t.name,
            "role": t.role,
            "created": _when(t.created),
            "last_used": _when(t.last_used) or None,
        }
        for t in accounts.list_tokens(backend())
    ]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for row in rows:
        click.echo(
            f"{row['name']}\t{row['role']}\t{row['created']}\t{row['last_used'] or 'never used'}"
        )


@tokens.command("revoke")
@click.argument("name")
def tokens_revoke(name: str) -> None:
    """Revoke a token at once: its next request gets 401."""
    accounts.revoke_token(backend(), name, who())
    click.echo(f"{accounts.normalise_name(name)}: revoked")


COMMANDS = [users, tokens]
