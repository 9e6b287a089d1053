"""Newsroom accounts and roles: users who sign in to the pages, API tokens for programs, and
what each role may do (`allowed`).

A password is kept only as its argon2id hash (pwdlib). Signing in makes a server-side session:
its id is a random secret from `secrets` that only the browser's cookie holds; the store keeps
the sha256 of it, so what Redis holds opens nothing. A session ends when it is unused for
SESSION_IDLE_S, after SESSION_MAX_AGE_S in any case, at sign-out, and at once for every session
of a user who is disabled. An API token is a random secret shown once; the store keeps its
sha256, and a request's token is found by that digest (a lookup by hash, so no secret is ever
compared byte by byte).

Signing in answers the same `Refusal` for an unknown user, a wrong password and a disabled user,
and takes as long: an unknown name is checked against a dummy hash made with the same
parameters. Attempts are limited per account and per client (SIGN_IN_LIMIT in any sliding
SIGN_IN_WINDOW_S); a refused attempt beyond the limit is not counted and checks no password.

Every change (a user added or disabled, a sign-in or sign-out, a token created or revoked) is an
event in the accounts' stream, with who did it. Bad input raises `ReleaseErrors`, each naming
the field and the fix; no message ever holds a password or a token.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
import secrets
import time
from dataclasses import dataclass
from logging import INFO, WARNING
from typing import NamedTuple

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from publisher.errors import ReleaseError, ReleaseErrors
from publisher.logs import log_event
from publisher.services.backend import Backend

log = logging.getLogger(__name__)

ROLES = ("officer", "editor", "admin")
#: The languages the newsroom's pages speak (a user may choose one).
INTERFACE_LANGUAGES = ("en", "ar")
#: What each role may do; each role may do everything of the roles before it.
OFFICER_ACTIONS = ("draft", "submit")
EDITOR_ACTIONS = ("approve", "schedule", "publish", "cancel", "retry", "resume")
ADMIN_ACTIONS = ("users", "tokens", "recipients")
ACTIONS: dict[str, frozenset[str]] = {
    "officer": frozenset(OFFICER_ACTIONS),
    "editor": frozenset(OFFICER_ACTIONS + EDITOR_ACTIONS),
    "admin": frozenset(OFFICER_ACTIONS + EDITOR_ACTIONS + ADMIN_ACTIONS),
}
ALL_ACTIONS = ACTIONS["admin"]
DEFAULT_TOKEN_ROLE = "editor"

NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
NAME_FIX = "1 to 64 of a-z, 0-9, '.', '_' and '-', starting with a letter or digit"
MIN_PASSWORD = 12
MAX_PASSWORD = 1024
MIN_DISTINCT = 5  # "aaaaaaaaaaaa" and "abababababab" are not passwords
PASSWORD_FIX = f"a passphrase of at least {MIN_PASSWORD} characters, several words are best"

SESSION_IDLE_S = 12 * 3600
SESSION_MAX_AGE_S = 7 * 24 * 3600
SIGN_IN_LIMIT = 5
SIGN_IN_WINDOW_S = 60
TOKEN_PREFIX = "pub_"  # recognisable in a leaked file or a secret scanner
MAX_SECRET = 256  # a longer cookie or bearer token is none of ours

_HASHER = PasswordHash((Argon2Hasher(),))  # argon2id, pwdlib's recommended parameters


#: What an unknown name's password is checked against, so that it costs what a known one
#: does: the hash of a random secret nobody kept, with the parameters of `_HASHER` (a test
#: checks they agree). A constant, so that no process pays for making it on its first stranger.
DUMMY_HASH = (
    "$argon2id$v=19$m=65536,t=3,p=4$OKp+27rYtPIPxWJ8VbzJ5g"
    "$S44DLsZaqDCzN4VkIYDyf3Sjcr4Hoo42cVrlqTIVHcc"
)


@dataclass(frozen=True)
class User:
    """A person who signs in to the newsroom."""

    name: str
    role: str
    disabled: bool
    created: float
    #: the newsroom's language they chose ("" until they choose: the browser's)
    language: str = ""

    @property
    def kind(self) -> str:
        return "user"


@dataclass(frozen=True)
class ApiToken:
    """What an API token stands for (never its secret)."""

    name: str
    role: str
    created: float
    last_used: float | None

    @property
    def kind(self) -> str:
        return "token"


#: Who acts: a signed-in user, or a program with an API token.
Principal = User | ApiToken


@dataclass(frozen=True)
class Session:
    """A signed-in user's session; `id` is the secret for their cookie (not kept anywhere)."""

    id: str
    user: User


