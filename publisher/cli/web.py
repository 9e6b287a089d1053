"""`publisher serve`: the web app (the journalists' public pages, /healthz) under uvicorn."""

from __future__ import annotations

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
@click.option("--loglevel", default="INFO")
def serve(host: str, port: int, loglevel: str) -> None:
    """Run the web app: sign-up, confirmation, preferences and unsubscribe pages."""
    import uvicorn

    from publisher.web import create_app

    app = create_app(backend())  # Redis must answer first: exit 3 with one line
    setup_logging(loglevel)
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level=loglevel.lower(),
        access_log=False,  # tokens are in the paths: they stay out of the logs
        proxy_headers=True,  # X-Forwarded-For from FORWARDED_ALLOW_IPS (default 127.0.0.1)
        server_header=False,
        log_config=None,  # our log format (setup_logging), not uvicorn's
    )


COMMANDS = [serve]
