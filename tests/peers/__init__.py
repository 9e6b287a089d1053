"""Loopback stand-ins for Telegram's Bot API, the X API v2 and SMTP (tests, benchmarks)."""
