"""Commands on release files that never touch the store: validate, render, preview, import, site."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.console import Console
from rich.panel import Panel
from rich.text import Text

from publisher import services
from publisher.cli.common import channel_list, fail
from publisher.settings import get_settings


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
def validate(files: tuple[Path, ...]) -> None:
    """Check release files; exit 2 with one line per problem."""
    problems = services.validate(list(files))
    if problems:
        fail("\n".join(problems))
    click.echo(f"{len(files)} release file{'s' if len(files) != 1 else ''} valid")


def _warn(rendering: services.Rendering) -> None:
    for warning in rendering.warnings:
        click.echo(f"warning: {warning}", err=True)


@click.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--channel", "channel", help="only this channel")
@click.option("--json", "as_json", is_flag=True, help="print the JSON payloads")
def render(file: Path, channel: str | None, as_json: bool) -> None:
    """Print exactly what would be sent, per channel."""
    rendering = services.render(file, channel_list(channel))
    _warn(rendering)
    if as_json:
        click.echo(json.dumps(services.public(rendering.rendered), ensure_ascii=False, indent=2))
        return
    console = Console(highlight=False, soft_wrap=True)
    for name, items in services.for_people(rendering.rendered).items():
        for label, body in items:
            console.print(f"== {name}: {label}", markup=False)
            if body:
                console.print(body, markup=False)


@click.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--channel", "channel", help="only this channel")
def preview(file: Path, channel: str | None) -> None:
    """Show each channel's rendering for people, with length counters."""
    rendering = services.render(file, channel_list(channel))
    release = rendering.release
    console = Console()
    console.print(Text(f"{release.id}  ({release.language}, {release.direction})", style="bold"))
    for name, items in services.for_people(rendering.rendered).items():
        for label, body in items:
            console.print(Panel(Text(body), title=f"{name}: {label}", title_align="left"))
    _warn(rendering)


@click.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--out", "out", type=click.Path(path_type=Path), default=Path("."))
def import_page(file: Path, out: Path) -> None:
    """Turn a plain-text news page into release files (never overwrites)."""
    written, skipped = services.import_page(file, out)
    for path in written:
        click.echo(f"wrote {path}")
    for path in skipped:
        click.echo(f"skipped {path} (exists)")


@click.group()
def site() -> None:
    """The static website."""


@site.command("build")
@click.argument("sources", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", "out", type=click.Path(path_type=Path), default=None)
def site_build(sources: tuple[Path, ...], out: Path | None) -> None:
    """Build the website from release files or folders."""
    target = out or get_settings().site_dir
    report = services.build_site(list(sources), target)
    click.echo(f"{report}")
    click.echo(f"site: {target / 'index.html'}")


COMMANDS = [validate, render, preview, import_page, site]
