"""A journalist's whole way, as they live it: sign up on the live web app, confirm, receive a
release through a real worker, then act on the email itself (the List-Unsubscribe header's
one-click POST, the footer's preferences link) and receive nothing they asked not to get."""

from __future__ import annotations

import re
from email.message import EmailMessage
from pathlib import Path

import httpx

from tests.conftest import Worker, publisher_env, run_cli
from tests.test_pipeline import write_release

from .conftest import ORGANISATION, SECRET, Site, forms
from .test_public import confirm_signup

RANA, SAMI = "rana@example.org", "sami@example.org"


def to(site: Site, address: str, since: int = 0) -> list[EmailMessage]:
    return [m for m in site.mails()[since:] if m["To"].addresses[0].addr_spec == address]


def publish(env: dict[str, str], release: Path) -> None:
    result = run_cli("publish", str(release), "--channels", "email", "--wait", env=env)
    assert result.returncode == 0, result.stderr


def test_one_click_and_preferences_from_the_email_stop_what_they_should(
    site: Site, tmp_path: Path, workers: list[Worker]
) -> None:
    confirm_signup(site, site.client("198.51.100.21"), "Rana@Example.org", name="Rana")
    confirm_signup(site, site.client("198.51.100.22"), SAMI, name="Sami")
    env = publisher_env(
        tmp_path,
        REDIS_URL=str(site.backend.settings.redis_url),
        PUBLIC_URL=site.base,  # the links in the emails lead to this live app
        PUBLISHER_SECRET_KEY=SECRET,
        SMTP_URL=site.peer.url,
        MAIL_FROM=f"{ORGANISATION} <press@example.org>",
    )
    workers.append(Worker(env, log=tmp_path / "worker.log").start())
    release = write_release(tmp_path, "first.md", title="First statement")
    confirmations = len(site.mails())
    publish(env, release)
    [rana_mail], [sami_mail] = to(site, RANA, confirmations), to(site, SAMI, confirmations)
    assert rana_mail["Subject"] == "First statement"

    # Rana's mail client offers "unsubscribe": RFC 8058's POST to the header's URL, no cookie.
    assert rana_mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    [url] = re.findall(r"<(https?://[^>]+)>", str(rana_mail["List-Unsubscribe"]))
    assert url.startswith(site.base + "/unsubscribe/")
    answer = httpx.post(url, content=b"List-Unsubscribe=One-Click",
                        headers={"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert answer.status_code == 200

    # Sami opens the footer's preferences link and asks for the daily briefing instead.
    text = sami_mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    [path] = re.findall(re.escape(site.base) + r"(/preferences/[A-Za-z0-9_.-]+)", text)
    browser = site.client("198.51.100.22")
    [form] = forms(browser.get(path).text)
    fields = {**dict(form.fields), "cadence": "daily", "action": "save"}
    assert browser.post(form.action, data=fields).status_code == 200

    before = len(site.mails())
    second = write_release(tmp_path, "second.md", title="Second statement")
    publish(env, second)
    assert to(site, RANA, before) == [], "unsubscribed in one click: nothing more"
    assert to(site, SAMI, before) == [], "daily now: no release as it goes out"
    rows = site.rows()
    assert rows[RANA]["state"] == "unsubscribed" and rows[SAMI]["cadence"] == "daily"
