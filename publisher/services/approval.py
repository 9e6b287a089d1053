"""A release's way through the newsroom: submit, approve, publish (now or at a time), cancel,
retry the failed, resume; and the list of releases.

    draft -> awaiting-approval -> approved -> scheduled | sending -> published
                                                  \\-> cancelled (a schedule withdrawn, a
                                                      broadcast stopped)

With PUBLISHER_APPROVAL=required (the default) only an approved release is published, and its
approval is of one content (its hash): an editor other than the author approves exactly what
they looked at, and any edit afterwards sends it back (`drafts.update`). With `off`, an editor
publishes what was submitted, their own too. Who may call what is the faces' business (the
roles of `publisher.services.accounts`); what the state allows is checked here, atomically.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from logging import INFO
from typing import Any

from publisher.errors import ApprovalRefused, ReleaseError, StateConflict
from publisher.logs import log_event
from publisher.release import release_from_mapping
from publisher.services import drafts
from publisher.services.accounts import Principal
from publisher.services.backend import Backend
from publisher.services.drafts import actor, principal_key
from publisher.services.releases import Submission, submit_rendered
from publisher.services.releases import cancel as cancel_release
from publisher.services.releases import resume as resume_release
from publisher.services.releases import retry as retry_release

log = logging.getLogger(__name__)

STATES = (
    "draft",
    "awaiting-approval",
    "approved",
    "scheduled",
    "sending",
    "published",
    "cancelled",
)
#: Stored states behind each shown one (`drafts.display_state` maps them back).
STORED = {"sending": ("queued", "publishing")}


def _conflict(release_id: str, found: tuple[str, str], wanted: str) -> StateConflict:
    state = drafts.display_state(found[0])
    if found[0] == "missing":
        raise ReleaseError(release_id, "id", "no such release", "use the id that was given")
    return StateConflict(release_id, state, f"is {state}, not {wanted}")


def submit(backend: Backend, release_id: str, who: Principal) -> drafts.Draft:
    """Ask for approval: the draft must validate and render on every channel it names
    (ReleaseErrors, RenderError otherwise); its content is then fixed by its hash."""
    draft = drafts.get(backend, release_id)
    if draft.state != "draft":
        raise StateConflict(release_id, draft.state, f"is {draft.state}, not a draft")
    release = drafts.check(draft.fields, release_id, backend.settings)
    # refuses active content, renders every channel
    submitted = drafts.submitted_fields(release, backend.settings)
    moved = backend.store.transition(
        release_id, ("draft",), {**submitted, "status": "awaiting-approval"}
    )
    if moved is not None:
        raise _conflict(release_id, moved, "a draft")
    backend.store.add_event(release_id, "submitted", actor(who), hash=str(submitted["hash"]))
    log_event(log, INFO, "submitted", release_id=release_id, actor=actor(who))
    return drafts.get(backend, release_id)


def approve(
    backend: Backend, release_id: str, who: Principal, content_hash: str = ""
) -> drafts.Draft:
    """Approve the release's content as it is now, or, given `content_hash`, only if it is
    still the content that hash names (what the approver looked at). The author may not
    approve their own while approval is required (ApprovalRefused)."""
    draft = drafts.get(backend, release_id)
    required = backend.settings.publisher_approval == "required"
    if required and draft.author == principal_key(who):
        raise ApprovalRefused(
            release_id, "its author may not approve it: another editor must look at it"
        )
    expected = content_hash or draft.content_hash
    approval = {"status": "approved", "approved_by": principal_key(who), "approved_hash": expected}
    moved = backend.store.transition(release_id, ("awaiting-approval",), approval, expected)
    if moved is not None:
        if moved[0] == "awaiting-approval":
            raise StateConflict(
                release_id, "awaiting-approval", "changed since it was looked at: look again"
            )
        raise _conflict(release_id, moved, "awaiting approval")
    backend.store.add_event(release_id, "approved", actor(who), hash=expected)
    log_event(log, INFO, "approved", release_id=release_id, actor=actor(who))
    return drafts.get(backend, release_id)


def publish(
    backend: Backend, release_id: str, who: Principal, at: datetime | None = None
) -> Submission:
    """Publish an approved release now, or at `at` (else its own embargo time).

    With approval off, one awaiting approval (or a draft, submitted on the way) goes too.
    The content sent is the content approved: the stored payloads of that hash.
    """
    store = backend.store
    draft = drafts.get(backend, release_id)
    required = backend.settings.publisher_approval == "required"
    if not required and draft.state == "draft":
        draft = submit(backend, release_id, who)
    if required:
        if draft.state != "approved":
            raise StateConflict(
                release_id,
                draft.state,
                f"is {draft.state}: an editor other than its author must approve it first",
            )
        from_states: tuple[str, ...] = ("approved",)
        content_hash = draft.approved_hash
    else:
        from_states = ("awaiting-approval", "approved")
        content_hash = draft.content_hash
    moved = store.transition(release_id, from_states, {"status": "queued"}, content_hash)
    if moved is not None:
        raise _conflict(release_id, moved, "approved")
    stored = store.load_release_json(release_id)
    rendered = store.load_rendered(release_id)
    release = release_from_mapping(stored, release_id, settings=backend.settings)
    submission = submit_rendered(backend, release, rendered, actor(who), at)
    log_event(log, INFO, "published", release_id=release_id, actor=actor(who))
    return submission


def cancel(backend: Backend, release_id: str, who: Principal) -> str:
    """Withdraw a scheduled release, or stop a broadcast under way (what was sent stays)."""
    state = drafts.get(backend, release_id).state
    if state not in ("scheduled", "sending", "published"):
        raise StateConflict(
            release_id, state, f"is {state}: only a scheduled or sending release is cancelled"
        )
    return cancel_release(backend, release_id, actor(who))


def retry_failed(backend: Backend, release_id: str, who: Principal) -> int:
    """Send again to the recipients whose delivery failed; how many."""
    state = drafts.get(backend, release_id).state
    if state not in ("sending", "published"):
        raise StateConflict(release_id, state, f"is {state}: nothing was sent yet")
    return retry_release(backend, release_id, actor(who))


def resume(backend: Backend, release_id: str, who: Principal) -> dict[str, int]:
    """Continue channels paused by a channel-wide fault; per channel, how many go out."""
    return resume_release(backend, release_id, actor(who))


@dataclass(frozen=True)
class ReleasePage:
    """One page of the releases' list, and how many match in all."""

    items: list[dict[str, Any]]
    total: int
    offset: int
    limit: int


