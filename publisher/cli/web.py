"""`publisher serve`: the web app under uvicorn, in one process or `--workers N`."""

from __future__ import annotations

import sys

import click

from publisher.cli.common import backend
from publisher.logs import setup_logging


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="address to listen on")
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=8000,
    show_default=True,
    help="port to listen on",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="processes serving the port (the kernel spreads connections among them)",
)
@click.option("--loglevel", default="INFO")
def serve(host: str, port: int, workers: int, loglevel: str) -> None:
    """Run the web app: the site, the journalists' pages, the newsroom and the REST API."""
    from publisher.web import create_app
    from publisher.web.serving import run_many, run_one

    app = create_app(backend())  # Redis must answer first: exit 3 with one line
    setup_logging(loglevel)
    if workers == 1:
        run_one(app, host, port, loglevel)
    else:
        sys.exit(run_many(workers, host, port, loglevel))


COMMANDS = [serve]
