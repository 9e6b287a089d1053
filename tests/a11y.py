"""Accessibility checks for tests that drive a real browser: the vendored axe-core
(tests/vendor/axe-core) run in a Playwright sync `Page`.

    from tests.a11y import assert_accessible

    page.goto(f"{base}/newsroom/compose?lang=ar")
    assert_accessible(page, "compose ar")

axe-core is put into the page with `page.evaluate`, which goes through the DevTools protocol and
so works under the app's Content-Security-Policy (no inline or outside script allowed); an
inline `<script>` tag would be refused. The page's context must have JavaScript on (the
default): a context made with `java_script_enabled=False` cannot run axe-core. The pages
themselves carry no script, so turning it on changes nothing they show.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

AXE_DIR = Path(__file__).resolve().parent / "vendor" / "axe-core"
AXE_JS = AXE_DIR / "axe.min.js"
IMPACTS = ("serious", "critical")
"""What fails a test by default: axe-core's impacts are minor, moderate, serious, critical."""
NODES = 3
"""How many of a violation's elements are kept (the rest are counted)."""
HTML_CHARS = 300

_RUN = """async ([nodes, incomplete]) => {
    const kinds = incomplete ? ["violations", "incomplete"] : ["violations"];
    const results = await window.axe.run(document, {resultTypes: kinds});
    const said = (n) => [...n.any, ...n.all, ...n.none].map((c) => c.message).filter(Boolean);
    return kinds.flatMap((kind) => results[kind].map((v) => ({
        id: v.id,
        impact: v.impact,
        help: v.help,
        helpUrl: v.helpUrl,
        needs_review: kind === "incomplete",
        count: v.nodes.length,
        nodes: v.nodes.slice(0, nodes).map((n) => ({
            target: n.target,
            html: n.html,
            summary: n.failureSummary || said(n).join("\\n"),
        })),
    })));
}"""


@functools.cache
def axe_source() -> str:
    """The text of the vendored axe.min.js."""
    return AXE_JS.read_text(encoding="utf-8")


@functools.cache
def axe_version() -> str:
    """The vendored axe-core's version, from its first line (`/*! axe v4.14.1`)."""
    first = axe_source().split("\n", 1)[0]
    return first.removeprefix("/*! axe v").strip()


def inject_axe(page: Any) -> None:
    """Put axe-core into the page's main frame, unless it is there already."""
    if page.evaluate("() => typeof window.axe === 'object' && !!window.axe.run"):
        return
    # Wrapped in a function so what the script's last expression gives is not sent back.
    page.evaluate("() => {\n" + axe_source() + "\n}")
    if not page.evaluate("() => typeof window.axe === 'object' && !!window.axe.run"):
        raise RuntimeError(f"axe-core did not load into {page.url}")


def axe_violations(
    page: Any, impacts: Iterable[str] = IMPACTS, *, incomplete: bool = False
) -> list[dict[str, Any]]:
    """Run axe-core on the page as it is now and return its violations of one of `impacts`;
    with `incomplete`, also what axe-core could not decide and asks a person to review (a
    rule's impact, then, is what it would be if it failed).

    Each is a dict: id, impact, help, helpUrl, needs_review (false for a violation), count
    (elements in all) and nodes, the first `NODES` elements as dicts of target (CSS
    selectors), html and summary (axe-core's words on what is wrong)."""
    inject_axe(page)
    wanted = set(impacts)
    try:
        found: list[dict[str, Any]] = page.evaluate(_RUN, [NODES, incomplete])
    except Exception as error:  # playwright's Error, for one
        raise RuntimeError(
            f"axe-core could not run on {page.url} (a context with java_script_enabled=False "
            f"lets it load but never finish): {error}"
        ) from error
    return [violation for violation in found if violation["impact"] in wanted]


def describe(violations: list[dict[str, Any]]) -> str:
    """The violations as lines a person can act on."""
    lines = []
    for violation in violations:
        review = ", needs review" if violation["needs_review"] else ""
        lines.append(
            f"- {violation['id']} [{violation['impact']}{review}] {violation['help']} "
            f"({violation['count']} element{'s' if violation['count'] != 1 else ''}; "
            f"{violation['helpUrl']})"
        )
        for node in violation["nodes"]:
            html = node["html"]
            if len(html) > HTML_CHARS:
                html = html[:HTML_CHARS] + "…"
            lines.append(f"    at {json.dumps(node['target'], ensure_ascii=False)}: {html}")
            for said in node["summary"].splitlines():
                lines.append(f"      {said}")
        if violation["count"] > len(violation["nodes"]):
            lines.append(f"    and {violation['count'] - len(violation['nodes'])} more")
    return "\n".join(lines)


def assert_accessible(
    page: Any, label: str, impacts: Iterable[str] = IMPACTS, *, incomplete: bool = False
) -> None:
    """Fail, listing them, if axe-core finds violations of one of `impacts` on the page (and,
    with `incomplete`, anything of those impacts it leaves for a person to review).

    `label` names the page in the message, e.g. "compose en"."""
    __tracebackhide__ = True
    impacts = tuple(impacts)
    violations = axe_violations(page, impacts, incomplete=incomplete)
    if violations:
        raise AssertionError(
            f"{label}: axe-core {axe_version()} found {len(violations)} "
            f"{'/'.join(impacts)} accessibility problem{'s' if len(violations) != 1 else ''} "
            f"on {page.url}\n{describe(violations)}"
        )
