"""PUBLISHER_TEMPLATES overrides the pages and the confirmation email file by file."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import httpx
import redis

from publisher import services
from publisher.settings import Settings
from publisher.store import Store
from publisher.web import create_app
from tests.peers.smtp import SMTPPeer
from tests.web.conftest import LiveServer, free_port


def test_an_override_folder_replaces_a_page_and_the_confirmation_subject(
    tmp_path: Path, web_settings: Settings, smtp_peer: SMTPPeer, redis_client: redis.Redis
) -> None:
    smtp_peer.reset()
    folder = tmp_path / "templates"
    (folder / "web").mkdir(parents=True)
    (folder / "email").mkdir()
    (folder / "web" / "sent.html").write_text(
        '{% extends "web/base.html" %}{% block title %}Sent{% endblock %}'
        "{% block content %}<h1>Merci, {{ address }}</h1>{% endblock %}",
        encoding="utf-8",
    )
    (folder / "email" / "confirm.subject.txt").write_text("Please confirm, {{ address }}")
    port = free_port()
    settings = web_settings.model_copy(
        update={"publisher_templates": folder, "public_url": f"http://127.0.0.1:{port}"}
    )
    backend = services.Backend(Store(redis_client), settings)
    server = LiveServer(create_app(backend), int(urlsplit(settings.public_url).port or 0))
    server.start()
    try:
        with httpx.Client(base_url=settings.base_url) as client:
            page = client.get("/subscribe")
            csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
            sent = client.post("/subscribe", data={"email": "o@example.org", "csrf": csrf})
        assert sent.status_code == 200 and "<h1>Merci, o@example.org</h1>" in sent.text
        assert 'lang="en" dir="ltr"' in sent.text  # the built-in base.html still frames it
        [mail] = smtp_peer.messages
        assert mail.message["Subject"] == "Please confirm, o@example.org"
        assert "Hello," in (mail.message.get_body(("plain",)) or mail.message).get_content()
    finally:
        server.stop()
