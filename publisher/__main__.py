"""`python -m publisher` is the `publisher` command."""

from publisher.cli import run

run()
