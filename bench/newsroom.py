"""The newsroom and the REST API through a real `publisher serve`.

`publisher serve` runs as a process of its own over an embedded Redis; this process signs in
as an officer (the real form, CSRF and all) and holds an editor's API token. Measured:

- the live preview (`POST /newsroom/preview`, what the compose page sends as one types) for the
  seed example and a 20,000-word release: requests a second from one client, p50 and p99; the
  baseline in the same run is `drafts.preview` called in this process (the rendering itself),
  so the ratio is what HTTP, the form and the page cost on top;
- `POST /api/v1/releases` (a new draft from the release's JSON, rendered for every channel)
  from 20 clients at once, against `serve --workers N` (N = CPUs, at least 2) and against one
  process: p50 and p99; baselines `GET /healthz` (one Redis round trip) at the same
  concurrency, and the same request from one client;
- the releases' list page (`GET /newsroom/releases`) over 10,000 releases: p50; baseline the
  service's `list_releases` in this process;
- in Chromium, the time from a keystroke in the body to the updated Telegram bubble.

Targets: preview p50 < 30 ms (seed) and < 150 ms (20,000 words); API p50 < 50 ms at 20
concurrent; list page p50 < 200 ms at 10,000 releases; keystroke to preview < 300 ms.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import re
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import httpx

from bench.common import Section, cpu_count, fmt_int, fmt_ratio, load_average
from bench.peers import BenchRedis, publisher_env, this_process_as
from bench.render import LONG_WORDS, SEED, SEED_EXAMPLE, _body
from bench.unsubscribe import _free_port, serving

PASSWORD = "a bench passphrase of words"
CONCURRENT = 20
LIST_SIZE = 10_000
TARGETS_MS = {"seed": 30.0, "long": 150.0, "api": 50.0, "list": 200.0, "keystroke": 300.0}
CHROMIUM = "/usr/bin/chromium"


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def _p(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _met(value_s: float, target_ms: float) -> str:
    return f"< {target_ms:.0f} ms: {'yes' if value_s * 1000 < target_ms else 'no'}"


def _release_fields(path: Any) -> dict[str, Any]:
    from publisher.release import load_release

    release = load_release(path)
    fields = release.to_json()
    fields.pop("id")
    fields["images"] = [i for i in fields["images"] if i["src"].startswith("https://")]
    return fields


def _long_fields() -> dict[str, Any]:
    return {
        "title": "A long synthetic release",
        "date": "2020-02-11T10:00:00+02:00",
        "category": "Reports",
        "summary": "Twenty thousand words.",
        "body": _body(random.Random(SEED), LONG_WORDS, "en"),
    }


def sign_in(base: str, name: str) -> httpx.Client:
    """A client signed in through the form, as a browser is."""
    client = httpx.Client(base_url=base, timeout=30)
    page = client.get("/newsroom/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token, "the sign-in form has no CSRF token"
    done = client.post(
        "/newsroom/login", data={"username": name, "password": PASSWORD, "csrf": token.group(1)}
    )
    assert done.status_code == 303, done.text
    return client


def _csrf(client: httpx.Client, path: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', client.get(path).text)
    assert found, f"{path} has no CSRF token"
    return found.group(1)


def _serial(fn: Callable[[], httpx.Response], repeats: int) -> list[float]:
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        answer = fn()
        samples.append(time.perf_counter() - started)
        assert answer.status_code < 400, (answer.status_code, answer.text[:300])
    return samples


async def _concurrent(
    base: str,
    method: str,
    path: str,
    headers: dict[str, str],
    body: Callable[[int], Any] | None,
    total: int,
) -> list[float]:
    """`total` requests from CONCURRENT clients at once, each on its own connection.

    The clients are aiohttp's: they share the machine with the server, and httpx's asyncio
    client took 1.5 ms of CPU a request here, aiohttp's 0.35 ms."""
    samples: list[float] = []
    remaining = [total]

    async def one_client() -> None:
        async with aiohttp.ClientSession(base, headers=headers) as session:
            while remaining[0] > 0:
                remaining[0] -= 1
                sent = body(remaining[0]) if body else None
                started = time.perf_counter()
                async with session.request(method, path, json=sent) as answer:
                    text = await answer.read()
                samples.append(time.perf_counter() - started)
                assert answer.status < 400, (answer.status, text[:300])

    await asyncio.gather(*(one_client() for _ in range(CONCURRENT)))
    return samples


