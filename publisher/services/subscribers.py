"""Telegram subscribers managing themselves through the bot: start, stop, choices, moves.

The bot (and any other face a subscriber uses) calls these; each writes an event to the
channel's recipient stream with who did it. A subscriber is a chat: a person's private chat, or
a group whose administrator subscribed it. Their choices are a language ("en", "ar" or "both")
and categories (slugs as on the website; none means all). Stopping or blocking suppresses the
chat but keeps its choices, so `/start` later restores them.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from logging import INFO
from typing import Any

from publisher.links import release_url
from publisher.logs import log_event
from publisher.recipients import SUBSCRIBER_LANGUAGES, iso_time, subscriber_entry
from publisher.recipients import chat_type as derived_type
from publisher.services.backend import Backend
from publisher.slugs import category_slug

log = logging.getLogger(__name__)

CHANNEL = "telegram"


@dataclass(frozen=True)
class Subscriber:
    """One chat as the bot sees it: its choices and whether it receives releases."""

    chat_id: str
    type: str
    language: str
    categories: tuple[str, ...] = ()
    state: str = "subscribed"  # subscribed, stopped or blocked
    since: str = ""
    source: str = "bot"

    @property
    def subscribed(self) -> bool:
        return self.state == "subscribed"

    def reads(self, category: str) -> bool:
        """Whether the subscriber gets releases of this category (no choice: every one)."""
        return not self.categories or category in self.categories


@dataclass(frozen=True)
class Category:
    """A category subscribers can choose: its slug and its name in each language used."""

    slug: str
    names: dict[str, str] = field(default_factory=dict)

    def name(self, language: str) -> str:
        return self.names.get(language) or self.names.get("en") or next(iter(self.names.values()))


@dataclass(frozen=True)
class Published:
    """A published release, as `/latest` lists it."""

    id: str
    title: str
    url: str
    language: str
    date: str


def _subscriber(chat_id: str, info: dict[str, Any], state: str) -> Subscriber:
    return Subscriber(
        chat_id=chat_id,
        type=info.get("type") or derived_type(chat_id),
        language=info.get("language") or "both",
        categories=tuple(info.get("categories") or ()),
        state=state,
        since=iso_time(info.get("since")),
        source=info.get("source", "import"),
    )


def find(backend: Backend, chat_id: str) -> Subscriber | None:
    """The chat's record, subscribed or not; None for a chat the bot has never seen."""
    found = backend.store.recipient(CHANNEL, chat_id)
    if found is None:
        return None
    info, why = found
    if why is None:
        return _subscriber(chat_id, info, "subscribed")
    state = why.get("state")
    return _subscriber(chat_id, info, state if state in ("stopped", "blocked") else "blocked")


def start(
    backend: Backend,
    chat_id: str,
    chat_type: str,
    actor: str,
    language: str = "",
    categories: list[str] | None = None,
) -> Subscriber:
    """Subscribe a chat, or subscribe it again after /stop or a block (the person's own
    consent lifts the suppression). `language` and `categories` are what this start chose (a
    deep link's); what it leaves out stays as the chat had it before, else the defaults
    (English, every category)."""
    _check_language(language)
    found = backend.store.recipient(CHANNEL, chat_id)
    before, why = found if found is not None else ({}, None)
    entry = subscriber_entry(
        chat_id,
        chat_type,
        language or before.get("language") or "en",
        categories or before.get("categories"),
        "bot",
    )
    if found is not None and why is None:  # already subscribed: since stays
        entry["since"] = before.get("since", entry["since"])
    backend.store.put_recipient(CHANNEL, chat_id, entry)
    was = "new" if found is None else "subscribed" if why is None else str(why.get("state"))
    backend.store.add_recipient_event(CHANNEL, "subscribed", actor, address=chat_id, was=was)
    log_event(log, INFO, "subscribed", channel=CHANNEL, source="bot", was=was)
    return _subscriber(chat_id, entry, "subscribed")


def stop(backend: Backend, chat_id: str, actor: str) -> bool:
    """The chat's own /stop; False when it was not subscribed."""
    return _suppress(backend, chat_id, actor, "stopped", "stopped with /stop")


