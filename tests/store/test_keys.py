"""The key layout: keys.py knows every key and documents each; the store names no platform."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from publisher.store import keys

ROOT = Path(__file__).resolve().parents[2]
PLACEHOLDERS = {
    "release_id": "{r}",
    "channel": "{c}",
    "group_id": "{g}",
    "name": "{name}",
    "source": "{s}",
    "bucket": "{n}",
    "window": "{w}",
    "digest": "{digest}",
}


def key_names() -> list[str]:
    """Every key keys.py can make, with its arguments as the docstring writes them."""
    names = [v for k, v in vars(keys).items() if k.startswith("K_") and isinstance(v, str)]
    for name, fn in vars(keys).items():
        if name.startswith("k_") and inspect.isfunction(fn):
            params = inspect.signature(fn).parameters
            names.append(fn(*(PLACEHOLDERS[p] for p in params)))
    return names


def test_every_key_is_in_the_documented_layout() -> None:
    doc = keys.__doc__ or ""
    missing = [k for k in key_names() if not re.search(rf"^\s+{re.escape(k)}\s", doc, re.M)]
    assert not missing, f"document these keys in publisher/store/keys.py: {missing}"


def test_no_other_module_spells_a_key() -> None:
    spelled = []
    for path in [*ROOT.glob("publisher/**/*.py"), *ROOT.glob("workers/**/*.py")]:
        if path == ROOT / "publisher/store/keys.py":
            continue
        if re.search(r"""["']pub:|\{PREFIX\}""", path.read_text()):
            spelled.append(str(path.relative_to(ROOT)))
    assert not spelled, f"key names belong in publisher/store/keys.py: {spelled}"


def test_the_store_names_no_platform() -> None:
    platform = re.compile(
        r"\b(telegram|e-?mail|smtp|twitter|tweet|website|x\.com|bot)\b|['\"]x['\"]", re.I
    )
    found = [
        f"{path.name}:{n}: {line.strip()}"
        for path in sorted((ROOT / "publisher/store").glob("*.py"))
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if platform.search(line)
    ]
    assert not found, "the store knows channels only by name:\n" + "\n".join(found)
