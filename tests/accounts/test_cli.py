"""`publisher users` and `publisher tokens` as a person or a script runs them: real processes
over the real Redis, the password from stdin or typed at a real terminal (a pty)."""

from __future__ import annotations

import json
import os
import pty
import select
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from publisher import services
from publisher.cli import main
from publisher.services import accounts
from publisher.services.accounts import Session
from publisher.settings import get_settings
from tests.conftest import PUBLISHER, ROOT, publisher_env, run_cli

PASSWORD = "correct horse battery staple"


def connected() -> services.Backend:
    return services.connect(None, get_settings())


def one_error_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    return lines[0]


def test_users_add_reads_the_password_from_stdin_and_the_user_can_sign_in(data_dir: Path) -> None:
    env = publisher_env(data_dir, PUBLISHER_USER="ops")
    added = run_cli("users", "add", "Amira", "--role", "editor", env=env, stdin=PASSWORD + "\n")
    assert added.returncode == 0, added.stderr
    assert added.stdout == "amira: added (editor)\n"
    assert PASSWORD not in added.stdout + added.stderr
    backend = connected()
    assert isinstance(accounts.authenticate(backend, "amira", PASSWORD, "cli-test"), Session)
    [event] = [e for e in backend.store.account_events() if e["type"] == "user added"]
    assert event["who"] == "ops"

    # Only the first line is the password (a trailing space is part of it).
    spaced = run_cli(
        "users", "add", "karim", "--role", "officer", env=env, stdin=PASSWORD + " \nx\n"
    )
    assert spaced.returncode == 0, spaced.stderr
    assert isinstance(accounts.authenticate(backend, "karim", PASSWORD + " ", "c"), Session)

    listed = run_cli("users", "list", "--json", env=env)
    assert listed.returncode == 0
    rows = json.loads(listed.stdout)
    assert [(r["name"], r["role"], r["state"]) for r in rows] == [
        ("amira", "editor", "active"),
        ("karim", "officer", "active"),
    ]
    assert all(r["created"][:4].isdigit() and "T" in r["created"] for r in rows)
    assert "argon2" not in listed.stdout and "password" not in listed.stdout
    text = run_cli("users", "list", env=env)
    assert text.stdout.splitlines()[0].startswith("amira\teditor\tactive\t")

    disabled = run_cli("users", "disable", "amira", env=env)
    assert disabled.returncode == 0 and disabled.stdout == "amira: disabled; 1 session(s) ended\n"
    again = run_cli("users", "disable", "amira", env=env)
    assert again.stdout == "amira: already disabled; 0 session(s) ended\n"
    assert json.loads(run_cli("users", "list", "--json", env=env).stdout)[0]["state"] == "disabled"


@pytest.mark.parametrize(
    ("args", "stdin", "field"),
    [
        (["users", "add", "amira", "--role", "boss"], PASSWORD, "user: role: 'boss' is not a role"),
        (["users", "add", "amira"], PASSWORD, "user: role: missing"),
        (["users", "add", "amira haddad", "--role", "editor"], PASSWORD, "user: name:"),
        (["users", "add", "amira", "--role", "editor"], "", "user: password: empty"),
        (["users", "add", "amira", "--role", "editor"], "hunter2", "user: password: shorter"),
        (["users", "disable", "nobody"], "", "user: name: no user 'nobody'"),
        (["tokens", "create"], "", "token: name: missing"),
        (["tokens", "create", "--name", "cms", "--role", "root"], "", "token: role: 'root'"),
        (["tokens", "revoke", "nope"], "", "token: name: no token 'nope'"),
    ],
)
def test_bad_input_exits_2_with_one_line_naming_the_field(
    data_dir: Path, args: list[str], stdin: str, field: str
) -> None:
    result = run_cli(*args, env=publisher_env(data_dir), stdin=stdin + "\n")
    assert result.returncode == 2, result.stderr
    line = one_error_line(result.stderr)
    assert line.startswith(f"error: {field}") and "; fix: " in line, line
    if stdin:
        assert stdin not in result.stderr
    assert result.stdout == ""
    assert accounts.list_users(connected()) == [] or args[1] == "disable"


def test_a_second_user_or_token_of_a_name_exits_2(data_dir: Path) -> None:
    env = publisher_env(data_dir)
    args = ["users", "add", "amira", "--role", "editor"]
    assert run_cli(*args, env=env, stdin=PASSWORD).returncode == 0
    again = run_cli(*args, env=env, stdin=PASSWORD)
    assert again.returncode == 2
    assert "a user named 'amira' exists" in one_error_line(again.stderr)
    assert run_cli("tokens", "create", "--name", "cms", env=env).returncode == 0
    twice = run_cli("tokens", "create", "--name", "cms", env=env)
    assert twice.returncode == 2 and twice.stdout == ""
    assert "a token named 'cms' exists" in one_error_line(twice.stderr)


