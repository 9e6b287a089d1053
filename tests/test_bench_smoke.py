"""Smoke test of the benchmark harness: `python -m bench --quick` runs and writes its section."""

from __future__ import annotations

from pathlib import Path

from bench.__main__ import main
from bench.common import Timing, fmt_s, median_of, table, verdict

OTHER_SECTION = (
    "<!-- bench:fanout -->\n## Fan-out\n\nmeasured by someone else\n<!-- /bench:fanout -->\n"
)
STALE_RENDER = "<!-- bench:render -->\n## Old render numbers\n<!-- /bench:render -->\n"


def test_quick_run_replaces_only_its_own_section(tmp_path: Path) -> None:
    out = tmp_path / "benchmarks.md"
    out.write_text(f"# Benchmarks\n\n{STALE_RENDER}\n{OTHER_SECTION}", encoding="utf-8")

    assert main(["--quick", "--only", "render", "--out", str(out)]) == 0

    text = out.read_text(encoding="utf-8")
    assert text.startswith("# Benchmarks\n")
    assert "- Platform: `" in text and "- CPUs: " in text and "--only render" in text
    assert OTHER_SECTION in text  # another module's section is kept as it was
    assert "Old render numbers" not in text
    assert text.count("<!-- bench:render -->") == 1
    render = text[text.index("<!-- bench:render -->") : text.index("<!-- /bench:render -->")]
    for row in ("parse + 4 channels", "fresh build", "nothing changed", "add one release"):
        assert row in render
    assert "quick (small sizes" in render
    assert text.index("<!-- bench:render -->") < text.index("<!-- bench:fanout -->")


def test_median_of_reports_every_run() -> None:
    calls: list[int] = []
    timing = median_of(lambda: calls.append(1), 5, setup=lambda: None, warmup=2)
    assert len(calls) == 7
    assert isinstance(timing, Timing) and timing.repeats == 5 and len(timing.samples) == 5
    assert timing.min_s <= timing.median_s <= timing.max_s


def test_formatting() -> None:
    assert fmt_s(0.000812) == "812 µs"
    assert fmt_s(0.00421) == "4.21 ms"
    assert fmt_s(13.44) == "13.4 s"
    assert verdict(0.010, 0.050) == "yes (< 50 ms)"
    assert verdict(0.075, 0.050) == "NO: 1.5× the 50 ms target"
    assert table(["a", "b"], [["1", "x|y"]]) == "| a | b |\n| --- | --- |\n| 1 | x\\|y |"