@dataclass(frozen=True)
class Refusal:
    """A sign-in that did not happen: the same for an unknown user, a wrong password and a
    disabled user; with retry_after_s > 0, too many attempts (nothing was checked)."""

    retry_after_s: int = 0

    @property
    def limited(self) -> bool:
        return self.retry_after_s > 0


class Disabled(NamedTuple):
    """What disabling a user did."""

    already: bool
    sessions_ended: int


# --- roles ----------------------------------------------------------------------------------


def check_action(action: str) -> str:
    """`action` if some role may do it; raises ValueError for a name no role knows (a typo in
    a route's requirement fails when the route is declared, not when it is used)."""
    if action not in ALL_ACTIONS:
        raise ValueError(f"unknown action {action!r}; known: {', '.join(sorted(ALL_ACTIONS))}")
    return action


def allowed(role: str, action: str) -> bool:
    """True when `role` may do `action` (officer: draft, submit; editor: also approve,
    schedule, publish, cancel, retry, resume; admin: also users, tokens, recipients)."""
    return check_action(action) in ACTIONS.get(role, frozenset())


# --- checks ---------------------------------------------------------------------------------


def normalise_name(name: str) -> str:
    return name.strip().lower()


def _problems(what: str, name: str, role: str) -> list[ReleaseError]:
    problems = []
    if not name:
        problems.append(ReleaseError(what, "name", "empty", NAME_FIX))
    elif not NAME.fullmatch(name):
        problems.append(ReleaseError(what, "name", f"{name[:80]!r} is not a name", NAME_FIX))
    if not role:
        problems.append(ReleaseError(what, "role", "missing", f"--role {', '.join(ROLES)}"))
    elif role not in ROLES:
        problems.append(
            ReleaseError(what, "role", f"{role[:40]!r} is not a role", f"one of {', '.join(ROLES)}")
        )
    return problems


def check_user(name: str, role: str) -> tuple[str, str]:
    """The normalised name and role of a new user; raises ReleaseErrors naming each bad field
    (so a face can refuse before it asks for a password)."""
    name, role = normalise_name(name), role.strip().lower()
    problems = _problems("user", name, role)
    if problems:
        raise ReleaseErrors(problems)
    return name, role


def _password_problem(name: str, password: str) -> ReleaseError | None:
    def problem(message: str) -> ReleaseError:
        return ReleaseError("user", "password", message, PASSWORD_FIX)

    if not password:
        return problem("empty")
    if len(password) < MIN_PASSWORD:
        return problem(f"shorter than {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        return ReleaseError(
            "user", "password", f"longer than {MAX_PASSWORD} characters", "a shorter passphrase"
        )
    if len(set(password)) < MIN_DISTINCT:
        return problem("too few different characters")
    if len(name) >= 3 and name in password.casefold():
        return problem("contains the user's name")
    return None


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


# --- users ----------------------------------------------------------------------------------


def _user(name: str, fields: dict[str, str]) -> User:
    return User(
        name=name,
        role=fields.get("role", ""),
        disabled=fields.get("disabled") == "1",
        created=float(fields.get("created") or 0),
        language=fields.get("language", ""),
    )


