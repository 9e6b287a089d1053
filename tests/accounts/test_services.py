"""The accounts' service functions over the real Redis: users, passwords, sessions, tokens,
sign-in limits and events."""

from __future__ import annotations

import time
from typing import Any

import pytest
import redis
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from publisher import services
from publisher.errors import ReleaseErrors
from publisher.services import accounts
from publisher.services.accounts import Refusal, Session
from publisher.settings import Settings
from publisher.store import Store
from publisher.store import keys as k

PASSWORD = "correct horse battery staple"


@pytest.fixture
def backend(redis_client: redis.Redis) -> services.Backend:
    return services.Backend(Store(redis_client), Settings(_env_file=None))  # type: ignore[call-arg]


def problems(caught: pytest.ExceptionInfo[ReleaseErrors]) -> list[tuple[str, str]]:
    return [(e.field, e.problem) for e in caught.value.errors]


def dump(client: redis.Redis) -> bytes:
    """Everything Redis holds, as bytes to search."""
    parts = []
    for key in client.scan_iter():
        kind = client.type(key)
        value: Any
        if kind == b"hash":
            value = client.hgetall(key)
        elif kind == b"set":
            value = client.smembers(key)
        elif kind == b"stream":
            value = client.xrange(key)
        elif kind == b"zset":
            value = client.zrange(key, 0, -1)
        else:
            value = client.get(key)
        parts.append(repr((key, value)))
    return "\n".join(parts).encode()


class CountingHasher:
    """The real hasher, counting its calls."""

    def __init__(self) -> None:
        self.real = accounts._HASHER
        self.calls: list[str] = []

    def hash(self, password: str) -> str:
        self.calls.append("hash")
        return self.real.hash(password)

    def verify(self, password: str, hashed: str) -> bool:
        self.calls.append("verify")
        return self.real.verify(password, hashed)

    def verify_and_update(self, password: str, hashed: str) -> tuple[bool, str | None]:
        self.calls.append("verify")
        return self.real.verify_and_update(password, hashed)


# --- users ----------------------------------------------------------------------------------


def test_a_user_is_kept_with_an_argon2id_hash_and_never_the_password(
    backend: services.Backend, redis_client: redis.Redis
) -> None:
    user = accounts.add_user(backend, "  Amira.Haddad ", "Editor", PASSWORD, "cli:root")
    assert (user.name, user.role, user.disabled) == ("amira.haddad", "editor", False)
    stored = backend.store.user("amira.haddad")
    assert stored is not None and stored["password"].startswith("$argon2id$")
    assert PASSWORD.encode() not in dump(redis_client)
    [listed] = accounts.list_users(backend)
    assert listed == user.__class__("amira.haddad", "editor", False, listed.created)
    assert abs(listed.created - time.time()) < 60
    [event] = backend.store.account_events()
    assert (event["type"], event["who"], event["user"], event["role"]) == (
        "user added",
        "cli:root",
        "amira.haddad",
        "editor",
    )


@pytest.mark.parametrize(
    ("name", "role", "password", "expected"),
    [
        ("amira", "boss", PASSWORD, [("role", "'boss' is not a role")]),
        ("amira", "", PASSWORD, [("role", "missing")]),
        ("", "editor", PASSWORD, [("name", "empty")]),
        ("amira haddad", "editor", PASSWORD, [("name", "'amira haddad' is not a name")]),
        ("-amira", "editor", PASSWORD, [("name", "'-amira' is not a name")]),
        ("أميرة", "editor", PASSWORD, [("name", "'أميرة' is not a name")]),
        ("amira", "editor", "", [("password", "empty")]),
        ("amira", "editor", "short pass", [("password", "shorter than 12 characters")]),
        ("amira", "editor", "aaaaaaaaaaaaaaaa", [("password", "too few different characters")]),
        ("amira", "editor", "Amira-2024-press", [("password", "contains the user's name")]),
        ("amira", "editor", "x" * 1025 + "abcde", [("password", "longer than 1024 characters")]),
        (
            "",
            "boss",
            "",
            [("name", "empty"), ("role", "'boss' is not a role"), ("password", "empty")],
        ),
    ],
)
def test_bad_input_names_each_field_and_its_fix_and_keeps_nothing(
    backend: services.Backend, name: str, role: str, password: str, expected: list[Any]
) -> None:
    with pytest.raises(ReleaseErrors) as caught:
        accounts.add_user(backend, name, role, password, "tests")
    assert problems(caught) == expected
    for line in str(caught.value).splitlines():
        assert line.startswith("user: ") and "; fix: " in line
    if password:
        assert password not in str(caught.value)
    assert accounts.list_users(backend) == [] and backend.store.account_events() == []


def test_a_second_user_of_the_same_name_is_refused(backend: services.Backend) -> None:
    accounts.add_user(backend, "amira", "editor", PASSWORD, "tests")
    with pytest.raises(ReleaseErrors) as caught:
        accounts.add_user(backend, "AMIRA", "admin", "another good passphrase", "tests")
    assert problems(caught) == [("name", "a user named 'amira' exists")]
    [user] = accounts.list_users(backend)
    assert user.role == "editor"