def block(backend: Backend, chat_id: str, actor: str, cause: str) -> bool:
    """The user blocked the bot, or the bot was removed from the group: no more sends."""
    return _suppress(backend, chat_id, actor, "blocked", cause)


def _suppress(backend: Backend, chat_id: str, actor: str, state: str, cause: str) -> bool:
    before = find(backend, chat_id)
    if before is None or not before.subscribed:
        return False
    backend.store.suppress(CHANNEL, chat_id, cause, state)
    event = {"address": chat_id, "cause": cause, "state": state}
    backend.store.add_recipient_event(CHANNEL, "suppressed", actor, **event)
    log_event(log, INFO, "suppressed", channel=CHANNEL, state=state, actor=actor)
    return True


def choose(
    backend: Backend,
    chat_id: str,
    actor: str,
    language: str | None = None,
    categories: list[str] | None = None,
) -> Subscriber | None:
    """Change a subscribed chat's language or categories (`[]`: every category); None when
    the chat is not subscribed (it must /start first)."""
    found = backend.store.recipient(CHANNEL, chat_id)
    if found is None or found[1] is not None:
        return None
    info = dict(found[0])
    if language is not None:
        _check_language(language)
        info["language"] = language
    if categories is not None:
        info.pop("categories", None)
        if categories:
            info["categories"] = sorted(set(categories))
    if not backend.store.change_choices(CHANNEL, chat_id, info):
        return None  # stopped or blocked meanwhile: that stands
    changed = {"language": info["language"], "categories": ";".join(info.get("categories", []))}
    backend.store.add_recipient_event(CHANNEL, "choices", actor, address=chat_id, **changed)
    return _subscriber(chat_id, info, "subscribed")


def move(backend: Backend, old: str, new: str, actor: str) -> bool:
    """A group became a supergroup: its record and choices now live under the new chat id."""
    moved = backend.store.move_recipient(CHANNEL, old, new)
    if moved:
        backend.store.add_recipient_event(CHANNEL, "moved", actor, address=old, to=new)
        log_event(log, INFO, "recipient moved", channel=CHANNEL, actor=actor)
    return moved


def categories(backend: Backend) -> list[Category]:
    """Every category releases have used, by slug."""
    found = backend.store.categories()
    return [Category(slug, names) for slug, names in sorted(found.items())]


def note_category(backend: Backend, name: str, language: str, original: str = "") -> str:
    """Remember a release's category so subscribers can choose it; returns its slug (a
    translation's is its original's, so "أخبار محلية" and "Local News" are one choice)."""
    slug = category_slug(original or name)
    backend.store.note_category(slug, language.split("-")[0].lower(), name.strip())
    return slug


def latest(backend: Backend, language: str, limit: int = 5) -> list[Published]:
    """The last `limit` published releases in `language` ("both": in any language)."""
    found: list[Published] = []
    start = 0
    while len(found) < limit:
        ids = backend.store.published(start, 50)
        if not ids:
            break
        start += len(ids)
        rows = backend.store.release_summaries(ids, "release", "language")
        for release_id, row in zip(ids, rows, strict=True):
            own = (row.get("language") or "en").split("-")[0].lower()
            if language not in ("", "both") and own != language:
                continue
            release = _release_json(row.get("release"))
            if release.get("kind") == "briefing":  # an email of the day's releases
                continue
            url = release_url(release_id, backend.settings)
            found.append(
                Published(
                    release_id, release.get("title", release_id), url, own, release.get("date", "")
                )
            )
            if len(found) == limit:
                break
    return found


def _release_json(raw: str | None) -> dict[str, Any]:
    value = json.loads(raw) if raw else {}
    return value if isinstance(value, dict) else {}


def _check_language(language: str) -> None:
    if language and language not in SUBSCRIBER_LANGUAGES:
        raise ValueError(f"language {language!r} is not one of {', '.join(SUBSCRIBER_LANGUAGES)}")


def claim_update(backend: Backend, bot_id: str, update_id: int) -> bool:
    """True for the one bot process that handles this update (the others drop it)."""
    return backend.store.claim_inbound(f"telegram-{bot_id}", update_id)
