"""`make demo`: publish the example releases through the real pipeline on the embedded default.

Embedded Redis, a worker started and stopped here, outbox for Telegram and X (no credentials),
a Maildir for email, and the built website, all under PUBLISHER_DATA_DIR (default ./var).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def main() -> int:
    os.environ.setdefault("TELEGRAM_CHANNEL", "@press_office_demo")
    from publisher.cli_delivery import print_status, workers_alive
    from publisher.delivery import finished, release_status
    from publisher.publishing import submit
    from publisher.recipients import parse_journalists, parse_subscribers
    from publisher.redis_server import connect
    from publisher.release import load_release
    from publisher.render import render_all
    from publisher.settings import get_settings
    from publisher.store import Store
    from workers.tasks import queue_publish

    settings = get_settings()
    data_dir = settings.data_dir.resolve()
    store = Store(connect(settings))
    store.add_recipients("telegram", parse_subscribers(EXAMPLES / "subscribers.txt")[0])
    store.add_recipients("email", parse_journalists(EXAMPLES / "journalists.csv")[0])

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
        if not workers_alive(30):
            print("error: the demo worker did not start", file=sys.stderr)
            return 3
        ids = []
        for path in sorted((EXAMPLES / "releases").glob("*.md")):
            release = load_release(path)
            result = submit(store, release, render_all(release), queue_publish, "demo")
            print(f"{release.id}: {result.action.replace('-', ' ')}")
            ids.append(release.id)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if all(finished(release_status(store, i)) for i in ids):
                break
            time.sleep(0.3)
        for release_id in ids:
            print_status(release_status(store, release_id))
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


if __name__ == "__main__":
    sys.exit(main())