def test_disabling_an_unknown_user_is_bad_input(backend: services.Backend) -> None:
    with pytest.raises(ReleaseErrors) as caught:
        accounts.disable_user(backend, "nobody", "tests")
    assert problems(caught) == [("name", "no user 'nobody'")]
    accounts.add_user(backend, "amira", "editor", PASSWORD, "tests")
    assert accounts.disable_user(backend, "amira", "tests") == accounts.Disabled(False, 0)
    assert accounts.disable_user(backend, "amira", "tests") == accounts.Disabled(True, 0)
    assert [e["type"] for e in backend.store.account_events()] == ["user added", "user disabled"]


# --- signing in -----------------------------------------------------------------------------


def test_signing_in_makes_a_session_kept_only_by_its_digest(
    backend: services.Backend, redis_client: redis.Redis
) -> None:
    accounts.add_user(backend, "amira", "officer", PASSWORD, "tests")
    session = accounts.authenticate(backend, " Amira ", PASSWORD, "192.0.2.1")
    assert isinstance(session, Session) and session.user.name == "amira"
    assert len(session.id) >= 40
    assert session.id.encode() not in dump(redis_client)
    assert accounts.session_user(backend, session.id) == session.user
    assert accounts.session_user(backend, session.id + "x") is None
    assert accounts.session_user(backend, "") is None
    assert accounts.session_user(backend, None) is None
    [key] = redis_client.keys("pub:session:*")
    assert 0 < redis_client.ttl(key) <= accounts.SESSION_IDLE_S


def test_a_session_idle_time_starts_again_when_used_and_it_expires(
    backend: services.Backend, redis_client: redis.Redis
) -> None:
    accounts.add_user(backend, "amira", "officer", PASSWORD, "tests")
    session = accounts.authenticate(backend, "amira", PASSWORD, "192.0.2.1")
    assert isinstance(session, Session)
    [key] = redis_client.keys("pub:session:*")
    redis_client.expire(key, 100)
    assert accounts.session_user(backend, session.id) is not None
    assert redis_client.ttl(key) > accounts.SESSION_IDLE_S - 60
    redis_client.pexpire(key, 1)
    time.sleep(0.05)
    assert accounts.session_user(backend, session.id) is None


def test_a_session_ends_after_its_maximum_age_however_busy(
    backend: services.Backend, redis_client: redis.Redis
) -> None:
    accounts.add_user(backend, "amira", "officer", PASSWORD, "tests")
    session = accounts.authenticate(backend, "amira", PASSWORD, "192.0.2.1")
    assert isinstance(session, Session)
    [key] = redis_client.keys("pub:session:*")
    redis_client.hset(key, "created", str(time.time() - accounts.SESSION_MAX_AGE_S - 1))
    assert accounts.session_user(backend, session.id) is None
    assert not redis_client.exists(key)