def test_a_token_is_printed_once_alone_and_never_listed(data_dir: Path) -> None:
    env = publisher_env(data_dir)
    made = run_cli("tokens", "create", "--name", "cms", env=env)
    assert made.returncode == 0, made.stderr
    [secret] = made.stdout.splitlines()
    assert made.stdout == secret + "\n" and secret.startswith("pub_")
    assert secret not in made.stderr and "not shown again" in made.stderr
    admin = run_cli("tokens", "create", "--name", "ops", "--role", "admin", env=env)
    assert admin.returncode == 0
    admin_secret = admin.stdout.strip()

    backend = connected()
    found = accounts.token_user(backend, secret)
    assert found is not None and (found.name, found.role) == ("cms", "editor")  # the default

    listed = run_cli("tokens", "list", "--json", env=env)
    rows = json.loads(listed.stdout)
    assert [(r["name"], r["role"]) for r in rows] == [("cms", "editor"), ("ops", "admin")]
    assert rows[0]["last_used"] and rows[1]["last_used"] is None
    text = run_cli("tokens", "list", env=env)
    for output in (listed.stdout + listed.stderr, text.stdout + text.stderr):
        assert secret not in output and admin_secret not in output
        assert secret[4:20] not in output
    assert "never used" in text.stdout

    revoked = run_cli("tokens", "revoke", "cms", env=env)
    assert revoked.returncode == 0 and revoked.stdout == "cms: revoked\n"
    assert accounts.token_user(backend, secret) is None
    assert [r["name"] for r in json.loads(run_cli("tokens", "list", "--json", env=env).stdout)] == [
        "ops"
    ]


@pytest.mark.parametrize(
    "where",
    ["unix://{tmp}/no-such.sock", "redis://:s3cret-pass@127.0.0.1:1/0"],
    ids=["unix", "tcp"],
)
def test_every_accounts_command_exits_3_when_redis_is_away(tmp_path: Path, where: str) -> None:
    env = publisher_env(tmp_path / "var", REDIS_URL=where.format(tmp=tmp_path))
    for args in (
        ["users", "add", "amira", "--role", "editor"],
        ["users", "list", "--json"],
        ["users", "disable", "amira"],
        ["tokens", "create", "--name", "cms"],
        ["tokens", "list"],
        ["tokens", "revoke", "cms"],
    ):
        result = run_cli(*args, env=env, stdin=PASSWORD + "\n", timeout_s=60)
        assert result.returncode == 3, (args, result.stderr)
        line = one_error_line(result.stderr)
        assert "Redis" in line and "s3cret-pass" not in result.stderr, line
        assert result.stdout == ""


def _read_until(fd: int, wanted: bytes, seen: bytearray, after: int = 0) -> int:
    """Read from the pty into `seen` until `wanted` shows past `after`; where it ends."""
    deadline = time.monotonic() + 60
    while wanted not in seen[after:]:
        assert time.monotonic() < deadline, f"no {wanted!r} in {bytes(seen)!r}"
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # EIO: the other side closed
                chunk = b""
            assert chunk, f"closed before {wanted!r}: {bytes(seen)!r}"
            seen.extend(chunk)
    return seen.index(wanted, after) + len(wanted)


def test_users_add_asks_for_the_password_twice_at_a_terminal_without_echo(data_dir: Path) -> None:
    env = publisher_env(data_dir)
    argv = [*PUBLISHER, "users", "add", "lina", "--role", "admin"]
    pid, fd = pty.fork()
    if pid == 0:  # the child: a session of its own on the pty, as at a terminal
        try:
            os.chdir(ROOT)
            os.execve(sys.executable, argv, env)
        finally:
            os._exit(127)
    seen = bytearray()
    try:
        at = _read_until(fd, b"Password: ", seen)
        os.write(fd, b"one passphrase here\n")
        at = _read_until(fd, b"Repeat for confirmation: ", seen, at)
        os.write(fd, b"another passphrase!\n")  # not the same: asked again
        at = _read_until(fd, b"do not match", seen, at)
        at = _read_until(fd, b"Password: ", seen, at)
        os.write(fd, (PASSWORD + "\n").encode())
        at = _read_until(fd, b"Repeat for confirmation: ", seen, at)
        os.write(fd, (PASSWORD + "\n").encode())
        _read_until(fd, b"lina: added (admin)", seen, at)
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0, bytes(seen)
    for typed in (b"one passphrase here", b"another passphrase!", PASSWORD.encode()):
        assert typed not in seen  # the terminal did not echo it
    assert isinstance(accounts.authenticate(connected(), "lina", PASSWORD, "pty"), Session)


def test_the_commands_log_no_password_or_token(
    data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    runner = CliRunner()
    obj = {"make_queue": None}
    added = runner.invoke(
        main, ["users", "add", "amira", "--role", "admin"], input=PASSWORD, obj=obj
    )
    assert added.exit_code == 0, added.output
    made = runner.invoke(main, ["tokens", "create", "--name", "cms"], obj=obj)
    assert made.exit_code == 0, made.output
    secret = made.stdout.strip()
    assert secret.startswith("pub_")
    assert runner.invoke(main, ["tokens", "revoke", "cms"], obj=obj).exit_code == 0
    logged = "\n".join(f"{r.getMessage()} {getattr(r, 'fields', {})!r}" for r in caplog.records)
    assert "user added" in logged and "token created" in logged and "token revoked" in logged
    assert PASSWORD not in logged and secret not in logged
