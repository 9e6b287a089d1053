"""The daily journalists' briefing: print it for a day, or send it (once)."""

from __future__ import annotations

from datetime import date

import click

from publisher.cli.common import backend, fail, who
from publisher.services import briefing as briefings


@click.command()
@click.option("--date", "day_text", required=True, help="the local day, YYYY-MM-DD")
@click.option("--language", default=None, help="one language (default: every one that day)")
@click.option("--send", is_flag=True, help="send it to the journalists (once a day and language)")
def briefing(day_text: str, language: str | None, send: bool) -> None:
    """Build the briefing of a day's published releases, grouped by category."""
    try:
        day = date.fromisoformat(day_text)
    except ValueError:
        fail(f"--date: {day_text!r} is not a date; fix: write it as YYYY-MM-DD")
    found = backend()
    languages = [language] if language else sorted(briefings.items_of_day(found, day))
    if not languages:
        click.echo(f"no release was published for {day}: no briefing")
        return
    for lang in languages:
        if send:
            result = briefings.send(found, day, lang, who())
            if result is None:
                click.echo(f"{lang}: no release was published for {day}: nothing sent")
            elif result.action == "queued":
                click.echo(result.release_id)
            else:
                when = f" at {result.at.isoformat()}" if result.at else ""
                click.echo(f"{result.release_id}: already sent{when}")
            continue
        made = briefings.build(found, day, lang)
        if made is None:
            click.echo(f"{lang}: no release was published for {day}")
            continue
        email = made.rendered["channels"]["email"]  # type: ignore[index]
        click.echo(f"Subject: {email['subject']}\n\n{email['text']}")


COMMANDS = [briefing]
