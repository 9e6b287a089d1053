"""The content commands as a user runs them: validate, render, preview, import, site build."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_cli

EXAMPLES = ROOT / "examples" / "releases"
SEED = ROOT / "tests" / "data" / "seed_page.txt"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """No Redis at all: these commands must never need it."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("PUBLISHER_", "REDIS_"))}
    base.update(PUBLISHER_DATA_DIR=str(tmp_path / "var"), REDIS_URL="unix:///nonexistent.sock")
    base["PYTHONPATH"] = str(ROOT)
    return base


def test_validate_examples_ok(env: dict[str, str]) -> None:
    result = run_cli("validate", *map(str, sorted(EXAMPLES.glob("*.md"))), env=env)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"\x00\x01\x02garbage", "binary"),
        (b"---\ntitle: [broken\n---\nx\n", "broken YAML"),
        (b"---\ndate: 2024-01-01\n---\nx\n", "title"),
        (b"---\ntitle: t\ndate: someday\n---\nx\n", "date"),
        (b"---\ntitle: t\ndate: 2024-01-01\n---\n", "body"),
        (b"---\ntitle: t\ndate: 2024-01-01\nchannels: [fax]\n---\nx\n", "unknown channel"),
        (b"---\ntitle: t\ndate: 2024-01-01\nlanguage: '??'\n---\nx\n", "language"),
    ],
)
def test_validate_bad_input_exit_2_one_line(
    tmp_path: Path, env: dict[str, str], content: bytes, words: str
) -> None:
    path = tmp_path / "bad.md"
    path.write_bytes(content)
    result = run_cli("validate", str(path), env=env)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines and all(str(path) in line for line in lines)
    assert words in result.stderr


def test_validate_missing_file(env: dict[str, str]) -> None:
    result = run_cli("validate", "/nonexistent/release.md", env=env)
    assert result.returncode == 2 and "no such file" in result.stderr


def test_render_json_shape_and_stable_id(env: dict[str, str]) -> None:
    path = sorted(EXAMPLES.glob("*.md"))[0]
    first = json.loads(run_cli("render", str(path), "--json", env=env).stdout)
    second = json.loads(run_cli("render", str(path), "--json", env=env).stdout)
    assert first["id"] == second["id"] == path.stem
    channels = first["channels"]
    assert set(channels) == {"telegram", "x", "email", "website"}
    assert channels["telegram"]["messages"][0]["parse_mode"] == "HTML"
    assert channels["x"]["posts"][0]["text"]
    assert {"subject", "text", "html", "mime"} <= set(channels["email"])
    assert channels["website"]["path"].endswith("index.html")


def test_render_one_channel_and_unknown_channel(env: dict[str, str]) -> None:
    path = str(sorted(EXAMPLES.glob("*.md"))[0])
    only = json.loads(run_cli("render", path, "--channel", "x", "--json", env=env).stdout)
    assert list(only["channels"]) == ["x"]
    bad = run_cli("render", path, "--channel", "fax", "--json", env=env)
    assert bad.returncode == 2 and "unknown channel" in bad.stderr


def test_preview_shows_counters(env: dict[str, str]) -> None:
    path = str(sorted(EXAMPLES.glob("*.md"))[0])
    result = run_cli("preview", path, env=env)
    assert result.returncode == 0, result.stderr
    assert "/280" in result.stdout and "/4096" in result.stdout


def test_import_seed_then_site_build(tmp_path: Path, env: dict[str, str]) -> None:
    out = tmp_path / "releases"
    result = run_cli("import", str(SEED), "--out", str(out), env=env)
    assert result.returncode == 0, result.stderr
    files = sorted(out.glob("*.md"))
    assert len(files) == 4
    assert run_cli("validate", *map(str, files), env=env).returncode == 0
    again = run_cli("import", str(SEED), "--out", str(out), env=env)
    assert again.returncode == 0 and again.stdout.count("skipped") == 4

    site = tmp_path / "site"
    built = run_cli("site", "build", str(out), "--out", str(site), env=env)
    assert built.returncode == 0, built.stderr
    assert (site / "index.html").is_file() and (site / "feed.xml").is_file()
    assert not (tmp_path / "var" / "redis").exists(), "site build must not start Redis"


HOSTILE = b"""---
title: Hostile
date: 2024-01-01
---
Hello <script>alert(1)</script> <a href="javascript:alert(1)">link</a>
<img src=x onerror="alert(1)"> <iframe src="https://evil.example"></iframe>

`if a < b` in a code span is text, and fine.
"""


def test_hostile_html_refused_by_validate_but_render_shows_it_stripped(
    tmp_path: Path, env: dict[str, str]
) -> None:
    path = tmp_path / "hostile.md"
    path.write_bytes(HOSTILE)
    result = run_cli("validate", str(path), env=env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 4 and all(f"{path}: body:" in line for line in lines)
    assert "<script>" in result.stderr and "javascript:" in result.stderr
    rendered = run_cli("render", str(path), "--json", env=env)
    assert rendered.returncode == 0
    assert "warning" in rendered.stderr
    out = rendered.stdout
    for bad in ("<script>", "alert(1)", "javascript:", "onerror", "<iframe", "evil.example"):
        assert bad not in out
    assert "Hello" in out and "link" in out


def test_broken_override_template_is_one_line_exit_2(tmp_path: Path, env: dict[str, str]) -> None:
    overrides = tmp_path / "templates" / "telegram"
    overrides.mkdir(parents=True)
    (overrides / "message.html").write_text("<b>{{ title </b>\n")
    env = {**env, "PUBLISHER_TEMPLATES": str(tmp_path / "templates")}
    path = str(sorted(EXAMPLES.glob("*.md"))[0])
    for command in (["render", path, "--json"], ["validate", path]):
        result = run_cli(*command, env=env)
        assert result.returncode == 2, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "message.html" in lines[0] and "telegram" in lines[0]
        assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "command", [["serve", "--port", "99999"], ["bot", "--webhook", "--port", "0"]]
)
def test_a_port_out_of_range_is_refused_before_anything_starts(
    env: dict[str, str], command: list[str]
) -> None:
    result = run_cli(*command, env=env)
    assert result.returncode == 2
    assert "Invalid value for '--port'" in result.stderr and "1<=x<=65535" in result.stderr
