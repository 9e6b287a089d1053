"""The newsroom's drafts in Redis: a release as typed, its state and approval, compared and set
in one step; and the REST API's idempotency keys.

A draft lives in the release's own hash (`pub:r:{r}`), so a release keeps one id from its first
autosave to its delivery. A change of state says which states it may start from (and, for an
approval, which content it approves): a Lua script checks and sets in one step, so an edit that
lands between an editor's look and their click makes the approval fail instead of approving
what they did not see.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from publisher.store.base import StoreBase, decode, event_fields
from publisher.store.keys import K_RELEASES, k_events, k_idempotency, k_release

#: KEYS[1] the release hash; ARGV[1] the states it may be in (comma-separated, "" any),
#: ARGV[2] the hash its content must have ("" any), then field/value pairs to set.
#: Returns 1 when set, else the state and hash it has ("state hash").
_TRANSITION = """
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return 'missing ' end
if ARGV[1] ~= '' and not string.find(',' .. ARGV[1] .. ',', ',' .. status .. ',', 1, true) then
  return status .. ' ' .. (redis.call('HGET', KEYS[1], 'hash') or '')
end
if ARGV[2] ~= '' and redis.call('HGET', KEYS[1], 'hash') ~= ARGV[2] then
  return status .. ' ' .. (redis.call('HGET', KEYS[1], 'hash') or '')
end
for i = 3, #ARGV, 2 do
  if ARGV[i + 1] == '\\0' then
    redis.call('HDEL', KEYS[1], ARGV[i])
  else
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  end
end
return 1
"""

#: KEYS[1] the key's hash; ARGV[1] the request's fingerprint, ARGV[2] how long a running
#: request holds the key (s). Returns {} for the caller that runs the request, else the
#: key's fields (state, fingerprint, status, body) as a flat list.
_IDEMPOTENCY_BEGIN = """
if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('HGETALL', KEYS[1]) end
redis.call('HSET', KEYS[1], 'state', 'running', 'fingerprint', ARGV[1])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2]))
return {}
"""

#: Deleting a field in a transition: `None` in Python.
_DELETE = "\0"


class Drafts(StoreBase):
    """Drafts, their states and approvals; the API's idempotency keys."""

    def create_draft(
        self,
        release_id: str,
        fields: dict[str, Any],
        listed: dict[str, str],
        author: str = "",
        drafted_by: str = "",
    ) -> bool:
        """Keep a new draft under `release_id` (with its author, and the "drafted" event by
        `drafted_by`, in the same step); False (nothing written) if the id is taken."""
        key = k_release(release_id)
        if not self.redis.hsetnx(key, "draft", json.dumps(fields, ensure_ascii=False)):
            return False
        now = time.time()
        written = {**listed, "status": "draft", "updated": f"{now:.3f}"}
        if author:
            written["author"] = author
        pipe = self.redis.pipeline()
        pipe.hset(key, mapping=written)
        pipe.zadd(K_RELEASES, {release_id: now}, nx=True)
        if drafted_by:
            pipe.xadd(k_events(release_id), event_fields("drafted", drafted_by, {}))
        pipe.execute()
        return True

    def transition(
        self,
        release_id: str,
        from_states: tuple[str, ...],
        changes: Mapping[str, str | None],
        content_hash: str = "",
    ) -> tuple[str, str] | None:
        """Set `changes` (None deletes a field) if the release is in one of `from_states` (any
        when empty) and, given `content_hash`, its content has that hash. None when done; else
        the state and hash it has ("missing" when there is no such release)."""
        args: list[str] = [",".join(from_states), content_hash]
        for name, value in changes.items():
            args += [name, _DELETE if value is None else value]
        answer = self.redis.eval(_TRANSITION, 1, k_release(release_id), *args)
        if answer == 1:
            return None
        state, _, found_hash = decode(answer).partition(" ")
        return state, found_hash

    def release_fields(self, release_id: str, *names: str) -> dict[str, str]:
        """Some fields of a release's hash (those it has)."""
        values = self.redis.hmget(k_release(release_id), list(names))
        return {n: decode(v) for n, v in zip(names, values, strict=True) if v is not None}

    def release_ids(self) -> list[str]:
        """Every release id (drafts too), the newest first."""
        return [decode(r) for r in self.redis.zrevrange(K_RELEASES, 0, -1)]

    # --- idempotency keys of the REST API ---------------------------------------------------

    def idempotency_begin(
        self, digest: str, fingerprint: str, running_s: int
    ) -> dict[str, str] | None:
        """None for the one caller that runs the request (the key now says "running" for up
        to `running_s`); else what the key holds: state, fingerprint, status, body."""
        found = self.redis.eval(
            _IDEMPOTENCY_BEGIN, 1, k_idempotency(digest), fingerprint, running_s
        )
        if not found:
            return None
        pairs = [decode(v) for v in found]
        return dict(zip(pairs[::2], pairs[1::2], strict=True))

    def idempotency_finish(self, digest: str, status: int, body: str, keep_s: int) -> None:
        """Keep the first answer to a request for `keep_s`."""
        key = k_idempotency(digest)
        pipe = self.redis.pipeline()
        pipe.hset(key, mapping={"state": "done", "status": str(status), "body": body})
        pipe.expire(key, keep_s)
        pipe.execute()

    def idempotency_forget(self, digest: str) -> None:
        """Let the key be used again (the request failed before it did anything)."""
        self.redis.delete(k_idempotency(digest))