def _keystroke(base: str, release_id: str, repeats: int) -> list[float]:
    """Seconds from typing a word into the body to the Telegram bubble showing it."""
    from playwright.sync_api import sync_playwright

    samples = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page()
        page.goto(f"{base}/newsroom/login")
        page.fill("input[name=username]", "olivia")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/newsroom/**")
        page.goto(f"{base}/newsroom/releases/{release_id}/edit")
        body = page.locator("textarea[name=body]")
        for n in range(repeats + 2):
            marker = f"zq{n}x"
            body.press("End")
            started = time.perf_counter()
            body.press_sequentially(f" {marker}", delay=0)
            page.wait_for_function(
                "m => [...document.querySelectorAll('.bubble-text')]"
                ".some(e => e.textContent.includes(m))",
                arg=marker,
                timeout=10_000,
            )
            if n >= 2:  # the first two warm the page up
                samples.append(time.perf_counter() - started)
        browser.close()
    return samples


def measure(quick: bool) -> dict[str, Any]:
    from publisher import services
    from publisher.services import accounts, approval, drafts
    from publisher.settings import get_settings
    from publisher.store import Store

    repeats = 10 if quick else 100
    list_size = 500 if quick else LIST_SIZE
    results: dict[str, Any] = {}
    with BenchRedis() as redis:
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        env = publisher_env(redis, PUBLIC_URL=base)  # http: the session cookie is not Secure
        with this_process_as(env):
            settings = get_settings()
            backend = services.Backend(Store(redis.client()), settings)
            accounts.add_user(backend, "olivia", "officer", PASSWORD, "bench")
            token = accounts.create_token(backend, "cms", "editor", "bench")
            officer = accounts.list_users(backend)[0]
            seed_fields = _release_fields(SEED_EXAMPLE)
            long_fields = _long_fields()
            draft = drafts.create(backend, seed_fields, officer)
            for fields, key in ((seed_fields, "seed"), (long_fields, "long")):
                n = max(3, repeats // 5) if key == "long" else repeats
                rendering = [0.0] * n
                for i in range(n):
                    started = time.perf_counter()
                    drafts.preview(fields, settings)
                    rendering[i] = time.perf_counter() - started
                results[f"{key}_inprocess"] = rendering
        with serving(env, port, 1):
            client = sign_in(base, "olivia")
            csrf = _csrf(client, "/newsroom/releases/new")
            headers = {"HX-Request": "true"}
            for fields, key in ((seed_fields, "seed"), (long_fields, "long")):
                form = {**preview_form(fields), "csrf": csrf}
                n = max(3, repeats // 5) if key == "long" else repeats

                def one(form: dict[str, Any] = form) -> httpx.Response:
                    return client.post("/newsroom/preview", data=form, headers=headers)

                _serial(one, 3)
                results[key] = _serial(one, n)
            bearer = {"Authorization": f"Bearer {token}"}

            total = 100 if quick else 1000
            # each its own title, as a CMS sends: one title posted 1,000 times would measure
            # the search for a free id ("-2", "-3", ...) instead
            titles = itertools.count()

            def create(_: int) -> dict[str, Any]:
                # the number first: an id is the date and the title's slug, cut to SLUG_MAX
                return {**seed_fields, "title": f"({next(titles)}) {seed_fields['title']}"}

            # one client: the time of one request, which 20 at once queue behind each other for
            api_client = httpx.Client(base_url=base, headers=bearer, timeout=60)
            results["api_serial"] = _serial(
                lambda: api_client.post("/api/v1/releases", json=create(0)), repeats
            )
            asyncio.run(_concurrent(base, "POST", "/api/v1/releases", bearer, create, 50))
            results["api_one_process"] = asyncio.run(
                _concurrent(base, "POST", "/api/v1/releases", bearer, create, total)
            )
            workers = max(2, cpu_count())
            results["workers"] = workers
            many = _free_port()
            with serving(env, many, workers):
                url = f"http://127.0.0.1:{many}"
                asyncio.run(_concurrent(url, "GET", "/healthz", {}, None, 50))
                results["healthz"] = asyncio.run(
                    _concurrent(url, "GET", "/healthz", {}, None, total)
                )
                asyncio.run(_concurrent(url, "POST", "/api/v1/releases", bearer, create, 50))
                results["api"] = asyncio.run(
                    _concurrent(url, "POST", "/api/v1/releases", bearer, create, total)
                )
            with this_process_as(env):
                store = Store(redis.client())
                for n in range(list_size):
                    store.create_draft(
                        f"bench-{n}",
                        {"title": f"Release {n}"},
                        {"title": f"Release {n}", "category": "Reports", "language": "en",
                         "date": "2024-05-01T09:00:00+03:00"},
                    )  # fmt: skip
                in_process = []
                for _ in range(10 if quick else 30):
                    started = time.perf_counter()
                    approval.list_releases(backend)
                    in_process.append(time.perf_counter() - started)
                results["list_inprocess"] = in_process
            results["list"] = _serial(lambda: client.get("/newsroom/releases"), 10 if quick else 30)
            # the bench's drafts, one per title taken, and the seed draft
            results["list_size"] = list_size + next(titles) + 1
            results["keystroke"] = _keystroke(base, draft.id, 5 if quick else 20)
    return results


def preview_form(fields: dict[str, Any]) -> dict[str, Any]:
    """The compose form's fields for a release's JSON, as the page posts them as one types."""
    from zoneinfo import ZoneInfo

    from publisher.channels import names
    from publisher.web.compose_form import form_values

    shown = form_values(fields, ZoneInfo("UTC"), names())
    form: dict[str, Any] = {
        key: shown[key]
        for key in ("title", "summary", "source", "body", "category", "tags", "language")
        + ("language_other", "date", "publish_at", "translation_of")
    }
    form.update(
        channels_shown="1",
        channels=shown["channels"],
        image_src=[i["src"] for i in shown["images"]],
        image_alt=[i["alt"] for i in shown["images"]],
        image_caption=[i["caption"] for i in shown["images"]],
        link_title=[x["title"] for x in shown["links"]],
        link_url=[x["url"] for x in shown["links"]],
        override_x_thread=shown["override_x_thread"],
        override_telegram_text=shown["override_telegram_text"],
        override_email_subject=shown["override_email_subject"],
    )
    return form


def run(quick: bool) -> Section:
    """Measure the newsroom's preview, the API, the list and a keystroke; see the docstring."""
    load = load_average()
    r = measure(quick)
    rows = []
    for key, label in (("seed", "seed example (en)"), ("long", f"{fmt_int(LONG_WORDS)} words")):
        p50, base = statistics.median(r[key]), statistics.median(r[f"{key}_inprocess"])
        rows.append(
            [
                f"`POST /newsroom/preview`, {label}",
                f"{len(r[key])} requests, 1 client",
                f"p50 {_ms(p50)}, p99 {_ms(_p(r[key], 0.99))}, {1 / p50:,.0f}/s",
                f"`drafts.preview` in process: {_ms(base)} ({fmt_ratio(p50 / base)})",
                _met(p50, TARGETS_MS[key]),
            ]
        )
    api, health = statistics.median(r["api"]), statistics.median(r["healthz"])
    alone, one_process = statistics.median(r["api_serial"]), statistics.median(r["api_one_process"])
    rows += [
        [
            f"`POST /api/v1/releases` (a draft, rendered), `serve --workers {r['workers']}`",
            f"{len(r['api'])} requests, {CONCURRENT} clients",
            f"p50 {_ms(api)}, p99 {_ms(_p(r['api'], 0.99))}",
            f"`GET /healthz`, same clients: p50 {_ms(health)} ({fmt_ratio(api / health)})",
            _met(api, TARGETS_MS["api"]),
        ],
        [
            "`POST /api/v1/releases`, `serve --workers 1`",
            f"{len(r['api_one_process'])} requests, {CONCURRENT} clients",
            f"p50 {_ms(one_process)}, p99 {_ms(_p(r['api_one_process'], 0.99))}",
            f"one client: p50 {_ms(alone)}, {1 / alone:,.0f}/s; {CONCURRENT} clients wait "
            f"{fmt_ratio(one_process / alone)} that",
            _met(one_process, TARGETS_MS["api"]),
        ],
    ]
    listed, service = statistics.median(r["list"]), statistics.median(r["list_inprocess"])
    rows.append(
        [
            f"`GET /newsroom/releases`, {fmt_int(r['list_size'])} releases",
            f"{len(r['list'])} requests, 1 client",
            f"p50 {_ms(listed)}, p99 {_ms(_p(r['list'], 0.99))}",
            f"`list_releases` in process: {_ms(service)} ({fmt_ratio(listed / service)})",
            _met(listed, TARGETS_MS["list"]),
        ]
    )
    keys = r["keystroke"]
    rows.append(
        [
            "Chromium: keystroke in the body -> Telegram bubble updated",
            f"{len(keys)} keystrokes",
            f"p50 {_ms(statistics.median(keys))}, max {_ms(max(keys))}",
            "(includes the page's debounce)",
            _met(statistics.median(keys), TARGETS_MS["keystroke"]),
        ]
    )
    method = (
        "A real `publisher serve` (uvicorn) over an embedded Redis: `--workers 1`, and for the "
        "API also `--workers N` (N processes, each its own SO_REUSEPORT socket). An officer "
        "signed in through the form posts the compose form's fields to the live preview as the "
        "page does (`HX-Request`, one request at a time); an editor's API token creates drafts "
        f"from {CONCURRENT} asyncio clients at once; the list page is read with "
        f"{fmt_int(LIST_SIZE)} drafts in the store; Debian's Chromium types into the compose "
        f"page. {cpu_count()} CPUs, load average {load} before the run; the clients share "
        "the machine with the server."
    )
    return Section(
        "Newsroom and REST API",
        method,
        ["Measurement", "Load", "Result", "Baseline in the same run", "Target"],
        rows,
    )


if __name__ == "__main__":
    section = run(quick="--quick" in sys.argv)
    print(section.to_markdown())
    print(json.dumps({"rows": section.rows}, ensure_ascii=False))