LISTED = ("title", "status", "category", "language", "author", "date", "updated")


def list_releases(
    backend: Backend,
    state: str | None = None,
    category: str | None = None,
    language: str | None = None,
    author: str | None = None,
    date_from: str | None = None,
    date_to: str | None = None,
    offset: int = 0,
    limit: int = 50,
) -> ReleasePage:
    """Releases, the newest first, filtered (a state of STATES, a category, a language, an
    author's name, dates `YYYY-MM-DD` from and to, both included) and paged."""
    store = backend.store
    ids = store.release_ids()
    wanted_states = set(STORED.get(state, (state,))) if state else None
    items = []
    for release_id, found in zip(ids, store.release_summaries(ids, *LISTED), strict=True):
        if "status" not in found:
            continue
        if wanted_states is not None and found["status"] not in wanted_states:
            continue
        if category and found.get("category", "").casefold() != category.casefold():
            continue
        if language and found.get("language") != language:
            continue
        if author and found.get("author", "").partition(":")[2] != author:
            continue
        day = found.get("date", "")[:10]
        if (date_from and day < date_from) or (date_to and day > date_to):
            continue
        items.append(
            {
                "id": release_id,
                "title": found.get("title", ""),
                "state": drafts.display_state(found["status"]),
                "category": found.get("category", ""),
                "language": found.get("language", "en"),
                "author": found.get("author", "").partition(":")[2],
                "date": found.get("date", ""),
                "updated": float(found.get("updated") or 0),
            }
        )
    return ReleasePage(items[offset : offset + limit], len(items), offset, limit)


def ready_problems(draft: drafts.Draft) -> list[drafts.Problem]:
    """What stops a draft from being submitted, next to its fields (empty: it may be)."""
    preview = drafts.preview(draft.fields)  # pure: the process's settings
    return preview.problems + preview.warnings