def set_language(backend: Backend, name: str, language: str) -> None:
    """Keep the newsroom language a user chose (a language the pages have words for)."""
    if language not in INTERFACE_LANGUAGES:
        fix = f"use {', '.join(INTERFACE_LANGUAGES)}"
        raise ReleaseErrors([ReleaseError("user", "language", f"unknown {language!r}", fix)])
    backend.store.update_user(normalise_name(name), language=language)


def add_user(backend: Backend, name: str, role: str, password: str, actor: str) -> User:
    """Add a newsroom user with a role and a password (kept as its argon2id hash).

    Raises ReleaseErrors naming each bad field: the name (or a user of that name exists), the
    role, a weak or empty password.
    """
    name, role = normalise_name(name), role.strip().lower()
    problems = _problems("user", name, role)
    weak = _password_problem(name, password)
    if weak:
        problems.append(weak)
    if problems:
        raise ReleaseErrors(problems)
    now = time.time()
    fields = {
        "role": role,
        "password": _HASHER.hash(password),
        "disabled": "0",
        "created": f"{now:.3f}",
    }
    if not backend.store.create_user(name, fields):
        raise ReleaseErrors(
            [
                ReleaseError(
                    "user",
                    "name",
                    f"a user named {name!r} exists",
                    "another name (see publisher users list)",
                )
            ]
        )
    backend.store.add_account_event("user added", actor, user=name, role=role)
    log_event(log, INFO, "user added", user=name, role=role, actor=actor)
    return User(name, role, False, now)


def list_users(backend: Backend) -> list[User]:
    """Every user, by name (no password hash leaves the service)."""
    return [_user(name, fields) for name, fields in backend.store.users().items()]


def disable_user(backend: Backend, name: str, actor: str) -> Disabled:
    """Disable a user: they cannot sign in, and every session of theirs ends at once.

    Raises ReleaseErrors when there is no such user.
    """
    name = normalise_name(name)
    found = backend.store.user(name) if NAME.fullmatch(name) else None
    if found is None:
        raise ReleaseErrors(
            [ReleaseError("user", "name", f"no user {name[:80]!r}", "see publisher users list")]
        )
    already = found.get("disabled") == "1"
    if not already:
        backend.store.update_user(name, disabled="1")
    ended = backend.store.end_sessions(name)  # after the flag: no new session can start
    if not already or ended:
        backend.store.add_account_event(
            "user disabled", actor, user=name, sessions_ended=str(ended)
        )
        log_event(log, INFO, "user disabled", user=name, sessions_ended=ended, actor=actor)
    return Disabled(already, ended)


# --- sessions -------------------------------------------------------------------------------


def authenticate(backend: Backend, name: str, password: str, client: str) -> Session | Refusal:
    """Sign a user in: a new `Session` for a right name and password, else a `Refusal`.

    The refusal is the same, and costs the same time, for an unknown user, a wrong password and
    a disabled user. An attempt beyond SIGN_IN_LIMIT in SIGN_IN_WINDOW_S for this account or
    this client is refused with retry_after_s, and checks nothing.
    """
    name = normalise_name(name)
    store = backend.store
    wait_s = store.attempt(
        [f"sign-in:account:{_digest(name[:MAX_SECRET])[:32]}", f"sign-in:client:{client}"],
        SIGN_IN_WINDOW_S,
        SIGN_IN_LIMIT,
    )
    if wait_s > 0:
        log_event(log, WARNING, "sign-in refused", reason="too many attempts", client=client)
        return Refusal(retry_after_s=max(1, math.ceil(wait_s)))
    found = store.user(name) if NAME.fullmatch(name) else None
    usable = found is not None and len(password) <= MAX_PASSWORD
    stored = found.get("password", "") if found is not None and usable else ""
    if not stored:
        _HASHER.verify(password[:MAX_PASSWORD], DUMMY_HASH)  # the same time for a stranger
        valid, rehashed = False, None
    else:
        valid, rehashed = _HASHER.verify_and_update(password, stored)
    if found is None or not valid or found.get("disabled") == "1":
        reason = "unknown user" if found is None else "refused"
        log_event(log, WARNING, "sign-in refused", reason=reason, client=client)
        return Refusal()
    if rehashed:
        store.update_user(name, password=rehashed)
    session_id = secrets.token_urlsafe(32)
    fields = {"created": f"{time.time():.3f}", "client": client}
    store.create_session(_digest(session_id), name, fields, SESSION_IDLE_S)
    store.add_account_event("signed in", name, user=name, client=client)
    log_event(log, INFO, "signed in", user=name, client=client)
    return Session(session_id, _user(name, found))


