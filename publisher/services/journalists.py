"""Journalists' own sign-up (double opt-in), confirmation, preferences and unsubscribe.

What the public pages call. A sign-up is kept aside and confirmed by a link sent to the
address (`links`, purpose "confirm", 48 hours); until then the address is no recipient and gets
nothing but that one email. Confirming is the person's own consent, so it lifts a suppression
(`services.subscribe`); an import never does. Every link carries a signed token bound to its
purpose and address; a bad one raises `TokenError` and changes nothing. Each function that
changes something takes who did it, and each change is an event in the channel's recipient
stream.

The answer to a sign-up is the same whether or not the address is known or suppressed; the
limits per client and per address (`Limits`) keep the form from being used to mail-bomb
someone or to probe the list.
"""

from __future__ import annotations

import hashlib
import logging
import random
import time
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.message import EmailMessage
from logging import INFO
from typing import Any

from publisher import channels, links, mailer
from publisher.errors import PublisherError, ReleaseError, ReleaseErrors, TokenError
from publisher.logs import log_event
from publisher.recipients import CADENCES, InvalidChoice, journalist_entry, normalise_address
from publisher.render import RenderContext
from publisher.services.backend import Backend
from publisher.services.recipients import JOURNALISTS, subscribe, suppress
from publisher.slugs import category_slug

log = logging.getLogger(__name__)

#: Languages a journalist reads releases in, as the sign-up offers them.
LANGUAGES = ("en", "ar")
CONFIRM_MAX_AGE_S = links.PURPOSES["confirm"] or 48 * 3600
MAX_TEXT = 200  # name, outlet
PRUNE_ONE_IN = 32  # sign-ups that prune the never-confirmed ones older than the link


@dataclass(frozen=True)
class Limits:
    """Sign-ups allowed per client (IP) and per address in fixed windows."""

    per_client: int = 5
    client_window_s: int = 600
    per_address: int = 3
    address_window_s: int = 3600


