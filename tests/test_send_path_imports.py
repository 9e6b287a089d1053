"""A worker that only sends never loads the render stack: the channel declarations it reads
(limits, sender, audience) keep their renderers' imports for the first render."""

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
        "for name in ('telegram', 'email'): channels.get(name).make_sender\n"
        f"print(json.dumps([m for m in {RENDER_STACK!r} if m in sys.modules]))\n"
    )
    found = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
        env={"PATH": "/usr/bin:/bin", "PUBLISHER_DATA_DIR": "/nonexistent",
             "REDIS_URL": "redis://127.0.0.1:1/0"},
    )  # fmt: skip
    assert json.loads(found.stdout) == []
