"""Finding hostile HTML in a release body, so `validate` and `publish` can refuse it.

Rendering always sanitises (nh3), so nothing hostile ever reaches a channel; but a release
that carries a script, a frame or an event handler was not written by a careful officer, and
publishing a silently altered text is worse than stopping and saying what is wrong.
"""

from __future__ import annotations

from functools import lru_cache
from html.parser import HTMLParser

from markdown_it import MarkdownIt

HOSTILE_TAGS = {
    "script", "style", "iframe", "frame", "frameset", "object", "embed", "applet", "form",
    "input", "button", "textarea", "select", "link", "meta", "base", "svg", "math", "template",
}  # fmt: skip
HOSTILE_SCHEMES = ("javascript:", "vbscript:", "data:")
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "srcset", "background"}


@lru_cache(maxsize=1)
def _markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": True})
    md.validateLink = lambda url: True  # type: ignore[method-assign]  # see what was written
    return md


class _Finder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in HOSTILE_TAGS:
            self.found.append(f"a <{tag}> element")
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"an event handler ({name}=) on <{tag}>")
            elif name in URL_ATTRIBUTES and value:
                scheme = "".join(value.split()).lower()
                if scheme.startswith(HOSTILE_SCHEMES):
                    self.found.append(f"a {scheme.split(':')[0]}: URL in <{tag} {name}>")


def hostile_parts(markdown_text: str) -> list[str]:
    """What in a Markdown body would be stripped as hostile (empty when the body is clean)."""
    finder = _Finder()
    finder.feed(_markdown().render(markdown_text))
    finder.close()
    return list(dict.fromkeys(finder.found))
