"""A worker that only sends never loads the render stack: the channel declarations it reads
(limits, sender, audience: a fan-out reads all four) keep their renderers' imports for the
first render."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT

RENDER_STACK = [
    "jinja2",
    "markdown_it",
    "nh3",
    "css_inline",
    "babel",
    "twitter_text",
    "frontmatter",
]


def test_the_send_path_imports_no_renderer() -> None:
    code = (
        "import sys, json\n"
        "import workers.app as app\n"
        "for name in app.PRELOAD: __import__(name)\n"
        "from publisher import channels\n"
        "for name in ('telegram', 'x', 'email', 'website'): channels.get(name).fixed_recipients\n"
        f"print(json.dumps([m for m in {RENDER_STACK!r} if m in sys.modules]))\n"
    )
    found = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
        env={"PATH": "/usr/bin:/bin", "PUBLISHER_DATA_DIR": "/nonexistent",
             "REDIS_URL": "redis://127.0.0.1:1/0"},
    )  # fmt: skip
    assert json.loads(found.stdout) == []


def test_the_x_declaration_names_twitter_texts_limit() -> None:
    from publisher.channels.x import MAX_WEIGHT
    from publisher.splitters import x_thread

    assert MAX_WEIGHT == x_thread.MAX_WEIGHT == 280