def session_user(backend: Backend, session_id: str | None) -> User | None:
    """The user of a live session (its idle time starts again), or None: no such session,
    expired, ended, or its user disabled."""
    if not session_id or len(session_id) > MAX_SECRET:
        return None
    digest = _digest(session_id)
    store = backend.store
    session = store.session(digest, SESSION_IDLE_S)
    if session is None:
        return None
    created = float(session.get("created") or 0)
    found = store.user(session.get("user", ""))
    if found is None or found.get("disabled") == "1" or time.time() - created > SESSION_MAX_AGE_S:
        store.end_session(digest)
        return None
    return _user(session["user"], found)


def logout(backend: Backend, session_id: str | None) -> bool:
    """End one session at once; True when it was a live one."""
    if not session_id or len(session_id) > MAX_SECRET:
        return False
    user = backend.store.end_session(_digest(session_id))
    if user is None:
        return False
    backend.store.add_account_event("signed out", user, user=user)
    log_event(log, INFO, "signed out", user=user)
    return True


# --- API tokens -----------------------------------------------------------------------------


def _token(fields: dict[str, str]) -> ApiToken:
    last_used = fields.get("last_used")
    return ApiToken(
        name=fields.get("name", ""),
        role=fields.get("role", ""),
        created=float(fields.get("created") or 0),
        last_used=float(last_used) if last_used else None,
    )


def create_token(
    backend: Backend, name: str, role: str = DEFAULT_TOKEN_ROLE, actor: str = "system"
) -> str:
    """Make an API token with a role; returns its secret, which is shown this once and kept
    only as its sha256. Raises ReleaseErrors for a bad name or role, or a name in use."""
    name, role = normalise_name(name), (role or DEFAULT_TOKEN_ROLE).strip().lower()
    problems = _problems("token", name, role)
    if problems:
        raise ReleaseErrors(problems)
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    fields = {"role": role, "created": f"{time.time():.3f}"}
    if not backend.store.create_token(name, _digest(secret), fields):
        raise ReleaseErrors(
            [
                ReleaseError(
                    "token",
                    "name",
                    f"a token named {name!r} exists",
                    "another name, or revoke it first (publisher tokens revoke)",
                )
            ]
        )
    backend.store.add_account_event("token created", actor, token=name, role=role)
    log_event(log, INFO, "token created", token=name, role=role, actor=actor)
    return secret


def list_tokens(backend: Backend) -> list[ApiToken]:
    """Every API token by name, with role, created and last used (never the secret)."""
    return [_token(fields) for fields in backend.store.tokens().values()]


def revoke_token(backend: Backend, name: str, actor: str) -> None:
    """Revoke an API token at once (its next request gets 401). Raises ReleaseErrors when
    there is no token of that name."""
    name = normalise_name(name)
    if not backend.store.revoke_token(name):
        raise ReleaseErrors(
            [ReleaseError("token", "name", f"no token {name[:80]!r}", "see publisher tokens list")]
        )
    backend.store.add_account_event("token revoked", actor, token=name)
    log_event(log, INFO, "token revoked", token=name, actor=actor)


def token_user(backend: Backend, bearer: str | None) -> ApiToken | None:
    """What a request's bearer token stands for (its last use noted), or None for a missing,
    wrong or revoked one."""
    if not bearer or len(bearer) > MAX_SECRET:
        return None
    found = backend.store.token(_digest(bearer), used_at=time.time())
    if found is None:
        return None
    token = _token(found)
    return token if token.role in ROLES and token.name else None
