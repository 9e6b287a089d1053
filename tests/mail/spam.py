"""SpamAssassin as a receiving server would run it, offline: `spamassassin -L -t` (local tests
only: no DNS, no network rules, no Bayes or welcome-list state), on the bytes a peer received.

`score(raw)` gives the score and every rule that fired, for the release and briefing tests.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

LIMIT = 2.0
_TOTAL = re.compile(r"Content analysis details:\s+\((-?\d+(?:\.\d+)?) points")
_RULE = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s+([A-Z0-9_]+)\s+(.*)$")


@dataclass(frozen=True)
class SpamReport:
    """SpamAssassin's verdict: the score and each (points, rule, description) that fired."""

    score: float
    rules: list[tuple[float, str, str]]

    def table(self) -> str:
        lines = [f"score {self.score:.1f} (limit {LIMIT})"]
        lines += [f"  {points:5.1f} {name:24} {text}" for points, name, text in self.rules]
        return "\n".join(lines)


def spamassassin() -> str:
    """The path of Debian's spamassassin; FAILS (does not skip) when it is not installed."""
    found = shutil.which("spamassassin")
    if found is None:
        pytest.fail(
            "spamassassin is not installed: apt-get install spamassassin (.ci/run does it); "
            "the spam score of every email is part of the tests",
            pytrace=False,
        )
    return found


def score(raw: bytes) -> SpamReport:
    """Run spamassassin -L -t on one message; its score and the rules that fired."""
    command = spamassassin()
    with tempfile.TemporaryDirectory(prefix="sa-home-") as home:
        prefs = Path(home) / "user_prefs"
        prefs.write_text("use_bayes 0\nuse_auto_welcomelist 0\n", encoding="ascii")
        done = subprocess.run(
            [command, "-L", "-t", "--prefspath", str(prefs)],
            input=raw,
            capture_output=True,
            timeout=300,
            env={"HOME": home, "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
        )
    output = done.stdout.decode("utf-8", "replace")
    total = _TOTAL.search(output)
    assert total, f"no report from spamassassin (exit {done.returncode}): {done.stderr[-500:]!r}"
    section = output[total.end() :].split("\n", 3)[-1]
    rules: list[tuple[float, str, str]] = []
    for line in section.splitlines():
        found = _RULE.match(line)
        if found is None:
            if rules and line.startswith(" " * 20):  # a wrapped description
                points, name, text = rules[-1]
                rules[-1] = (points, name, f"{text} {line.strip()}")
                continue
            if rules and not line.strip():
                break
            continue
        rules.append((float(found.group(1)), found.group(2), found.group(3).strip()))
    return SpamReport(float(total.group(1)), rules)
