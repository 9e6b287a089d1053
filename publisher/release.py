"""The canonical release: Markdown with YAML front matter (or JSON), parsed and validated.

Validation collects every problem it can find in one pass, each naming the file, the field and
the fix, so a media officer fixes a file once instead of once per error.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import frontmatter
import yaml
from babel import Locale, UnknownLocaleError

from publisher.errors import ReleaseError, ReleaseErrors
from publisher.media import ImageFile, check_image
from publisher.settings import Settings, get_settings
from publisher.slugs import slugify

ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,119}$")
LANGUAGE_PATTERN = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$")
KNOWN_FIELDS = {
    "id",
    "title",
    "date",
    "body",
    "summary",
    "source",
    "category",
    "tags",
    "language",
    "images",
    "links",
    "publish_at",
    "channels",
    "translation_of",
    "overrides",
}
#: The channels a release goes to when it names none (the built-in ones).
DEFAULT_CHANNELS = ("telegram", "x", "email", "website")


@dataclass(frozen=True)
class Image:
    """An image of a release: `src` is a URL or a path next to the release file."""

    src: str
    alt: str = ""
    caption: str = ""
    #: A local image's file as validation checked it: what is read, never `src` again.
    file: ImageFile | None = None

    @property
    def is_url(self) -> bool:
        return self.src.startswith(("http://", "https://"))

    def to_json(self) -> dict[str, str]:
        """The image as a release's JSON gives it (the checked file is this host's business)."""
        return {"src": self.src, "alt": self.alt, "caption": self.caption}


@dataclass(frozen=True)
class Link:
    """A related link shown under the release."""

    title: str
    url: str


@dataclass(frozen=True)
class Release:
    """One press release, validated; everything the renderers need and nothing else."""

    id: str
    title: str
    date: datetime
    body: str
    language: str = "en"
    summary: str = ""
    source: str = ""
    category: str = ""
    tags: tuple[str, ...] = ()
    images: tuple[Image, ...] = ()
    links: tuple[Link, ...] = ()
    publish_at: datetime | None = None
    channels: tuple[str, ...] = DEFAULT_CHANNELS
    translation_of: str | None = None
    overrides: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    source_path: str = ""

    @property
    def locale(self) -> Locale:
        return locale_for(self.language)

    @property
    def direction(self) -> str:
        """`rtl` for right-to-left scripts (Arabic, Hebrew, Persian, Urdu...), else `ltr`."""
        return "rtl" if self.locale.text_direction == "rtl" else "ltr"

    def override(self, channel: str, key: str) -> Any:
        return self.overrides.get(channel, {}).get(key)

    def to_json(self) -> dict[str, Any]:
        """The JSON form of the release (what the API accepts back)."""
        return {
            "id": self.id,
            "title": self.title,
            "date": self.date.isoformat(),
            "body": self.body,
            "language": self.language,
            "summary": self.summary,
            "source": self.source,
            "category": self.category,
            "tags": list(self.tags),
            "images": [i.to_json() for i in self.images],
            "links": [vars(link) for link in self.links],
            "publish_at": self.publish_at.isoformat() if self.publish_at else None,
            "channels": list(self.channels),
            "translation_of": self.translation_of,
            "overrides": {k: dict(v) for k, v in self.overrides.items()},
        }


def locale_for(language: str) -> Locale:
    """The Babel locale of a BCP 47 tag (falls back to the primary language, then English)."""
    for candidate in (language, language.split("-")[0]):
        try:
            return Locale.parse(candidate, sep="-")
        except (UnknownLocaleError, ValueError):
            continue
    return Locale.parse("en")


def make_id(title: str, when: datetime) -> str:
    """The stable id of a release without an explicit one: its date and a slug of its title."""
    slug = slugify(title)
    if not re.search(r"[a-z]", slug):  # no Latin letters: digits alone would clash
        slug = hashlib.sha1(title.encode()).hexdigest()[:10]
    return f"{when:%Y-%m-%d}-{slug}"


def fold_lines(text: str) -> str:
    """Plain-text fields are one line: fold line breaks (and runs of spaces) into one space."""
    return re.sub(r"\s+", " ", text).strip()


def load_release(path: str | Path) -> Release:
    """Read and validate one release file (Markdown with front matter, or .json)."""
    path = Path(path)
    name = str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ReleaseErrors(
            [ReleaseError(name, "file", "no such file", "check the path")]
        ) from None
    except IsADirectoryError:
        raise ReleaseErrors(
            [ReleaseError(name, "file", "is a folder", "name a release file inside it")]
        ) from None
    except OSError as exc:
        raise ReleaseErrors(
            [ReleaseError(name, "file", f"cannot be read ({exc.strerror})", "check permissions")]
        ) from None
    return parse_release_bytes(raw, name, base_dir=path.parent, is_json=path.suffix == ".json")


def parse_release_bytes(
    raw: bytes, name: str, base_dir: Path | None = None, is_json: bool = False
) -> Release:
    """Validate a release given as the bytes of a file (Markdown or JSON)."""
    if b"\x00" in raw:
        raise ReleaseErrors(
            [ReleaseError(name, "file", "is binary, not text", "save the release as UTF-8 text")]
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ReleaseErrors(
            [
                ReleaseError(
                    name,
                    "file",
                    f"is not UTF-8 (bad byte at offset {exc.start})",
                    "save the release as UTF-8 text",
                )
            ]
        ) from None
    if is_json or text.lstrip().startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ReleaseErrors(
                [ReleaseError(name, "json", f"broken JSON at line {exc.lineno}", exc.msg)]
            ) from None
        if not isinstance(data, dict):
            raise ReleaseErrors(
                [ReleaseError(name, "json", "is not an object", "send one JSON object")]
            )
        return release_from_mapping(data, name, base_dir)
    if not text.lstrip().startswith("---"):
        raise ReleaseErrors(
            [
                ReleaseError(
                    name,
                    "front matter",
                    "missing",
                    "start the file with a '---' line, then 'title:' and 'date:', then '---'",
                )
            ]
        )
    try:
        post = frontmatter.loads(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ReleaseErrors(
            [
                ReleaseError(
                    name,
                    "front matter",
                    f"broken YAML{where} ({problem})",
                    "quote values that contain ':' or '#', and indent lists consistently",
                )
            ]
        ) from None
    metadata = post.metadata
    if not isinstance(metadata, dict):
        raise ReleaseErrors(
            [ReleaseError(name, "front matter", "is not a mapping", "write 'key: value' lines")]
        )
    data = dict(metadata)
    data["body"] = post.content
    return release_from_mapping(data, name, base_dir)


def release_from_mapping(
    data: Mapping[str, Any],
    name: str = "<release>",
    base_dir: Path | None = None,
    settings: Settings | None = None,
) -> Release:
    """Validate the fields of a release (from front matter or JSON); raise every problem.

    `settings` (default: the process's) give the time zone of dates without an offset and the
    media folder of uploaded images."""
    checker = _Checker(name, base_dir, settings or get_settings())
    release = checker.check(data)
    if checker.errors or release is None:
        raise ReleaseErrors(checker.errors)
    return release


class _Checker:
    """Validates one release's fields, collecting a ReleaseError per problem."""

    def __init__(self, name: str, base_dir: Path | None, settings: Settings) -> None:
        self.name = name
        self.base_dir = base_dir
        self.errors: list[ReleaseError] = []
        self.tz = ZoneInfo(settings.publisher_timezone)
        self.media_dir = settings.media_dir

    def error(self, field_name: str, problem: str, fix: str) -> None:
        self.errors.append(ReleaseError(self.name, field_name, problem, fix))

    def check(self, data: Mapping[str, Any]) -> Release | None:
        for key in data:
            if key not in KNOWN_FIELDS:
                self.error(
                    str(key),
                    "unknown field",
                    f"remove it, or use one of {', '.join(sorted(KNOWN_FIELDS))}",
                )
        title = self.text(data, "title", required=True)
        body = data.get("body")
        if not isinstance(body, str) or not body.strip():
            self.error("body", "empty", "write the release text below the front matter")
            body = ""
        when = self.datetime_field(data, "date", required=True)
        publish_at = self.datetime_field(data, "publish_at", required=False)
        language = self.language(data.get("language", "en"))
        release_id = self.release_id(data.get("id"), title, when)
        translation_of = data.get("translation_of")
        if translation_of is not None and (
            not isinstance(translation_of, str) or not ID_PATTERN.match(translation_of)
        ):
            self.error(
                "translation_of", f"{translation_of!r} is not a release id", "use the original's id"
            )
            translation_of = None
        channels = self.channels(data.get("channels"))
        overrides = self.overrides(data.get("overrides"))
        if self.errors or when is None:
            return None
        return Release(
            id=release_id,
            title=title,
            date=when,
            body=body.strip("\n") + "\n",
            language=language,
            summary=self.text(data, "summary"),
            source=self.text(data, "source"),
            category=self.text(data, "category"),
            tags=self.tags(data.get("tags")),
            images=self.images(data.get("images")),
            links=self.links(data.get("links")),
            publish_at=publish_at,
            channels=channels,
            translation_of=translation_of,
            overrides=overrides,
            source_path=self.name,
        )

    def text(self, data: Mapping[str, Any], key: str, required: bool = False) -> str:
        value = data.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                self.error(key, "missing", f"add a '{key}:' line to the front matter")
            return ""
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            self.error(key, f"must be text, not {type(value).__name__}", f"quote the {key}")
            return ""
        return fold_lines(str(value))

    def datetime_field(self, data: Mapping[str, Any], key: str, required: bool) -> datetime | None:
        value = data.get(key)
        if value is None or value == "":
            if required:
                self.error(key, "missing", f"add '{key}: 2024-05-01T09:00:00+03:00'")
            return None
        parsed = parse_datetime(value, self.tz)
        if parsed is None:
            self.error(
                key,
                f"cannot read {str(value)!r} as a date",
                "use ISO 8601, such as 2024-05-01 or 2024-05-01T09:00:00+03:00",
            )
        return parsed

    def language(self, value: Any) -> str:
        if not isinstance(value, str) or not LANGUAGE_PATTERN.match(value):
            self.error(
                "language", f"{value!r} is not a BCP 47 tag", "use a tag such as en, ar or en-GB"
            )
            return "en"
        try:
            Locale.parse(value.split("-")[0])
        except (UnknownLocaleError, ValueError):
            self.error("language", f"unknown language {value!r}", "use a tag such as en, ar or fr")
            return "en"
        return value

    def release_id(self, value: Any, title: str, when: datetime | None) -> str:
        if value is not None:
            if not isinstance(value, str) or not ID_PATTERN.match(value):
                self.error(
                    "id",
                    f"{value!r} is not a valid id",
                    "use lowercase ASCII letters, digits and '-', or leave it out",
                )
                return ""
            return value
        if when is None or not title:
            return ""
        return make_id(title, when)

    def channels(self, value: Any) -> tuple[str, ...]:
        # Names only: whether each is a declared channel is the publishing side's question
        # (`publisher.services.releases.channel_problems`), so the model knows no channel.
        if value is None:
            return DEFAULT_CHANNELS
        names = value.split(",") if isinstance(value, str) else value
        if not isinstance(names, list) or not names:
            self.error("channels", "must be a list", f"use a list of {', '.join(DEFAULT_CHANNELS)}")
            return DEFAULT_CHANNELS
        result = []
        for entry in names:
            channel = str(entry).strip().lower()
            if not channel:
                self.error("channels", "empty channel name", "remove the empty entry")
            elif channel not in result:
                result.append(channel)
        return tuple(result)

    def tags(self, value: Any) -> tuple[str, ...]:
        if value is None:
            return ()
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, list):
            self.error("tags", "must be a list", "write tags: [one, two]")
            return ()
        return tuple(fold_lines(str(t)) for t in items if str(t).strip())

    def images(self, value: Any) -> tuple[Image, ...]:
        if value is None:
            return ()
        if not isinstance(value, list):
            self.error("images", "must be a list", "write images: [{src: photo.jpg, alt: ...}]")
            return ()
        result = []
        for index, entry in enumerate(value):
            where = f"images[{index}]"
            if isinstance(entry, str):
                entry = {"src": entry}
            if not isinstance(entry, dict) or not isinstance(entry.get("src"), str):
                self.error(where, "has no src", "give each image a 'src:' (a URL or a file name)")
                continue
            src = entry["src"].strip()
            try:
                checked = check_image(src, self.name, f"{where}.src", self.base_dir, self.media_dir)
            except ReleaseError as refused:
                self.errors.append(refused)
                continue
            image = Image(
                src=src,
                alt=fold_lines(str(entry.get("alt") or "")),
                caption=fold_lines(str(entry.get("caption") or "")),
                file=checked,
            )
            result.append(image)
        return tuple(result)

    def links(self, value: Any) -> tuple[Link, ...]:
        if value is None:
            return ()
        if not isinstance(value, list):
            self.error("links", "must be a list", "write links: [{title: ..., url: https://...}]")
            return ()
        result = []
        for index, entry in enumerate(value):
            url = entry.get("url") if isinstance(entry, dict) else None
            if not isinstance(url, str) or not url.startswith(("https://", "http://", "mailto:")):
                self.error(f"links[{index}].url", "missing or not http(s)", "use an https URL")
                continue
            title = fold_lines(str(entry.get("title") or url))
            result.append(Link(title=title, url=url.strip()))
        return tuple(result)

    def overrides(self, value: Any) -> dict[str, dict[str, Any]]:
        # Shapes only; each channel's own override fields are checked against its declaration
        # (`publisher.services.releases.channel_problems`).
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.error("overrides", "must be a mapping", "write overrides: {x: {thread: [...]}}")
            return {}
        result: dict[str, dict[str, Any]] = {}
        for channel, settings in value.items():
            if not isinstance(settings, dict):
                self.error(f"overrides.{channel}", "must be a mapping", "write key: value lines")
                continue
            result[str(channel)] = dict(settings)
        return result


def publishing_problems(release: Release) -> list[ReleaseError]:
    """What stops a valid release from being published: hostile HTML in its body."""
    from publisher.html_safety import hostile_parts

    name = release.source_path or release.id
    return [
        ReleaseError(name, "body", f"contains {part}", "remove it; scripts, frames, forms and "
                     "event handlers are never published")
        for part in hostile_parts(release.body)
    ]  # fmt: skip


def parse_datetime(value: Any, tz: ZoneInfo) -> datetime | None:
    """A timezone-aware datetime from YAML's date/datetime or an ISO 8601 string.

    A date or time without an offset is taken in the organisation's time zone.
    """
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime.combine(value, time(0, 0))
    elif isinstance(value, str):
        text = value.strip().replace("Z", "+00:00")
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            return None
    else:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    return parsed
