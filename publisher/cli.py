"""The `publisher` command line.

Exit codes, for every command: 0 done; 1 a delivery failed or a channel is paused; 2 bad input
(one line per problem); 3 Redis or the workers cannot be reached.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click

from publisher.errors import PublisherError, ReleaseErrors, RenderError, StoreUnavailable
from publisher.release import Release, publishing_problems
from publisher.settings import CHANNEL_NAMES

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_UNAVAILABLE = 0, 1, 2, 3

F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str, code: int = EXIT_BAD_INPUT) -> None:
    """Print one line per problem on stderr and exit with the contract's code."""
    for line in message.splitlines() or [message]:
        click.echo(f"error: {line}" if not line.startswith("error") else line, err=True)
    sys.exit(code)


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn our exceptions into one-line messages and exit codes; never a traceback."""
    try:
        yield
    except StoreUnavailable as exc:
        fail(str(exc), EXIT_UNAVAILABLE)
    except PublisherError as exc:  # bad input: a release, a template, a CSV
        fail(str(exc))


def parse_channels(value: str | None) -> list[str] | None:
    """`--channels a,b` / `--channel a` -> a list, rejecting unknown names with exit 2."""
    if value is None:
        return None
    names = [v.strip().lower() for v in value.split(",") if v.strip()]
    unknown = [n for n in names if n not in CHANNEL_NAMES]
    if unknown or not names:
        raise click.BadParameter(
            f"unknown channel {', '.join(unknown) or value!r}; use {', '.join(CHANNEL_NAMES)}"
        )
    return names


def warn_hostile(release: Release) -> None:
    """Rendering strips hostile HTML; say so, since `publish` will refuse the file."""
    for problem in publishing_problems(release):
        click.echo(f"warning: {problem} (stripped here; publish refuses it)", err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="publisher")
def main() -> None:
    """Write a press release once; publish it to Telegram, X, email and the website."""


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
def validate(files: tuple[Path, ...]) -> None:
    """Check release files; exit 2 with one line per problem."""
    from publisher.release import load_release, publishing_problems
    from publisher.render import render_all

    problems: list[str] = []
    for path in files:
        try:
            release = load_release(path)
            problems.extend(str(p) for p in publishing_problems(release))
            render_all(release)
        except (ReleaseErrors, RenderError) as exc:
            problems.extend(str(exc).splitlines())
    if problems:
        fail("\n".join(problems))
    click.echo(f"{len(files)} release file{'s' if len(files) != 1 else ''} valid")


@main.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--channel", "channel", help="only this channel")
@click.option("--json", "as_json", is_flag=True, help="print the JSON payloads")
def render(file: Path, channel: str | None, as_json: bool) -> None:
    """Print exactly what would be sent, per channel."""
    from publisher.release import load_release
    from publisher.render import render_all

    channels = parse_channels(channel)
    with user_errors():
        release = load_release(file)
        rendered = render_all(release, channels)
    warn_hostile(release)
    for payload in rendered["channels"].values():  # internal keys are not sent to anyone
        for key in [k for k in payload if k.startswith("_")]:
            del payload[key]
    if as_json:
        click.echo(json.dumps(rendered, ensure_ascii=False, indent=2))
    else:
        from publisher.preview import print_plain

        print_plain(rendered)


@main.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--channel", "channel", help="only this channel")
def preview(file: Path, channel: str | None) -> None:
    """Show each channel's rendering for people, with length counters."""
    from publisher.preview import print_preview
    from publisher.release import load_release
    from publisher.render import render_all

    channels = parse_channels(channel)
    with user_errors():
        release = load_release(file)
        print_preview(release, render_all(release, channels))
    warn_hostile(release)


@main.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--out", "out", type=click.Path(path_type=Path), default=Path("."))
def import_page(file: Path, out: Path) -> None:
    """Turn a plain-text news page into release files (never overwrites)."""
    from publisher.importer import import_file

    with user_errors():
        written, skipped = import_file(file, out)
    for path in written:
        click.echo(f"wrote {path}")
    for path in skipped:
        click.echo(f"skipped {path} (exists)")


@main.group()
def site() -> None:
    """The static website."""


@site.command("build")
@click.argument("sources", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", "out", type=click.Path(path_type=Path), default=None)
def site_build(sources: tuple[Path, ...], out: Path | None) -> None:
    """Build the website from release files or folders."""
    from publisher.render import RenderContext
    from publisher.settings import get_settings
    from publisher.site import build_site

    target = out or get_settings().data_dir / "site"
    with user_errors():
        for source in sources:
            if not source.exists():
                fail(f"{source}: file: no such file or folder; fix: check the path")
        report = build_site(list(sources), target, RenderContext.from_settings())
    click.echo(f"{report}")
    click.echo(f"site: {target / 'index.html'}")


def run() -> None:
    """Entry point: the content commands above plus those that touch the store."""
    import publisher.cli_delivery  # noqa: F401  (registers its commands on `main`)

    main()
