"""Newsroom accounts: users, their server-side sessions, API tokens, sign-in attempts.

What is kept is never a secret a client holds: a session and a token are found by the sha256 of
their secret (`pub:session:{digest}`, `pub:token:{digest}`), and a password only as its argon2id
hash. The store neither makes nor checks these secrets: `publisher.services.accounts` does.

A user's hash is made in one script (nothing half-written is ever seen), and later changes to it
(disabled, a rehashed password) are written only while it exists. A user's set of session
digests lets `end_sessions` end every session of theirs at once; each session expires by itself
when unused for its idle time, and the set is pruned of expired ones at each new session.

Sign-in attempts are a sliding log per name (a zset of times, on the server's clock): an attempt
is counted only while fewer than the limit were counted in the last window, so the limit means
"at most N in any window", which a fixed-window counter (`SignUps.hit`) does not (up to twice N
around a window's edge).
"""

from __future__ import annotations

import secrets
import time
from typing import Any

import redis

from publisher.store.base import StoreBase, decode, event_fields, read_events
from publisher.store.keys import (
    K_ACCOUNT_EVENTS,
    K_TOKENS,
    K_USERS,
    k_session,
    k_token,
    k_tries,
    k_user,
    k_user_sessions,
)

# KEYS[1] the user's hash, KEYS[2] the set of names; ARGV[1] the name, then field, value pairs.
# 1 when made, 0 when a user of that name exists.
CREATE_USER = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('SADD', KEYS[2], ARGV[1])
return 1
"""

# KEYS[1] a hash; ARGV field, value pairs. Written only if the hash exists (a user's, a token's):
# a late write never brings back half of a revoked token. 1 when written.
SET_IF_EXISTS = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
"""

# KEYS[1] a hash; ARGV field, value pairs. The hash as it was, then the pairs written if it
# exists (a token's last use): one round trip, and a revoked token is not brought back.
GET_AND_SET_IF_EXISTS = """
local found = redis.call('HGETALL', KEYS[1])
if #found > 0 and #ARGV > 0 then redis.call('HSET', KEYS[1], unpack(ARGV)) end
return found
"""

# KEYS the logs of every name the attempt counts under; ARGV window (ms), limit, a unique member.
# Counts the attempt in every log if each has fewer than `limit` entries in the last window and
# replies 0; otherwise counts nothing and replies the ms until the fullest log has room again.
ATTEMPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window, limit = tonumber(ARGV[1]), tonumber(ARGV[2])
local wait = 0
for _, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  local n = redis.call('ZCARD', key)
  if n >= limit then
    local oldest = redis.call('ZRANGE', key, n - limit, n - limit, 'WITHSCORES')
    wait = math.max(wait, tonumber(oldest[2]) + window - now, 1)
  end
end
if wait > 0 then return wait end
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, ARGV[3])
  redis.call('PEXPIRE', key, window)
