"""The one typed settings object, read once from the environment and `.env`."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything configurable; names match the environment variables in DESIGN.md."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)

    redis_url: str | None = None
    publisher_data_dir: Path = Path("var")
    telegram_bot_token: str | None = None
    telegram_channel: str | None = None
    telegram_api_url: str = "https://api.telegram.org"
    telegram_webhook_secret: str | None = None
    x_consumer_key: str | None = None
    x_consumer_secret: str | None = None
    x_access_token: str | None = None
    x_access_token_secret: str | None = None
    x_api_url: str = "https://api.x.com"
    smtp_url: str | None = None
    mail_from: str = "Press Office <press@localhost>"
    telegram_rate_limit: float = Field(default=30.0, gt=0)
    x_thread_max: int = Field(default=5, ge=1, le=25)
    public_url: str = "http://localhost:8000"
    publisher_secret_key: str | None = None
    publisher_max_in_flight: int = Field(default=32, ge=1)
    publisher_record_ttl_days: float = Field(default=30, gt=0)
    publisher_templates: Path | None = None
    publisher_timezone: str = "UTC"
    organisation_name: str = "Press Office"
    #: The postal address every bulk email's footer must carry.
    organisation_address: str = ""
    #: Local time (PUBLISHER_TIMEZONE) of the daily journalists' briefing, HH:MM.
    publisher_briefing_at: str = Field(default="18:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    #: A PEM file and selector: every email is DKIM-signed for MAIL_FROM's domain.
    dkim_private_key: Path | None = None
    dkim_selector: str | None = None
    #: Hard bounces before an address is suppressed ("no such user" suppresses at once).
    publisher_bounce_limit: int = Field(default=3, ge=1)
    #: `required`: an editor other than the author approves the exact content; `off`.
    publisher_approval: Literal["required", "off"] = "required"
    #: Extra channel declarations, "package.module:ClassName" comma-separated.
    publisher_channels: str = ""
    #: Who the command line says is acting, in the event stream; default the login name.
    publisher_user: str | None = None
    #: Log lines as `text` (key=value) or `json` (one object a line).
    publisher_log_format: Literal["text", "json"] = "text"

    @property
    def data_dir(self) -> Path:
        return self.publisher_data_dir

    @property
    def site_dir(self) -> Path:
        """Where the public site is built by default, the website channel writes it and
        `publisher serve` serves it."""
        return self.data_dir / "site"

    @property
    def media_dir(self) -> Path:
        """Where uploaded images live: besides its own folder, where a release may take them."""
        return self.data_dir / "media"

    @property
    def timezone(self) -> ZoneInfo:
        return ZoneInfo(self.publisher_timezone)

    def secrets(self) -> list[str]:
        """Every secret value set (tokens, passwords), so logs can blank them out."""
        from urllib.parse import urlsplit

        found = [
            self.telegram_bot_token,
            self.x_consumer_secret,
            self.x_access_token,
            self.x_access_token_secret,
            self.publisher_secret_key,
            self.telegram_webhook_secret,
        ]
        if self.smtp_url:
            found.append(urlsplit(self.smtp_url).password)
        return [value for value in found if value and len(value) >= 4]

    @property
    def base_url(self) -> str:
        """PUBLIC_URL without a trailing slash."""
        return self.public_url.rstrip("/")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process, read once."""
    return Settings()


def reload_settings() -> Settings:
    """Forget the cached settings (tests change the environment between cases)."""
    get_settings.cache_clear()
    return get_settings()
