"""Shared rendering: the Jinja environments, Markdown to safe HTML, text helpers.

Every channel renders through here: `Markdown -> markdown-it -> nh3` gives the one sanitised
HTML body that the channel templates turn into payloads. Templates run sandboxed (users may
override any file through PUBLISHER_TEMPLATES); the HTML environment autoescapes.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import jinja2
import nh3
from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markdown_it import MarkdownIt

from publisher.errors import RenderError
from publisher.release import Release, locale_for
from publisher.settings import Settings, get_settings

BUILTIN_TEMPLATES = Path(__file__).parent / "templates"

# What survives sanitising: structure and inline formatting, never script, style or embeds.
ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "h5",
    "h6", "hr", "i", "img", "ins", "li", "ol", "p", "pre", "s", "strong", "sub", "sup", "table",
    "tbody", "td", "th", "thead", "tr", "u", "ul",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "td": {"align"},
    "th": {"align"},
    "ol": {"start"},
}
URL_SCHEMES = {"http", "https", "mailto"}


@lru_cache(maxsize=1)
def _markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": True, "typographer": False}).enable(
        ["table", "strikethrough"]
    )
    # Let every link through to nh3, which drops unsafe hrefs and keeps the text; markdown-it's
    # own check would leave `[x](javascript:...)` in the output as literal source text.
    md.validateLink = lambda url: True  # type: ignore[method-assign]
    return md


def markdown_to_html(text: str) -> str:
    """Release Markdown (with any inline HTML) to sanitised HTML: no script, handler or js: URL."""
    return sanitize_html(_markdown().render(text))


def sanitize_html(raw_html: str) -> str:
    """Keep the visible text and safe structure of untrusted HTML (nh3, an allow-list)."""
    return nh3.clean(
        raw_html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer",
        strip_comments=True,
    )


BLOCK_TAGS = {"p", "div", "blockquote", "pre", "table", "tr", "ul", "ol", "hr"}
BLOCK_TAGS |= {f"h{n}" for n in range(1, 7)}


class _TextExtractor(HTMLParser):
    """Turns sanitised HTML into readable plain text: paragraphs, bullets, `text (url)` links."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.href_stack: list[str | None] = []
        self.list_stack: list[list[int]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in BLOCK_TAGS or tag == "li":
            self.parts.append("\n\n" if tag != "li" else "\n")
        if tag in ("ul", "ol"):
            self.list_stack.append([0 if tag == "ol" else -1])
        elif tag == "li":
            marker = "- "
            if self.list_stack and self.list_stack[-1][0] >= 0:
                self.list_stack[-1][0] += 1
                marker = f"{self.list_stack[-1][0]}. "
            self.parts.append(marker)
        elif tag == "br":
            self.parts.append("\n")
        elif tag in ("td", "th"):
            self.parts.append(" ")
        elif tag == "a":
            self.href_stack.append(dict(attrs).get("href"))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("ul", "ol") and self.list_stack:
            self.list_stack.pop()
        if tag in BLOCK_TAGS:
            self.parts.append("\n\n")
        elif tag == "a" and self.href_stack:
            href = self.href_stack.pop()
            if href and not href.startswith("mailto:"):
                self.parts.append(f" ({href})")

    def handle_data(self, data: str) -> None:
        self.parts.append(re.sub(r"\s+", " ", data))

    def text(self) -> str:
        joined = "".join(self.parts)
        lines = [line.strip() for line in joined.split("\n")]
        return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def html_to_text(safe_html: str) -> str:
    """Plain text of sanitised HTML, paragraphs separated by blank lines."""
    extractor = _TextExtractor()
    extractor.feed(safe_html)
    extractor.close()
    return extractor.text()


def paragraphs(text: str) -> list[str]:
    """The non-empty paragraphs of a plain text (blank-line separated)."""
    return [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]


# Sentence ends: Latin, Arabic (؟ ۔; ؛ is a semicolon, not an end), CJK full stops and marks,
# with any closing quotes or brackets kept on the sentence they close.
SENTENCE_END = re.compile(r"[.!?؟۔。！？…][\"'”’»)\]]*(?:\s+|$)|[。！？]")


def sentences(text: str) -> list[str]:
    """Split a paragraph into sentences (each keeps its trailing punctuation)."""
    parts: list[str] = []
    start = 0
    for match in SENTENCE_END.finditer(text):
        parts.append(text[start : match.end()].strip())
        start = match.end()
    parts.append(text[start:].strip())
    return [p for p in parts if p] or [text]


def format_release_date(value: datetime, language: str, style: str = "long") -> str:
    """A date in the release's language (Babel): '11 February 2020', '١١ فبراير ٢٠٢٠'."""
    return format_date(value, format=style, locale=locale_for(language))


def format_release_datetime(value: datetime, language: str, style: str = "medium") -> str:
    return format_datetime(value, format=style, tzinfo=value.tzinfo, locale=locale_for(language))


def format_number(value: float, language: str) -> str:
    return format_decimal(value, locale=locale_for(language))


class Templates:
    """The two sandboxed Jinja environments (HTML autoescaped, plain text not)."""

    def __init__(self, override_dir: Path | None = None) -> None:
        search = [str(override_dir)] if override_dir else []
        search.append(str(BUILTIN_TEMPLATES))
        loader = jinja2.FileSystemLoader(search)
        common: dict[str, Any] = {
            "loader": loader,
            "undefined": jinja2.StrictUndefined,
            "trim_blocks": True,
            "lstrip_blocks": True,
            "keep_trailing_newline": False,
        }
        self.html = ImmutableSandboxedEnvironment(autoescape=True, **common)
        self.text = ImmutableSandboxedEnvironment(autoescape=False, **common)
        for env in (self.html, self.text):
            env.filters["date"] = format_release_date
            env.filters["datetime"] = format_release_datetime
            env.filters["number"] = format_number

    def render_html(self, name: str, **context: Any) -> str:
        return self._render(self.html, name, context)

    def render_text(self, name: str, **context: Any) -> str:
        return self._render(self.text, name, context)

    def _render(self, env: jinja2.Environment, name: str, context: dict[str, Any]) -> str:
        channel = name.split("/", 1)[0]
        try:
            return env.get_template(name).render(**context)
        except jinja2.TemplateSyntaxError as exc:
            where = exc.filename or name
            raise RenderError(
                channel, f"template syntax error at line {exc.lineno}: {exc.message}", where
            ) from exc
        except jinja2.TemplateNotFound as exc:
            raise RenderError(channel, f"template {exc.name} not found", name) from exc
        except (jinja2.UndefinedError, jinja2.exceptions.SecurityError) as exc:
            raise RenderError(channel, f"template error: {exc}", name) from exc


@dataclass(frozen=True)
class RenderContext:
    """What rendering needs beyond the release: settings and the template environments."""

    public_url: str
    x_thread_max: int
    organisation: str
    templates: Templates
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> RenderContext:
        settings = settings or get_settings()
        return cls(
            public_url=settings.base_url,
            x_thread_max=settings.x_thread_max,
            organisation=settings.organisation_name,
            templates=_templates(settings.publisher_templates),
        )

    def page_path(self, release: Release) -> str:
        """The release's page inside the site: relative/path/index.html."""
        return f"releases/{release.id}/index.html"

    def page_url(self, release: Release) -> str:
        return f"{self.public_url}/releases/{release.id}/"

    def image_url(self, release: Release, src: str) -> str:
        """Absolute URL of a release image (a local file is published beside its page)."""
        if src.startswith(("http://", "https://")):
            return src
        return f"{self.public_url}/releases/{release.id}/{Path(src).name}"


@lru_cache(maxsize=8)
def _templates(override_dir: Path | None) -> Templates:
    return Templates(override_dir)


@dataclass(frozen=True)
class BodyParts:
    """The body of a release prepared once for every channel."""

    html: str
    text: str


def body_parts(release: Release) -> BodyParts:
    safe = markdown_to_html(release.body)
    return BodyParts(html=safe, text=html_to_text(safe))


def escape(text: str) -> str:
    """HTML-escape text (quotes included)."""
    return html.escape(text, quote=True)