end
return 0
"""


def _text(fields: dict[Any, Any]) -> dict[str, str]:
    return {decode(k): decode(v) for k, v in fields.items()}


class Accounts(StoreBase):
    """Users, sessions, API tokens and sign-in attempts."""

    def __init__(self, client: redis.Redis) -> None:
        super().__init__(client)
        self._create_user = client.register_script(CREATE_USER)
        self._set_if_exists = client.register_script(SET_IF_EXISTS)
        self._get_and_set_if_exists = client.register_script(GET_AND_SET_IF_EXISTS)
        self._attempt = client.register_script(ATTEMPT)

    # --- users ------------------------------------------------------------------------------

    def create_user(self, name: str, fields: dict[str, str]) -> bool:
        """Keep a new user (role, password hash, disabled, created); False if `name` exists."""
        pairs = [part for item in fields.items() for part in item]
        return bool(self._create_user(keys=[k_user(name), K_USERS], args=[name, *pairs]))

    def user(self, name: str) -> dict[str, str] | None:
        """A user's fields (with the password hash), or None."""
        found = self.redis.hgetall(k_user(name))
        return _text(found) if found else None

    def users(self) -> dict[str, dict[str, str]]:
        """Every user by name, with their fields."""
        names = sorted(decode(n) for n in self.redis.smembers(K_USERS))
        pipe = self.redis.pipeline(transaction=False)
        for name in names:
            pipe.hgetall(k_user(name))
        return {name: _text(f) for name, f in zip(names, pipe.execute(), strict=True) if f}

    def update_user(self, name: str, **fields: str) -> bool:
        """Change fields of an existing user (nothing is made for an unknown name)."""
        pairs = [part for item in fields.items() for part in item]
        return bool(self._set_if_exists(keys=[k_user(name)], args=pairs))

    # --- sessions ---------------------------------------------------------------------------

    def create_session(self, digest: str, user: str, fields: dict[str, str], idle_s: int) -> None:
        """Keep a session (by the digest of its id) for `user`, expiring when unused for
        idle_s; the user's expired sessions are forgotten on the way."""
        sessions = k_user_sessions(user)
        known = [decode(d) for d in self.redis.smembers(sessions)]
        if known:
            pipe = self.redis.pipeline(transaction=False)
            for old in known:
                pipe.exists(k_session(old))
            gone = [d for d, alive in zip(known, pipe.execute(), strict=True) if not alive]
            if gone:
                self.redis.srem(sessions, *gone)
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(k_session(digest), mapping={**fields, "user": user})
        pipe.expire(k_session(digest), idle_s)
        pipe.sadd(sessions, digest)
        pipe.execute()

    def session(self, digest: str, idle_s: int) -> dict[str, str] | None:
        """A session's fields (`user`, `created`...), its idle time started again; None when
        there is none (never made, ended, or expired)."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.hgetall(k_session(digest))
        pipe.expire(k_session(digest), idle_s)
        found, _ = pipe.execute()
        return _text(found) if found else None

    def end_session(self, digest: str) -> str | None:
        """End one session; the name of its user, or None when it was no session."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.hget(k_session(digest), "user")
        pipe.delete(k_session(digest))
        user, _ = pipe.execute()
        if user is None:
            return None
        name = decode(user)
        self.redis.srem(k_user_sessions(name), digest)
        return name

    def end_sessions(self, user: str) -> int:
        """End every session of `user` at once; how many were alive."""
        sessions = k_user_sessions(user)
        with self.redis.pipeline(transaction=True) as pipe:
            while True:
                try:
                    pipe.watch(sessions)  # a sign-in meanwhile: read its session too
                    digests = [decode(d) for d in pipe.smembers(sessions)]
                    pipe.multi()
                    for digest in digests:
                        pipe.delete(k_session(digest))
                    pipe.delete(sessions)
                    return sum(int(n) for n in pipe.execute()[:-1])
                except redis.WatchError:
                    continue

    # --- API tokens -------------------------------------------------------------------------

    def create_token(self, name: str, digest: str, fields: dict[str, str]) -> bool:
        """Keep a token (by the digest of its secret) under `name`; False if the name is taken
        (nothing is then kept)."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.hsetnx(K_TOKENS, name, digest)
        pipe.hset(k_token(digest), mapping={**fields, "name": name})
        added, _ = pipe.execute()
        if not added:
            self.redis.delete(k_token(digest))  # nobody was given that secret
        return bool(added)

    def token(self, digest: str, used_at: float | None = None) -> dict[str, str] | None:
        """The token with this digest (name, role, created, last_used), or None; with
        used_at, its last_used becomes that (a revoked token stays gone)."""
        written = [] if used_at is None else ["last_used", f"{used_at:.3f}"]
        flat = self._get_and_set_if_exists(keys=[k_token(digest)], args=written)
        found = dict(zip(flat[::2], flat[1::2], strict=True))
        return _text(found) if found else None

    def tokens(self) -> dict[str, dict[str, str]]:
        """Every token by name (never its secret, which is not kept): role, created,
        last_used, and the digest it is kept under."""
        names = {decode(k): decode(v) for k, v in self.redis.hgetall(K_TOKENS).items()}
        pipe = self.redis.pipeline(transaction=False)
        for digest in names.values():
            pipe.hgetall(k_token(digest))
        found = {}
        for (name, digest), fields in zip(names.items(), pipe.execute(), strict=True):
            found[name] = {**_text(fields), "name": name, "digest": digest}
        return dict(sorted(found.items()))

    def revoke_token(self, name: str) -> bool:
        """Delete the token called `name` at once; False when there is none."""
        digest = self.redis.hget(K_TOKENS, name)
        if digest is None:
            return False
        pipe = self.redis.pipeline(transaction=True)
        pipe.hdel(K_TOKENS, name)
        pipe.delete(k_token(decode(digest)))
        removed, _ = pipe.execute()
        return bool(removed)

    # --- sign-in attempts and events --------------------------------------------------------

    def attempt(self, names: list[str], window_s: float, limit: int) -> float:
        """Count one attempt under every name if none of them has `limit` attempts in the last
        window_s; 0.0 when counted, else the seconds until it could be (nothing counted)."""
        member = f"{time.time():.6f}-{secrets.token_hex(4)}"
        keys = [k_tries(n) for n in names]
        wait_ms = int(self._attempt(keys=keys, args=[int(window_s * 1000), limit, member]))
        return wait_ms / 1000

    def add_account_event(self, kind: str, who: str, **details: str) -> None:
        """Append to the accounts' event stream: who did what to which user or token."""
        self.redis.xadd(K_ACCOUNT_EVENTS, event_fields(kind, who, details))

    def account_events(self) -> list[dict[str, str]]:
        """The accounts' event stream, oldest first."""
        return read_events(self.redis.xrange(K_ACCOUNT_EVENTS))
