"""`make demo`: publish the example releases through the real pipeline on the embedded default.

Embedded Redis, a worker started and stopped here, outbox for Telegram and X (no credentials),
a Maildir for email, and the built website, all under PUBLISHER_DATA_DIR (default ./var). It
calls the same services as the command line, so it checks and refuses what `publish` refuses.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from publisher import services
from publisher.cli.common import print_status

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
ACTOR = "demo"


def run_demo(backend: services.Backend) -> int:
    """Import the example recipients, start a worker, publish every example, print the report."""
    data_dir = backend.settings.data_dir.resolve()
    services.import_subscribers(backend, "telegram", EXAMPLES / "subscribers.txt", ACTOR)
    services.import_journalists(backend, EXAMPLES / "journalists.csv", ACTOR)
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "publisher",
            "worker",
            "--concurrency",
            "2",
            "--loglevel",
            "WARNING",
        ],
        cwd=os.getcwd(),
        start_new_session=True,
    )
    try:
        if not backend.queue.workers_alive(30):
            print("error: the demo worker did not start", file=sys.stderr)
            return 3
        ids = []
        for path in sorted((EXAMPLES / "releases").glob("*.md")):
            result = services.submit(backend, services.load(path), ACTOR)
            print(f"{result.release_id}: {result.action.replace('-', ' ')}")
            ids.append(result.release_id)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if all(services.finished(services.release_status(backend, i)) for i in ids):
                break
            time.sleep(0.3)
        for release_id in ids:
            print_status(services.release_status(backend, release_id))
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=30)
    print(f"\nWhere to look (everything is under {data_dir}):")
    print(f"  website:   {data_dir / 'site' / 'index.html'}")
    print(f"  Telegram:  {data_dir / 'outbox' / 'telegram'}/  (no TELEGRAM_BOT_TOKEN: dry run)")
    print(f"  X:         {data_dir / 'outbox' / 'x'}/  (no X credentials: dry run)")
    print(f"  email:     {data_dir / 'maildir'}/  (no SMTP_URL: Maildir)")
    print(f"  status:    .venv/bin/publisher status {ids[0]}")
    print("  stop Redis: .venv/bin/publisher down")
    return 0
