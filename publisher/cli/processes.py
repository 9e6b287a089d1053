"""The long-running processes (worker, scheduler, bot), the demo, and stopping the embedded Redis.

The worker and scheduler commands are the only commands that import `workers/`: they start it.
"""

from __future__ import annotations

import os

import click

from publisher import services
from publisher.cli.common import EXIT_UNAVAILABLE, backend, fail
from publisher.logs import setup_logging
from publisher.settings import get_settings


@click.command()
@click.option("--concurrency", type=int, default=None, help="worker processes (default: CPUs)")
@click.option("--no-beat", is_flag=True, help="do not run the scheduler inside this worker")
@click.option("--loglevel", default="INFO")
def worker(concurrency: int | None, no_beat: bool, loglevel: str) -> None:
    """Run a Celery worker (with the scheduler, unless --no-beat)."""
    backend()  # Redis must answer first: exit 3 with one line, not a Celery traceback
    get_settings().data_dir.mkdir(parents=True, exist_ok=True)
    setup_logging(loglevel)
    from workers.app import QUEUE, app

    argv = [
        "worker",
        f"--loglevel={loglevel}",
        "-Q",
        QUEUE,
        "--without-gossip",
        "--without-mingle",
        "-n",
        f"publisher-{os.getpid()}@%h",
    ]
    if concurrency:
        argv.append(f"--concurrency={concurrency}")
    # Beat runs as a thread of the worker's main process (workers.app.BeatThread), not `-B`.
    app.conf.publisher_beat_thread = not no_beat
    app.worker_main(argv)


@click.command()
@click.option("--loglevel", default="INFO")
def beat(loglevel: str) -> None:
    """Run the scheduler alone (releases embargoed releases, re-queues lost work)."""
    backend()
    get_settings().data_dir.mkdir(parents=True, exist_ok=True)
    setup_logging(loglevel)
    from workers.app import app

    app.start(["beat", f"--loglevel={loglevel}"])


@click.command(hidden=True)
def demo() -> None:
    """Publish the example releases through the real pipeline (`make demo`)."""
    from publisher.demo import run_demo

    raise SystemExit(run_demo(backend()))


@click.command()
def down() -> None:
    """Stop the embedded Redis of this data dir."""
    click.echo(services.stop_embedded())


@click.command()
@click.option("--webhook", is_flag=True, help="take Telegram's webhook instead of polling")
@click.option(
    "--port", type=click.IntRange(1, 65535), default=8080, show_default=True, help="webhook port"
)
@click.option("--host", default="0.0.0.0", show_default=True, help="webhook address")
@click.option("--url", default=None, help="webhook URL for Telegram [PUBLIC_URL/telegram/webhook]")
@click.option("--loglevel", default="INFO")
def bot(webhook: bool, port: int, host: str, url: str | None, loglevel: str) -> None:
    """Run the Telegram bot: long polling, or with --webhook a webhook server on --port."""
    import telegram.error

    from publisher.bot.app import build_application, run_polling
    from publisher.bot.webhook import WEBHOOK_PATH, run_webhook, secret_problem

    settings = get_settings()
    if not settings.telegram_bot_token:
        fail("TELEGRAM_BOT_TOKEN is not set; fix: create the bot with @BotFather and set its token")
    secret = settings.telegram_webhook_secret
    if webhook and (problem := secret_problem(secret)):
        fail(problem)
    application = build_application(backend(), settings)
    setup_logging(loglevel)
    try:
        if webhook:
            assert secret is not None
            target = url or f"{settings.base_url}{WEBHOOK_PATH}"
            run_webhook(application, host=host, port=port, url=target, secret=secret)
        else:
            run_polling(application)
    except telegram.error.InvalidToken:
        fail("Telegram refused TELEGRAM_BOT_TOKEN; fix: copy the token @BotFather gave again")
    except telegram.error.NetworkError as exc:
        fail(f"Telegram cannot be reached at TELEGRAM_API_URL: {exc}", EXIT_UNAVAILABLE)


COMMANDS = [worker, beat, demo, down, bot]
