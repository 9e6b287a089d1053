"""A channel declared in this file alone: a JSON webhook, registered through PUBLISHER_CHANNELS.

It proves that a channel is declared once: the command line renders it, the real worker fans a
release out to its subscribers and delivers it once per recipient through the shared engine
(claims, retries, pause on a channel-wide fault, resume), and `status` counts it, without any
file outside this one knowing it exists. A process without the declaration refuses the name.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, ClassVar

import aiohttp
from aiohttp import web

from publisher.channels.base import Channel, Recipient, SendContext, Sender, Throttle
from publisher.errors import ChannelFault, PermanentDeliveryError, TransientDeliveryError
from publisher.release import Release
from publisher.render import BodyParts, RenderContext
from publisher.settings import Settings
from tests.conftest import Worker, publisher_env, run_cli, wait_until
from tests.peers._aioserver import ThreadedAioServer

HOOKS = 5


class WebhookSender(Sender):
    """Posts the payload's JSON to {WEBHOOK_TEST_URL}/hook/{recipient}."""

    channel: ClassVar[str] = "webhook"

    def __init__(self) -> None:
        self.root = os.environ["WEBHOOK_TEST_URL"]
        self.session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self.session = aiohttp.ClientSession()

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()

    async def deliver(
        self, payload: dict[str, Any], recipient: Recipient, ctx: SendContext
    ) -> list[str]:
        assert self.session is not None
        url = f"{self.root}/hook/{recipient.address}"
        try:
            async with self.session.post(url, json=payload["json"]) as answer:
                body = await answer.text()
        except aiohttp.ClientError as exc:
            raise TransientDeliveryError(f"webhook unreachable: {exc}") from exc
        if answer.status == 401:
            raise ChannelFault("webhook refused the credentials (401)")
        if answer.status == 410:
            raise PermanentDeliveryError("webhook gone (410)", gone=True)
        if answer.status >= 500:
            raise TransientDeliveryError(f"webhook server error {answer.status}", 0.1)
        return [json.loads(body)["id"]]


class WebhookChannel(Channel):
    """A JSON document per release, posted to each subscribed hook."""

    name = "webhook"
    has_subscribers: ClassVar[bool] = True

    @classmethod
    def render(cls, release: Release, body: BodyParts, ctx: RenderContext) -> dict[str, Any]:
        return {"json": {"id": release.id, "title": release.title, "text": body.text}}

    @classmethod
    def make_sender(cls, settings: Settings, throttle: Throttle | None) -> Sender:
        return WebhookSender()


class HookServer(ThreadedAioServer):
    """Loopback hooks: records each POST; `faults` is a list of statuses for the next ones."""

    def __init__(self) -> None:
        super().__init__()
        self.received: list[tuple[str, dict[str, Any]]] = []
        self.faults: list[int] = []

    def make_app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/hook/{name}", self.hook)
        return app

    async def hook(self, request: web.Request) -> web.Response:
        if self.faults:
            return web.json_response({"error": "injected"}, status=self.faults.pop(0))
        name = request.match_info["name"]
        self.received.append((name, await request.json()))
        return web.json_response({"id": f"{name}-{len(self.received)}"})


def status_of(env: dict[str, str], release_id: str) -> dict[str, Any]:
    return json.loads(run_cli("status", release_id, "--json", env=env).stdout)  # type: ignore[no-any-return]


def test_a_channel_declared_in_one_file_is_rendered_delivered_resumed_and_counted(
    tmp_path: Path, data_dir: Path
) -> None:
    with HookServer() as server:
        env = publisher_env(
            data_dir,
            PUBLISHER_CHANNELS="tests.test_extra_channel:WebhookChannel",
            WEBHOOK_TEST_URL=server.base_url,
        )
        release = tmp_path / "release.md"
        release.write_text(
            "---\ntitle: Hooks hear it first\ndate: 2024-05-01T09:00:00+03:00\n"
            "channels: [webhook]\n---\nThe body of the release.\n",
            encoding="utf-8",
        )
        rendered = run_cli("render", str(release), "--json", env=env)
        assert rendered.returncode == 0, rendered.stderr
        payload = json.loads(rendered.stdout)["channels"]["webhook"]["json"]
        assert payload["title"] == "Hooks hear it first"

        hooks = tmp_path / "hooks.txt"
        hooks.write_text("".join(f"{1000 + i}\n" for i in range(HOOKS)))
        imported = run_cli("subscribers", "import", "--channel", "webhook", str(hooks), env=env)
        assert imported.returncode == 0, imported.stderr

        # A 503 (retried in the task), then a 401 that pauses the whole channel.
        server.faults = [503, 401]
        worker = Worker(env, concurrency=1, log=tmp_path / "worker.log").start()
        try:
            published = run_cli("publish", str(release), "--wait", env=env)
            release_id = published.stdout.splitlines()[0]
            assert published.returncode == 1, published.stderr  # paused
            paused = status_of(env, release_id)["channels"]["webhook"]
            assert paused["paused"] >= 1 and "401" in paused["paused_reason"]

            resumed = run_cli("resume", release_id, env=env)
            assert resumed.returncode == 0 and "webhook resumed" in resumed.stdout
            assert wait_until(
                lambda: (
                    status_of(env, release_id)["channels"]["webhook"]["pending"] == 0
                    and not status_of(env, release_id)["channels"]["webhook"]["paused"]
                ),
                60,
            )
        finally:
            worker.stop()
        names = sorted(name for name, _ in server.received)
        assert names == [str(1000 + i) for i in range(HOOKS)]  # each hook once, none lost
        assert all(body["id"] == release_id for _, body in server.received)
        counts = status_of(env, release_id)["channels"]["webhook"]
        assert (counts["sent"], counts["failed"], counts["pending"], counts["paused"]) == (
            HOOKS, 0, 0, 0,
        )  # fmt: skip
        rows = json.loads(run_cli("deliveries", release_id, "--json", env=env).stdout)
        assert sorted(r["platform_ids"][0].split("-")[0] for r in rows) == names


def test_a_process_without_the_declaration_refuses_the_channel(
    tmp_path: Path, data_dir: Path
) -> None:
    env = publisher_env(data_dir)
    release = tmp_path / "release.md"
    release.write_text(
        "---\ntitle: Nobody knows this channel\ndate: 2024-05-01T09:00:00+03:00\n"
        "channels: [webhook]\n---\nBody.\n",
        encoding="utf-8",
    )
    for args in (["validate", str(release)], ["publish", str(release)]):
        result = run_cli(*args, env=env)
        assert result.returncode == 2, result
        assert "unknown channel 'webhook'" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    flag = run_cli("publish", str(release), "--channels", "webhook", env=env)
    assert flag.returncode == 2 and "unknown channel webhook" in flag.stderr