class RateLimited(PublisherError):
    """Raised when a client or an address has made too many sign-ups; retry after
    retry_after_s (the end of the current window)."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(retry_after_s)
        self.retry_after_s = retry_after_s

    def __str__(self) -> str:
        return f"too many sign-ups; try again in {self.retry_after_s} s"


@dataclass(frozen=True)
class SignUpForm:
    """What the sign-up form sent, as text (checked by `sign_up`)."""

    email: str
    name: str = ""
    outlet: str = ""
    language: str = "en"
    beats: list[str] = field(default_factory=list)
    cadence: str = "instant"


@dataclass(frozen=True)
class Journalist:
    """What a link's address stands for: its state and choices (or its pending sign-up).

    `state` is "subscribed", a suppression's state ("unsubscribed", "bounced"...), or
    "unknown" for an address the channel has never heard of.
    """

    channel: str
    address: str
    state: str
    choices: dict[str, Any]
    pending: dict[str, Any] | None = None

    @property
    def subscribed(self) -> bool:
        return self.state == "subscribed"

    @property
    def language(self) -> str:
        """The language the person chose (their pending sign-up's, if not yet subscribed)."""
        chosen = self.choices.get("language") or (self.pending or {}).get("language") or ""
        return str(chosen)

    @property
    def beats(self) -> list[str]:
        """Chosen categories as slugs (an import may have stored their names)."""
        return [category_slug(b) for b in self.choices.get("beats") or []]

    @property
    def cadence(self) -> str:
        return str(self.choices.get("cadence") or "instant")


def categories(backend: Backend) -> dict[str, dict[str, str]]:
    """The topics a journalist may choose: category slug -> {language: name}."""
    return backend.store.categories()


def sign_up(
    backend: Backend, form: SignUpForm, actor: str, client: str, limits: Limits | None = None
) -> str:
    """Keep a sign-up and email its confirmation link; returns the normalised address.

    The same for a new, a subscribed or a suppressed address (each gets a confirmation only).
    Raises ReleaseErrors naming each bad field, RateLimited, or the mailer's DeliveryError
    (the sign-up is then kept, and a new attempt sends again).
    """
    limits = limits or Limits()
    store = backend.store
    if not store.hit(f"signup:client:{client}", limits.client_window_s, limits.per_client):
        raise RateLimited(_window_left(limits.client_window_s))
    address, entry = _check(form, set(store.categories()))
    address_key = f"signup:address:{_digest(address)}"
    if not store.hit(address_key, limits.address_window_s, limits.per_address):
        raise RateLimited(_window_left(limits.address_window_s))
    store.put_signup(JOURNALISTS, address, entry)
    store.add_recipient_event(JOURNALISTS, "sign-up requested", actor, address=address)
    log_event(log, INFO, "sign-up requested", channel=JOURNALISTS, actor=actor)
    if random.randrange(PRUNE_ONE_IN) == 0:
        store.prune_signups(JOURNALISTS, CONFIRM_MAX_AGE_S)
    mailer.send(backend.settings, confirmation_email(backend, address, entry))
    return address


def _window_left(window_s: int) -> int:
    return max(1, window_s - int(time.time()) % window_s)


def _digest(address: str) -> str:
    """An address as a counter's name: the same address counts together, unreadably."""
    return hashlib.sha256(address.encode()).hexdigest()[:24]


def _check(
    form: SignUpForm, known: set[str], languages: tuple[str, ...] = LANGUAGES
) -> tuple[str, dict[str, Any]]:
    problems: list[ReleaseError] = []

    def problem(name: str, message: str, fix: str) -> None:
        problems.append(ReleaseError("sign-up", name, message, fix))

    address = ""
    try:
        address = normalise_address(form.email)
    except InvalidChoice as exc:
        problem("email", str(exc), "an address like name@example.org")
    language = form.language.strip().lower() or LANGUAGES[0]
    if language not in languages:
        problem("language", f"{form.language!r} is not offered", f"one of {', '.join(languages)}")
    beats = sorted({b.strip() for b in form.beats if b.strip()})
    unknown = [b for b in beats if b not in known]
    if unknown:
        problem("beats", f"unknown topics {', '.join(unknown)}", "topics from the list")
    cadence = form.cadence.strip().lower() or CADENCES[0]
    if cadence not in CADENCES:
        problem("cadence", f"{form.cadence!r} is not offered", f"one of {', '.join(CADENCES)}")
    for name in ("name", "outlet"):
        if len(getattr(form, name)) > MAX_TEXT:
            problem(name, f"longer than {MAX_TEXT} characters", "a shorter text")
    if problems:
        raise ReleaseErrors(problems)
    entry = journalist_entry(form.name, language, form.outlet, beats, cadence)
    return address, entry


def confirmation_email(backend: Backend, address: str, entry: dict[str, Any]) -> EmailMessage:
    """The confirmation message of a sign-up (templates email/confirm.*, in its language)."""
    settings = backend.settings
    templates = RenderContext.from_settings(settings).templates
    language = str(entry.get("language") or "en")
    view = {
        "lang": language,
        "dir": "rtl" if language == "ar" else "ltr",
        "recipient_name": entry.get("name") or "",
        "address": address,
        "organisation": settings.organisation_name,
        "organisation_address": settings.organisation_address,
        "confirm_url": links.link("confirm", JOURNALISTS, address, settings),
        "hours": CONFIRM_MAX_AGE_S // 3600,
    }
    subject = templates.render_text("email/confirm.subject.txt", **view)
    text = templates.render_text("email/confirm.txt", **view).strip() + "\n"
    html = templates.render_html("email/confirm.html", **view)
    return mailer.compose(settings, _to(entry.get("name") or "", address), subject, text, html)


def _to(name: str, address: str) -> str:
    name = " ".join(name.split())
    try:
        return str(Address(display_name=name, addr_spec=address)) if name else address
    except (ValueError, IndexError):
        return address


def look_up(backend: Backend, token: str, purpose: str) -> Journalist:
    """Who a link is for, and their state; changes nothing (a GET of any link calls this).

    Raises TokenError for a tampered, expired or wrong-purpose token.
    """
    channel, address = _read(backend, token, purpose)
    return _journalist(backend, channel, address)


def _read(backend: Backend, token: str, purpose: str) -> tuple[str, str]:
    channel, address = links.read_token(token, purpose, backend.settings)
    if purpose != "unsubscribe" and channel != JOURNALISTS:
        raise TokenError("wrong purpose", purpose)  # another channel's link: not a journalist
    if channel not in channels.names() or not channels.get(channel).has_subscribers:
        raise TokenError("wrong purpose", purpose)  # signed by us, for nobody one unsubscribes
    return channel, address


def _journalist(backend: Backend, channel: str, address: str) -> Journalist:
    store = backend.store
    found = store.recipient(channel, address)
    pending = store.signup(channel, address, CONFIRM_MAX_AGE_S) if channel == JOURNALISTS else None
    if found is None:
        return Journalist(channel, address, "unknown", {}, pending)
    choices, why = found
    state = "subscribed" if why is None else str(why.get("state") or "suppressed")
    return Journalist(channel, address, state, choices, pending)


@dataclass(frozen=True)
class Confirmation:
    """What a confirmation did: "confirmed", "already" (subscribed, nothing pending) or
    "nothing" (no sign-up waits: used, or withdrawn)."""

    outcome: str
    journalist: Journalist


def confirm(backend: Backend, token: str, actor: str) -> Confirmation:
    """Subscribe the address of a confirmation link with its pending sign-up's choices
    (lifting a suppression: this is the person's own consent). Raises TokenError."""
    channel, address = _read(backend, token, "confirm")
    pending = backend.store.take_signup(channel, address, CONFIRM_MAX_AGE_S)
    if pending is None:
        journalist = _journalist(backend, channel, address)
        return Confirmation("already" if journalist.subscribed else "nothing", journalist)
    pending.pop("at", None)
    subscribe(backend, channel, address, pending, actor, "signup")
    backend.store.clear_bounces(channel, address)  # their own consent again: a fresh count
    return Confirmation("confirmed", _journalist(backend, channel, address))


def update_preferences(
    backend: Backend,
    token: str,
    actor: str,
    language: str,
    beats: list[str],
    cadence: str,
) -> Journalist:
    """Change a subscribed journalist's language, beats and cadence from their preferences
    link. An address that is not subscribed stays as it is (it comes back only by signing up
    again). An empty language keeps the current one. Raises TokenError, or ReleaseErrors
    naming each bad field."""
    channel, address = _read(backend, token, "preferences")
    journalist = _journalist(backend, channel, address)
    if not journalist.subscribed:
        return journalist
    current = journalist.choices
    kept = journalist.language  # "both", say, from an import: not offered, but kept
    form = SignUpForm(
        email=address,
        name=str(current.get("name") or ""),
        outlet=str(current.get("outlet") or ""),
        language=language.strip() or kept,
        beats=beats,
        cadence=cadence,
    )
    known = set(backend.store.categories()) | set(journalist.beats)
    _, entry = _check(form, known, tuple(dict.fromkeys([*LANGUAGES, kept])))
    changed = {k: entry[k] for k in ("language", "beats", "cadence")}
    if all(_same(k, current.get(k), v) for k, v in changed.items()):
        return journalist
    if not backend.store.change_choices(channel, address, {**current, **changed}):
        return _journalist(backend, channel, address)  # unsubscribed meanwhile: that stands
    details = {k: ";".join(v) if isinstance(v, list) else str(v) for k, v in changed.items()}
    backend.store.add_recipient_event(
        channel, "preferences changed", actor, address=address, **details
    )
    log_event(log, INFO, "preferences changed", channel=channel, actor=actor)
    return _journalist(backend, channel, address)


def _same(key: str, old: Any, new: Any) -> bool:
    if key == "beats":
        return sorted(category_slug(b) for b in old or []) == sorted(new)
    return bool(old == new)


def unsubscribe(
    backend: Backend, token: str, actor: str, how: str, purpose: str = "unsubscribe"
) -> bool:
    """Unsubscribe the address of an unsubscribe link (or, with purpose "preferences", of a
    preferences link): a suppression with state "unsubscribed" and `how` (one-click, the
    unsubscribe page, the preferences page) in its cause. True if this changed something; an
    address already suppressed stays as it is (a second POST changes nothing).
    Raises TokenError."""
    channel, address = _read(backend, token, purpose)
    found = backend.store.recipient(channel, address)
    if found is not None and found[1] is not None:
        return False
    suppress(backend, channel, address, actor, f"unsubscribed ({how})", "unsubscribed")
    return True
