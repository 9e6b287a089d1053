"""The newsroom's drafts: a release as it is typed, its live preview, import and download.

A draft keeps the release's fields as typed (the JSON form of a release, `Release.to_json`),
valid or not, so an autosave loses nothing; its problems are worked out when it is read. Its id
is fixed at the first save (given, or made from its date and title, as for a file), so a
release keeps one id from its first autosave to its delivery.

An edit of a release that was submitted (awaiting approval, approved, scheduled) sends it back
for approval: the approval was of other content. `publisher.services.approval` moves a draft
through its states.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import frontmatter

from publisher import channels as channel_registry
from publisher.errors import (
    ReleaseError,
    ReleaseErrors,
    RenderError,
    StateConflict,
    UnknownChannelError,
)
from publisher.release import (
    Release,
    make_id,
    parse_datetime,
    parse_release_bytes,
    publishing_problems,
)
from publisher.release import release_from_mapping as check_fields
from publisher.render import RenderContext, body_parts
from publisher.services.accounts import Principal
from publisher.services.backend import Backend
from publisher.services.releases import channel_problems
from publisher.services.rendering import for_people, public, render_all
from publisher.settings import Settings

#: Where a draft may still be edited; an edit of a submitted one sends it back for approval.
EDITABLE = ("draft", "awaiting-approval", "approved", "scheduled")
SUBMITTED = ("awaiting-approval", "approved", "scheduled")
#: A draft's fields beyond a release's that the newsroom keeps.
MAX_FIELDS_BYTES = 2_000_000


def principal_key(who: Principal) -> str:
    """Who acts, as kept with a release (its author, its approver): `user:NAME`, `token:NAME`."""
    return f"{who.kind}:{who.name}"


def actor(who: Principal) -> str:
    """Who acts, as the event stream says it: the user's name, or `token NAME`."""
    return who.name if who.kind == "user" else f"token {who.name}"


@dataclass(frozen=True)
class Problem:
    """One thing to fix, next to the field that causes it."""

    field: str
    problem: str
    fix: str

    def to_json(self) -> dict[str, str]:
        return {"field": self.field, "problem": self.problem, "fix": self.fix}


@dataclass(frozen=True)
class Preview:
    """What each channel would get from the fields as typed, or what stops it."""

    rendered: dict[str, Any] | None  # the `render --json` shape, without internal keys
    counters: dict[str, list[tuple[str, str]]]
    problems: list[Problem]  # each stops a submit
    warnings: list[Problem]  # shown; active content, stripped here, refused on submit
    release: Release | None = None

    @property
    def ok(self) -> bool:
        return not self.problems and not self.warnings


@dataclass(frozen=True)
class Draft:
    """A release in the newsroom: its fields as typed, its state, who wrote and approved it."""

    id: str
    fields: dict[str, Any]
    state: str
    author: str
    content_hash: str  # of the submitted content ("" until submitted)
    approved_by: str
    approved_hash: str
    updated: float
    events: list[dict[str, str]] = field(default_factory=list)


def _problems(exc: ReleaseErrors | ReleaseError) -> list[Problem]:
    errors = exc.errors if isinstance(exc, ReleaseErrors) else [exc]
    return [Problem(e.field, e.problem, e.fix) for e in errors]


def check(
    fields: Mapping[str, Any], name: str = "draft", settings: Settings | None = None
) -> Release:
    """The release the fields make (images from the media folder); ReleaseErrors if none."""
    release = check_fields(fields, name, settings=settings)
    problems = channel_problems(release)
    if problems:
        raise ReleaseErrors(problems)
    return release


