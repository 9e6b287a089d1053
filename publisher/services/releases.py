"""A media officer's use cases on a release: check, render, submit (now, at an embargo, to some
channels, again to the failed), cancel and resume. Each takes who did it, for the event stream.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime
from logging import INFO
from pathlib import Path
from typing import Any

from publisher import channels as channel_registry
from publisher.errors import ReleaseError, ReleaseErrors, RenderError, UnknownChannelError
from publisher.logs import log_event
from publisher.release import Release, load_release, parse_datetime, publishing_problems
from publisher.render import RenderContext
from publisher.services import subscribers
from publisher.services.backend import Backend
from publisher.services.rendering import render_all
from publisher.settings import get_settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rendering:
    """A release rendered for people to look at, with what sanitising took out of it."""

    release: Release
    rendered: dict[str, Any]
    warnings: list[str]


@dataclass(frozen=True)
class Submission:
    """What `publish` did: queued now, scheduled for later, or nothing new."""

    release_id: str
    action: str  # queued | scheduled | already-published | retrying
    at: datetime | None = None
    count: int = 0


def load(path: str | Path) -> Release:
    """A release file, parsed and checked field by field (ReleaseErrors names each problem)."""
    return load_release(path)


def parse_time(value: str) -> datetime:
    """An ISO 8601 time from a person (no offset: PUBLISHER_TIMEZONE); ReleaseError if not."""
    parsed = parse_datetime(value, get_settings().timezone)
    if parsed is None:
        raise ReleaseError(
            "--at", "at", f"{value!r} is not ISO 8601", "write e.g. 2024-05-01T09:00+03:00"
        )
    return parsed


def channel_names(names: list[str] | None) -> list[str] | None:
    """Check channel names against the registry; UnknownChannelError names the known ones."""
    if names is None:
        return None
    known = channel_registry.names()
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        shown = ", ".join(unknown) or "none"
        raise UnknownChannelError(f"unknown channel {shown}; use {', '.join(known)}", shown)
    return names


def channel_problems(release: Release) -> list[ReleaseError]:
    """Each channel the release names must be declared, and each override one it accepts."""
    where = release.source_path or release.id
    known = channel_registry.names()
    problems = [
        ReleaseError(where, "channels", f"unknown channel {name!r}", f"use {', '.join(known)}")
        for name in release.channels
        if name not in known
    ]
    for name, given in release.overrides.items():
        if name not in known:
            problems.append(
                ReleaseError(
                    where, "overrides", f"unknown channel {name!r}", f"use {', '.join(known)}"
                )
            )
            continue
        allowed = channel_registry.get(name).override_fields
        for key, item in given.items():
            field = f"overrides.{name}.{key}"
            expected = allowed.get(str(key))
            if expected is None:
                options = ", ".join(allowed) or "nothing yet"
                problems.append(
                    ReleaseError(
                        where, field, "unknown override", f"this channel accepts {options}"
                    )
                )
            elif not isinstance(item, expected) or not item:
                problems.append(
                    ReleaseError(
                        where, field, f"must be a non-empty {expected.__name__}", "fix its value"
                    )
                )
            elif isinstance(item, list) and not all(isinstance(p, str) and p.strip() for p in item):
                problems.append(
                    ReleaseError(
                        where, field, "every post must be non-empty text", "quote each post"
                    )
                )
    return problems


def prepare(
    release: Release, names: list[str] | None = None, ctx: RenderContext | None = None
) -> dict[str, Any]:
    """Every payload of a release that may be published: refuses unknown channels and active
    content (ReleaseErrors) and anything that does not render (RenderError). Nothing is queued
    unless this passes."""
    problems = channel_problems(release) + publishing_problems(release)
    if problems:
        raise ReleaseErrors(problems)
    return render_all(release, names, ctx)


def validate(paths: list[Path]) -> list[str]:
    """One line per problem across release files (empty: every file may be published)."""
    problems: list[str] = []
    for path in paths:
        try:
            prepare(load(path))
        except (ReleaseErrors, RenderError, UnknownChannelError) as exc:
            problems.extend(str(exc).splitlines())
    return problems


def render(path: Path, names: list[str] | None = None) -> Rendering:
    """What each channel would get, sanitised, with a warning per piece of active content
    (`publish` refuses such a file; `render` and `preview` show what is left)."""
    release = load(path)
    problems = channel_problems(release)
    if problems:
        raise ReleaseErrors(problems)
    rendered = render_all(release, channel_names(names))
    warnings = [f"{p} (stripped here; publish refuses it)" for p in publishing_problems(release)]
    return Rendering(release, rendered, warnings)


def require_release(backend: Backend, release_id: str) -> None:
    """ReleaseError (exit 2) when no release has this id."""
    if not backend.store.release_exists(release_id):
        raise ReleaseError(release_id, "id", "no such release", "use the id that publish printed")


def submit(
    backend: Backend,
    release: Release,
    actor: str,
    at: datetime | None = None,
    channels: list[str] | None = None,
    retry_failed: bool = False,
) -> Submission:
    """Check, render and store a release with its payloads, then publish now or schedule it.

    `channels` replaces the release's own list; `at` beats its `publish_at`; `retry_failed`
    sends again to the recipients whose delivery failed, once it was published.
    """
    chosen = channel_names(channels) or list(release.channels)
    release = dataclasses.replace(release, channels=tuple(chosen))
    rendered = prepare(release)  # every channel renders before anything is stored or queued
    return submit_rendered(backend, release, rendered, actor, at, retry_failed)


def submit_rendered(
    backend: Backend,
    release: Release,
    rendered: dict[str, Any],
    actor: str,
    at: datetime | None = None,
    retry_failed: bool = False,
    extra: dict[str, Any] | None = None,
) -> Submission:
    """The second half of `submit`, for payloads that `prepare` made (a preview's, a bench's).

    `extra` goes into the stored release's JSON beside its fields (a briefing's kind and
    categories, which the fan-out reads)."""
    store = backend.store
    chosen = list(release.channels)
    release_id = release.id
    if store.release_field(release_id, "fanned_out"):
        if retry_failed:
            count = retry(backend, release_id, actor, chosen)
            return Submission(release_id, "retrying", count=count)
        return Submission(release_id, "already-published")
    store.save_release(release_id, {**release.to_json(), **(extra or {})}, rendered)
    if release.category:
        original = ""
        if release.translation_of:
            original = store.load_release_json(release.translation_of).get("category") or ""
        subscribers.note_category(backend, release.category, release.language, original)
    store.set_release_fields(release_id, channels=json.dumps(chosen))
    store.add_event(release_id, "submitted", actor, channels=",".join(chosen))
    when = at or release.publish_at
    if when is not None and when.timestamp() > time.time():
        store.schedule(release_id, when.timestamp())
        store.set_release_fields(release_id, status="scheduled", publish_at=when.isoformat())
        store.add_event(release_id, "scheduled", actor, due=when.isoformat())
        log_event(log, INFO, "scheduled", release_id=release_id, at=when.isoformat(), actor=actor)
        return Submission(release_id, "scheduled", when)
    store.unschedule(release_id)
    store.set_release_fields(release_id, status="queued")
    backend.queue.publish(release_id)
    log_event(log, INFO, "queued", release_id=release_id, channels=",".join(chosen), actor=actor)
    return Submission(release_id, "queued")


def retry(backend: Backend, release_id: str, actor: str, channels: list[str] | None = None) -> int:
    """Send again to the recipients whose delivery failed (of a published release); how many."""
    require_release(backend, release_id)
    chosen = channels or backend.store.release_channels(release_id)
    count = sum(len(_requeue(backend, release_id, c, "failed")) for c in chosen)
    backend.store.add_event(release_id, "retried", actor, count=str(count))
    log_event(log, INFO, "retry", release_id=release_id, count=count, actor=actor)
    return count


def _requeue(backend: Backend, release_id: str, channel: str, from_state: str) -> list[str]:
    # Batches as fan-out makes them: a rate-limited channel's must take seconds, not minutes.
    size = channel_registry.get(channel).batch_size_for(backend.settings)
    batches, addresses = backend.store.requeue(release_id, channel, from_state, size)
    for batch_id in batches:
        backend.queue.deliver(release_id, channel, batch_id)
    return addresses


def cancel(backend: Backend, release_id: str, actor: str) -> str:
    """Withdraw a scheduled release, or stop a broadcast under way (what was sent stays sent)."""
    store = backend.store
    require_release(backend, release_id)
    if store.unschedule(release_id):
        store.set_release_fields(release_id, status="cancelled")
        store.add_event(release_id, "cancelled", actor, was="scheduled")
        log_event(log, INFO, "cancelled", release_id=release_id, was="scheduled", actor=actor)
        return "withdrawn before it was published"
    for channel in store.release_channels(release_id):
        store.set_channel_state(release_id, channel, cancelled=actor)
    store.set_release_fields(release_id, status="cancelled")
    store.add_event(release_id, "cancelled", actor, was="publishing")
    log_event(log, INFO, "cancelled", release_id=release_id, was="publishing", actor=actor)
    return "stopped; what was sent stays sent"


def resume(backend: Backend, release_id: str, actor: str) -> dict[str, int]:
    """Continue channels paused by a channel-wide fault, sending only what was not sent."""
    store = backend.store
    require_release(backend, release_id)
    resumed: dict[str, int] = {}
    for channel in store.release_channels(release_id):
        if not store.channel_state(release_id, channel).get("paused"):
            continue
        store.clear_channel_state(release_id, channel, "paused")
        resumed[channel] = len(_requeue(backend, release_id, channel, "paused"))
        store.add_event(release_id, "resumed", actor, channel=channel, count=str(resumed[channel]))
        log_event(
            log,
            INFO,
            "resumed",
            release_id=release_id,
            channel=channel,
            count=resumed[channel],
            actor=actor,
        )
    if resumed and not store.release_field(release_id, "fanned_out"):
        backend.queue.publish(release_id)  # paused before its fan-out (a channel it lacked)
    return resumed
