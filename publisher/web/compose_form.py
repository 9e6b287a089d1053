"""The compose form's fields and a release's JSON form, both ways: what the newsroom's form
sends becomes the fields a draft keeps (`release_fields`), and a draft's fields become what the
form shows (`form_values`). Pure: no store, no request."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from publisher.release import parse_datetime

#: The line that separates two posts of a hand-written X thread.
THREAD_BREAK = re.compile(r"^[ \t]*---[ \t]*$", re.MULTILINE)
#: How many empty image and link rows the form offers beyond those filled.
SPARE_ROWS = 1
LOCAL_FORMAT = "%Y-%m-%dT%H:%M"

Form = Mapping[str, Sequence[str]]


def one(form: Form, name: str) -> str:
    """The first value of a field, its surrounding whitespace (and NULs) removed."""
    values = form.get(name) or [""]
    return str(values[0]).replace("\x00", "").strip()


def _many(form: Form, name: str) -> list[str]:
    return [str(v).replace("\x00", "").strip() for v in form.get(name) or []]


def _local_time(text: str, zone: ZoneInfo) -> str | None:
    """A `datetime-local` value (no offset: the organisation's zone) as ISO 8601 with its
    offset; text that is no date is kept as typed, so validation names it."""
    if not text:
        return None
    parsed = parse_datetime(text, zone)
    return parsed.isoformat() if parsed is not None else text


def _rows(form: Form, names: Sequence[str]) -> list[dict[str, str]]:
    """Parallel repeated fields as rows; a row with every field empty is dropped."""
    columns = [_many(form, name) for name in names]
    count = max((len(c) for c in columns), default=0)
    rows = []
    for i in range(count):
        row = {
            n.split("_", 1)[1]: (c[i] if i < len(c) else "")
            for n, c in zip(names, columns, strict=True)
        }
        if any(row.values()):
            rows.append(row)
    return rows


def thread_posts(text: str) -> list[str]:
    """A hand-written X thread: one post per block between lines of `---`, empty ones dropped."""
    return [post.strip() for post in THREAD_BREAK.split(text.replace("\r\n", "\n")) if post.strip()]


def release_fields(form: Form, zone: ZoneInfo) -> dict[str, Any]:
    """The release's JSON form from the compose form's fields, valid or not (validation says
    what is wrong, next to each field). Empty optional fields are left out."""
    fields: dict[str, Any] = {}
    for name in ("title", "summary", "source", "category"):
        value = one(form, name)
        if value:
            fields[name] = value
    body = "\n".join(str(v) for v in form.get("body") or []).replace("\r\n", "\n")
    fields["body"] = body.replace("\x00", "").strip("\n")
    language = one(form, "language_other") or one(form, "language") or "en"
    fields["language"] = language
    for name in ("date", "publish_at"):
        when = _local_time(one(form, name), zone)
        if when is not None:
            fields[name] = when
    tags = [tag.strip() for tag in one(form, "tags").replace("،", ",").split(",")]
    if any(tags):
        fields["tags"] = [tag for tag in tags if tag]
    images = _rows(form, ("image_src", "image_alt", "image_caption"))
    if images:
        fields["images"] = images
    links = _rows(form, ("link_title", "link_url"))
    if links:
        fields["links"] = links
    if "channels_shown" in form:  # the boxes were on the form: none ticked means none
        fields["channels"] = [name for name in _many(form, "channels") if name]
    translation_of = one(form, "translation_of_id") or one(form, "translation_of")
    if translation_of:
        fields["translation_of"] = translation_of
    overrides: dict[str, dict[str, Any]] = {}
    thread = thread_posts("\n".join(str(v) for v in form.get("override_x_thread") or []))
    if thread:
        overrides["x"] = {"thread": thread}
    telegram = "\n".join(str(v) for v in form.get("override_telegram_text") or []).strip()
    if telegram:
        overrides["telegram"] = {"text": telegram.replace("\r\n", "\n")}
    subject = one(form, "override_email_subject")
    if subject:
        overrides["email"] = {"subject": subject}
    if overrides:
        fields["overrides"] = overrides
    return fields


def _to_local(value: Any, zone: ZoneInfo) -> str:
    """A stored date as the form's `datetime-local` value in the organisation's zone."""
    if value in (None, ""):
        return ""
    parsed = value if isinstance(value, datetime) else parse_datetime(value, zone)
    if parsed is None:
        return str(value)
    return parsed.astimezone(zone).strftime(LOCAL_FORMAT)


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def form_values(
    fields: Mapping[str, Any], zone: ZoneInfo, channel_names: Sequence[str]
) -> dict[str, Any]:
    """What the compose form shows for a draft's fields (as typed, or as published)."""
    overrides = fields.get("overrides") if isinstance(fields.get("overrides"), dict) else {}
    assert isinstance(overrides, dict)
    thread = (overrides.get("x") or {}).get("thread") or []
    tags = fields.get("tags") or []
    language = _text(fields.get("language") or "en")
    chosen = fields.get("channels")
    images = [i if isinstance(i, dict) else {"src": _text(i)} for i in fields.get("images") or []]
    links = [link for link in fields.get("links") or [] if isinstance(link, dict)]
    blank_image = {"src": "", "alt": "", "caption": ""}
    return {
        "title": _text(fields.get("title")),
        "summary": _text(fields.get("summary")),
        "source": _text(fields.get("source")),
        "body": _text(fields.get("body")),
        "category": _text(fields.get("category")),
        "tags": ", ".join(str(t) for t in tags) if isinstance(tags, list) else _text(tags),
        "language": language if language in ("en", "ar") else "",
        "language_other": "" if language in ("en", "ar") else language,
        "date": _to_local(fields.get("date"), zone),
        "publish_at": _to_local(fields.get("publish_at"), zone),
        "images": [{**blank_image, **{k: _text(v) for k, v in i.items()}} for i in images]
        + [blank_image] * SPARE_ROWS,
        "links": [{"title": _text(x.get("title")), "url": _text(x.get("url"))} for x in links]
        + [{"title": "", "url": ""}] * SPARE_ROWS,
        "channels": list(channel_names) if chosen is None else [str(c) for c in chosen],
        "translation_of": _text(fields.get("translation_of")),
        "override_x_thread": "\n---\n".join(str(p) for p in thread),
        "override_telegram_text": _text((overrides.get("telegram") or {}).get("text")),
        "override_email_subject": _text((overrides.get("email") or {}).get("subject")),
    }