def content_hash(release: Release) -> str:
    """The sha256 of what a release says (an approval is of this, and of nothing else)."""
    canonical = json.dumps(release.to_json(), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def preview(fields: Mapping[str, Any], settings: Settings | None = None) -> Preview:
    """Render the fields as typed for every channel they choose, by the same `render_all`
    that delivery's payloads come from; pure (no store). A channel that cannot render says
    why under `channels.NAME`; the others still show."""
    try:
        release = check(fields, str(fields.get("id") or "draft"), settings)
    except ReleaseErrors as exc:
        return Preview(None, {}, _problems(exc), [])
    ctx = RenderContext.from_settings(settings) if settings is not None else None
    warnings = [Problem(p.field, p.problem, p.fix) for p in publishing_problems(release)]
    problems: list[Problem] = []
    rendered: dict[str, Any] = {"id": release.id, "channels": {}}
    body = body_parts(release)  # once, not once per channel: Markdown is most of the work
    for name in release.channels:
        try:
            one = render_all(release, [name], ctx, body)
        except RenderError as exc:
            problems.append(Problem(f"channels.{name}", exc.message, _render_fix(name)))
            continue
        except UnknownChannelError as exc:
            problems.append(Problem("channels", exc.message, "choose among the channels shown"))
            continue
        rendered["channels"][name] = one["channels"][name]
    shown = public(rendered)
    return Preview(shown, for_people(rendered), problems, warnings, release)


def _render_fix(channel: str) -> str:
    overrides = channel_registry.get(channel).override_fields
    if overrides:
        return f"shorten the text, or write this channel's own {' or '.join(overrides)}"
    return "shorten the text"


def _listed(fields: Mapping[str, Any]) -> dict[str, str]:
    """The fields the releases' list shows and filters on."""
    return {
        "title": str(fields.get("title") or "")[:500],
        "category": str(fields.get("category") or "")[:200],
        "language": str(fields.get("language") or "en")[:35],
        "date": str(fields.get("date") or "")[:40],
    }


def _new_id(backend: Backend, fields: Mapping[str, Any]) -> str:
    """The id a new draft gets: its own `id`, else its date and title as for a file."""
    given = fields.get("id")
    if given:
        check_fields({**fields, "id": given}, "draft", settings=backend.settings)  # a bad id
        return str(given)
    problems = []
    title = str(fields.get("title") or "").strip()
    if not title:
        problems.append(ReleaseError("draft", "title", "is required", "give the release a title"))
    when = parse_datetime(fields.get("date"), backend.settings.timezone)
    if when is None:
        problems.append(
            ReleaseError("draft", "date", "is required", "give a date, e.g. 2024-05-01T09:00")
        )
    if problems or when is None:
        raise ReleaseErrors(problems)
    return make_id(title, when)


def _size_check(fields: Mapping[str, Any]) -> dict[str, Any]:
    raw = json.dumps(dict(fields), ensure_ascii=False, default=str)
    if len(raw.encode()) > MAX_FIELDS_BYTES:
        raise ReleaseErrors(
            [ReleaseError("draft", "body", "is larger than 2 MB", "split it into two releases")]
        )
    return dict(json.loads(raw))


def create(backend: Backend, fields: Mapping[str, Any], who: Principal) -> Draft:
    """A new draft from fields as typed (they need a title and date, or an id, to name it).

    A made id that is taken gets `-2`, `-3`...; a given id that is taken is a StateConflict.
    """
    fields = _size_check(fields)
    base = _new_id(backend, fields)
    store = backend.store
    release_id = base
    author, drafted_by = principal_key(who), actor(who)
    for n in range(2, 1000):
        kept = {**fields, "id": release_id}
        if store.create_draft(release_id, kept, _listed(fields), author, drafted_by):
            break
        if fields.get("id"):
            raise StateConflict(release_id, "taken", "a release with this id exists already")
        release_id = f"{base}-{n}"[:120]
    else:
        raise StateConflict(base, "taken", "too many releases with this title and date")
    return get(backend, release_id)


def update(backend: Backend, release_id: str, fields: Mapping[str, Any], who: Principal) -> Draft:
    """Save new fields of a draft. A submitted release whose content changes goes back to
    awaiting approval (its approval, of other content, is withdrawn; a schedule is lifted);
    one that no longer validates goes back to draft. StateConflict once it is published."""
    fields = {**_size_check(fields), "id": release_id}
    store = backend.store
    found = store.release_fields(release_id, "status", "hash", "draft")
    state = found.get("status")
    if state is None:
        raise ReleaseError(release_id, "id", "no such release", "use the id that was given")
    if "draft" not in found or state not in EDITABLE:
        raise StateConflict(release_id, state, f"is {state}: it can no longer be edited")
    changes: dict[str, str | None] = {
        "draft": json.dumps(fields, ensure_ascii=False),
        "updated": f"{time.time():.3f}",
        **_listed(fields),
    }
    events: list[tuple[str, dict[str, str]]] = [("edited", {})]
    if state in SUBMITTED:
        try:
            release = check(fields, release_id, backend.settings)
            new_hash = content_hash(release)
        except ReleaseErrors:
            release, new_hash = None, ""
        if new_hash != found.get("hash"):
            if state == "scheduled" and not store.unschedule(release_id):
                raise StateConflict(release_id, "sending", "is being published already")
            submitted = _submitted_or_none(release, backend.settings)
            if submitted is not None:
                changes.update(submitted, status="awaiting-approval")
            else:
                changes.update(status="draft", hash=None)
            changes.update(approved_by=None, approved_hash=None)
            events.append(("approval-withdrawn", {"was": state}))
    moved = store.transition(release_id, EDITABLE, changes)
    if moved is not None:
        raise StateConflict(release_id, moved[0], f"is {moved[0]}: it can no longer be edited")
    for kind, details in events:
        store.add_event(release_id, kind, actor(who), **details)
    return get(backend, release_id)


def _submitted_or_none(release: Release | None, settings: Settings) -> dict[str, str | None] | None:
    """The submitted fields of content that may be published; None when it may not."""
    if release is None or publishing_problems(release):
        return None
    try:
        return submitted_fields(release, settings)
    except (ReleaseErrors, RenderError):
        return None


def submitted_fields(release: Release, settings: Settings) -> dict[str, str | None]:
    """The stored fields of submitted content: the release, its payloads and their hash."""
    from publisher.services.releases import prepare

    rendered = prepare(release, ctx=RenderContext.from_settings(settings))
    return {
        "release": json.dumps(release.to_json(), ensure_ascii=False),
        "rendered": json.dumps(rendered, ensure_ascii=False),
        "channels": json.dumps(list(release.channels)),
        "hash": content_hash(release),
    }


def get(backend: Backend, release_id: str) -> Draft:
    """A release as the newsroom shows it (one published from the command line too: its
    fields are then the release it was published as). ReleaseError for an unknown id."""
    store = backend.store
    found = store.release_fields(
        release_id,
        "draft",
        "release",
        "status",
        "author",
        "hash",
        "approved_by",
        "approved_hash",
        "updated",
    )
    if "status" not in found:
        raise ReleaseError(release_id, "id", "no such release", "use the id that was given")
    fields = json.loads(found.get("draft") or found.get("release") or "{}")
    return Draft(
        id=release_id,
        fields=fields,
        state=display_state(found["status"]),
        author=found.get("author", ""),
        content_hash=found.get("hash", ""),
        approved_by=found.get("approved_by", ""),
        approved_hash=found.get("approved_hash", ""),
        updated=float(found.get("updated") or 0),
        events=store.events(release_id),
    )


def display_state(status: str) -> str:
    """The newsroom's name of a stored state: queued and publishing are both "sending"."""
    return {"queued": "sending", "publishing": "sending"}.get(status, status)


def import_file(backend: Backend, raw: bytes, filename: str, who: Principal) -> Draft:
    """A release file (Markdown with front matter, or JSON) as a new draft; its images must be
    URLs or files already uploaded. ReleaseErrors name the file's problems; nothing is kept."""
    release = parse_release_bytes(raw, filename, is_json=filename.endswith(".json"))
    return create(backend, release.to_json(), who)


def markdown_file(draft: Draft) -> str:
    """The release as a Markdown file with YAML front matter (what `publisher publish` takes)."""
    fields = {k: v for k, v in draft.fields.items() if v not in (None, "", [], {})}
    body = str(fields.pop("body", ""))
    metadata = {k: _plain(v) for k, v in fields.items()}
    return frontmatter.dumps(frontmatter.Post(body, **metadata), sort_keys=False) + "\n"


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return value
