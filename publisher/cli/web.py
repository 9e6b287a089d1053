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
    default=None,
    help="processes serving the port, the kernel spreading connections among them "
    "(default: the CPUs on Linux, else 1)",
)
@click.option("--loglevel", default="INFO")
def serve(host: str, port: int, workers: int | None, loglevel: str) -> None:
    """Run the web app: the site, the journalists' pages, the newsroom and the REST API."""
    from publisher.web import create_app
    from publisher.web.serving import default_workers, run_many, run_one

    found = backend()  # Redis must answer first: exit 3 with one line
    # made here with N workers too: a broken setting fails once, and the secret key file
    # exists before the workers read it
    app = create_app(found)
    setup_logging(loglevel)
    workers = workers or default_workers()
    if workers == 1:
        run_one(app, host, port, loglevel)
    else:  # each worker opens its own backend, queueing as this one does
        sys.exit(run_many(workers, host, port, loglevel, found.make_queue))


COMMANDS = [serve]
