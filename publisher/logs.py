"""Log lines an operator can use: one line per event, `text` (key=value) or `json` by
PUBLISHER_LOG_FORMAT, and never a secret (every configured token and password is blanked).

Code logs an event with its fields: `log_event(log, logging.INFO, "batch finished",
release_id=..., channel=..., sent=3)` gives
`2026-12-02T10:00:00Z INFO publisher.delivery batch finished release_id=r1 channel=x sent=3`.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

from publisher.settings import Settings, get_settings

REDACTED = "***"


def log_event(logger: logging.Logger, level: int, event: str, **fields: Any) -> None:
    """Log one event with its fields (rendered as key=value or as JSON keys)."""
    if logger.isEnabledFor(level):
        logger.log(level, event, extra={"fields": fields})


def _value(value: Any) -> str:
    text = str(value)
    if not text or any(c.isspace() or c in '"=' for c in text):
        return json.dumps(text, ensure_ascii=False)
    return text


class EventFormatter(logging.Formatter):
    """One line per record, its fields as key=value or JSON, with every secret blanked."""

    def __init__(self, style_name: str, secrets: list[str]) -> None:
        super().__init__()
        self.as_json = style_name == "json"
        # Longest first: a secret that contains another is blanked whole.
        self.secrets = sorted(set(secrets), key=len, reverse=True)

    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, Any] = getattr(record, "fields", {})
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.created))
        message = record.getMessage()
        if self.as_json:
            entry = {
                "time": when,
                "level": record.levelname.lower(),
                "logger": record.name,
                "event": message,
                **fields,
            }
            if record.exc_info:
                entry["exception"] = self.formatException(record.exc_info)
            line = json.dumps(entry, ensure_ascii=False, default=str)
        else:
            pairs = "".join(f" {k}={_value(v)}" for k, v in fields.items())
            line = f"{when} {record.levelname} {record.name} {message}{pairs}"
            if record.exc_info:
                line += " " + json.dumps(self.formatException(record.exc_info))
        return self.redact(line)

    def redact(self, line: str) -> str:
        for secret in self.secrets:
            line = line.replace(secret, REDACTED)
        return line


def setup_logging(level: str = "INFO", settings: Settings | None = None) -> None:
    """Send every logger's records (Celery's, the libraries') through one EventFormatter on
    stderr; the worker's pool processes inherit it when they fork."""
    settings = settings or get_settings()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(EventFormatter(settings.publisher_log_format, settings.secrets()))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # Request logs of the HTTP clients name URLs, and Telegram's carry the bot token in them.
    # Celery's per-task lines (every tick, every batch) say less than our batch lines do.
    for noisy in (
        "httpx",
        "httpcore",
        "urllib3",
        "telegram",
        "tweepy",
        "celery.app.trace",
        "celery.worker.strategy",
    ):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