def test_an_unknown_user_costs_one_password_check_like_a_known_one(
    backend: services.Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    accounts.add_user(backend, "amira", "officer", PASSWORD, "tests")
    accounts.add_user(backend, "karim", "officer", PASSWORD, "tests")
    accounts.disable_user(backend, "karim", "tests")
    hasher = CountingHasher()
    monkeypatch.setattr(accounts, "_HASHER", hasher)
    answers = []
    for n, (name, password) in enumerate(
        [("nobody", PASSWORD), ("amira", "not the right one"), ("karim", PASSWORD), ("", "")]
    ):
        hasher.calls.clear()
        answers.append(accounts.authenticate(backend, name, password, f"192.0.2.{n}"))
        assert hasher.calls == ["verify"], name
    assert answers == [Refusal()] * 4
    assert not answers[0].limited


def test_an_old_hash_is_replaced_at_the_next_sign_in(backend: services.Backend) -> None:
    weak = PasswordHash((Argon2Hasher(time_cost=1, memory_cost=8192, parallelism=1),))
    backend.store.create_user(
        "amira",
        {"role": "editor", "password": weak.hash(PASSWORD), "disabled": "0", "created": "1"},
    )
    assert isinstance(accounts.authenticate(backend, "amira", PASSWORD, "c1"), Session)
    stored = backend.store.user("amira")
    assert stored is not None and "m=65536,t=3,p=4" in stored["password"]
    assert isinstance(accounts.authenticate(backend, "amira", PASSWORD, "c2"), Session)


def test_attempts_are_limited_per_account_and_per_client(backend: services.Backend) -> None:
    accounts.add_user(backend, "amira", "officer", PASSWORD, "tests")
    for n in range(5):
        assert accounts.authenticate(backend, "amira", "wrong guess", f"c{n}") == Refusal()
    limited = accounts.authenticate(backend, "amira", PASSWORD, "c9")
    assert isinstance(limited, Refusal) and limited.limited
    assert 0 < limited.retry_after_s <= 60
    for n in range(5):
        accounts.authenticate(backend, f"stranger{n}", "wrong guess", "one-client")
    limited = accounts.authenticate(backend, "other", PASSWORD, "one-client")
    assert isinstance(limited, Refusal) and limited.limited


def test_the_attempt_log_slides_and_does_not_count_refused_attempts(
    backend: services.Backend,
) -> None:
    store = backend.store
    assert store.attempt(["a", "b"], 1.0, 2) == 0.0
    assert store.attempt(["a"], 1.0, 2) == 0.0
    wait = store.attempt(["a", "b"], 1.0, 2)  # "a" is full: neither counts this one
    assert 0 < wait <= 1.0
    assert store.attempt(["b"], 1.0, 2) == 0.0  # "b" had one, so one more fits
    assert store.attempt(["b"], 1.0, 2) > 0
    time.sleep(wait + 0.05)
    assert store.attempt(["a"], 1.0, 2) == 0.0  # the first of "a" left the window


# --- sessions end ---------------------------------------------------------------------------


def test_logout_and_disable_end_sessions_at_once(
    backend: services.Backend, redis_client: redis.Redis
) -> None:
    accounts.add_user(backend, "amira", "editor", PASSWORD, "tests")
    sessions = [accounts.authenticate(backend, "amira", PASSWORD, f"c{n}") for n in range(3)]
    assert all(isinstance(s, Session) for s in sessions)
    ids = [s.id for s in sessions if isinstance(s, Session)]
    assert accounts.logout(backend, ids[0]) is True
    assert accounts.logout(backend, ids[0]) is False
    assert accounts.session_user(backend, ids[0]) is None
    assert redis_client.scard(k.k_user_sessions("amira")) == 2
    assert accounts.disable_user(backend, "amira", "admin") == accounts.Disabled(False, 2)
    assert all(accounts.session_user(backend, i) is None for i in ids)
    assert not redis_client.exists(k.k_user_sessions("amira"))
    assert accounts.authenticate(backend, "amira", PASSWORD, "c9") == Refusal()


def test_a_new_sign_in_forgets_the_users_expired_sessions(
    backend: services.Backend, redis_client: redis.Redis
) -> None:
    accounts.add_user(backend, "amira", "editor", PASSWORD, "tests")
    for n in range(3):
        assert isinstance(accounts.authenticate(backend, "amira", PASSWORD, f"c{n}"), Session)
    for key in redis_client.keys("pub:session:*"):
        redis_client.delete(key)  # as if they expired
    assert isinstance(accounts.authenticate(backend, "amira", PASSWORD, "c4"), Session)
    assert redis_client.scard(k.k_user_sessions("amira")) == 1


# --- tokens ---------------------------------------------------------------------------------


def test_a_token_is_shown_once_kept_as_its_digest_and_revocable(
    backend: services.Backend, redis_client: redis.Redis
) -> None:
    secret = accounts.create_token(backend, "CMS", actor="cli:root")
    assert secret.startswith("pub_") and len(secret) > 40
    assert secret.encode() not in dump(redis_client)
    [token] = accounts.list_tokens(backend)
    assert (token.name, token.role, token.last_used) == ("cms", "editor", None)
    found = accounts.token_user(backend, secret)
    assert found is not None and (found.name, found.role) == ("cms", "editor")
    [token] = accounts.list_tokens(backend)
    assert token.last_used is not None and abs(token.last_used - time.time()) < 60
    for wrong in ("", None, secret[:-1], secret + "x", "x" * 5000):
        assert accounts.token_user(backend, wrong) is None

    accounts.revoke_token(backend, "cms", "cli:root")
    assert accounts.token_user(backend, secret) is None
    assert accounts.list_tokens(backend) == []
    assert redis_client.keys("pub:token:*") == []  # a late "last used" brings nothing back
    events = [(e["type"], e["who"], e["token"]) for e in backend.store.account_events()]
    assert events == [("token created", "cli:root", "cms"), ("token revoked", "cli:root", "cms")]


def test_bad_tokens_are_refused_with_their_field(backend: services.Backend) -> None:
    accounts.create_token(backend, "cms", "admin", "tests")
    cases = [
        (("cms", "editor"), [("name", "a token named 'cms' exists")]),
        (("feed", "owner"), [("role", "'owner' is not a role")]),
        (("", "editor"), [("name", "empty")]),
    ]
    for (name, role), expected in cases:
        with pytest.raises(ReleaseErrors) as caught:
            accounts.create_token(backend, name, role, "tests")
        assert problems(caught) == expected
        assert str(caught.value).startswith("token: ")
    with pytest.raises(ReleaseErrors) as caught:
        accounts.revoke_token(backend, "nope", "tests")
    assert problems(caught) == [("name", "no token 'nope'")]
    [token] = accounts.list_tokens(backend)
    assert token.role == "admin"


def test_the_dummy_hash_costs_what_a_real_one_does() -> None:
    real = accounts._HASHER.hash(PASSWORD)
    params = real.split("$")[3]
    assert accounts.DUMMY_HASH.startswith(f"$argon2id$v=19${params}$")
    assert not accounts._HASHER.verify(PASSWORD, accounts.DUMMY_HASH)
