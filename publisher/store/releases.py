"""Releases in Redis: the release and its rendered payloads, its versions, events and schedule.

What was previewed is what is sent: the rendered payloads are stored beside the release, and
workers send those. Every version of a release (the original and its translations) shares a
group, the original's id, so a delivery can pick each reader's language.
"""

from __future__ import annotations

import json
import time
from typing import Any, cast

from publisher.store.base import StoreBase, decode, event_fields, read_events
from publisher.store.keys import (
    K_CATEGORIES,
    K_PUBLISHED,
    K_RELEASES,
    K_SCHEDULE,
    k_events,
    k_group,
    k_release,
)

SUMMARY_CHUNK = 1000  # releases a script reads in one go (about 3 ms of Redis's time)

#: ARGV[1] the key of a release's hash without its id (`k_release("")`), ARGV[2] how many
#: fields, then the fields, then the release ids. Returns each release's fields in order, a
#: missing one as nil, one release after another.
_SUMMARIES = """
local width = tonumber(ARGV[2])
local fields = {}
for i = 1, width do fields[i] = ARGV[2 + i] end
local out = {}
for i = 3 + width, #ARGV do
  local values = redis.call('HMGET', ARGV[1] .. ARGV[i], unpack(fields))
  for j = 1, width do out[#out + 1] = values[j] end
end
return out
"""


class Releases(StoreBase):
    """The release hash, its versions, its event stream and the schedule."""

    def save_release(
        self, release_id: str, release_json: dict[str, Any], rendered: dict[str, Any]
    ) -> None:
        """Store a release and its rendered payloads (what is previewed is what is sent)."""
        group = release_json.get("translation_of") or release_id
        language = release_json.get("language", "en")
        pipe = self.redis.pipeline()
        pipe.hset(
            k_release(release_id),
            mapping={
                "release": json.dumps(release_json, ensure_ascii=False),
                "rendered": json.dumps(rendered, ensure_ascii=False),
                "group": group,
                "language": language,
                # what the newsroom's list shows and filters on, without the JSON
                "title": str(release_json.get("title") or ""),
                "category": str(release_json.get("category") or ""),
                "date": str(release_json.get("date") or ""),
            },
        )
        pipe.hsetnx(k_release(release_id), "status", "draft")
        pipe.zadd(K_RELEASES, {release_id: time.time()}, nx=True)
        pipe.hset(k_group(group), language, release_id)
        pipe.execute()

    def release_field(self, release_id: str, name: str) -> str | None:
        value = self.redis.hget(k_release(release_id), name)
        return decode(value) if value is not None else None

    def release_exists(self, release_id: str) -> bool:
        return bool(self.redis.exists(k_release(release_id)))

    def load_release_json(self, release_id: str) -> dict[str, Any]:
        raw = self.release_field(release_id, "release")
        return cast(dict[str, Any], json.loads(raw)) if raw else {}

    def load_rendered(self, release_id: str) -> dict[str, Any]:
        raw = self.release_field(release_id, "rendered")
        return cast(dict[str, Any], json.loads(raw)) if raw else {}

    def release_channels(self, release_id: str) -> list[str]:
        return cast(list[str], json.loads(self.release_field(release_id, "channels") or "[]"))

    def set_release_fields(self, release_id: str, **fields: str | float) -> None:
        self.redis.hset(k_release(release_id), mapping=dict(fields))

    def mark_fanned_out(self, release_id: str) -> bool:
        """True for the one caller that fans a release out; False if it already was. From then
        on the release is among the published ones (`published`)."""
        now = time.time()
        if not self.redis.hsetnx(k_release(release_id), "fanned_out", str(now)):
            return False
        self.redis.zadd(K_PUBLISHED, {release_id: now}, nx=True)
        return True

    def published_since(self, epoch: float) -> list[str]:
        """Ids of the releases published since `epoch`, the earliest first."""
        return [decode(r) for r in self.redis.zrangebyscore(K_PUBLISHED, epoch, "+inf")]

    def claim_release(self, release_id: str, who: str) -> str | None:
        """Claim the making of a release whose id is known in advance (a day's briefing):
        None for the one caller that may make it, else when (epoch s) and by whom it was."""
        claim = f"{time.time():.3f} {who}"
        if self.redis.hsetnx(k_release(release_id), "claimed", claim):
            return None
        return decode(self.redis.hget(k_release(release_id), "claimed") or b"")

    def published(self, start: int = 0, count: int = 50) -> list[str]:
        """Ids of published releases, the latest first."""
        found = self.redis.zrevrange(K_PUBLISHED, start, start + count - 1)
        return [decode(r) for r in found]

    def release_summaries(self, release_ids: list[str], *fields: str) -> list[dict[str, str]]:
        """Some fields of each release's hash, in one round trip.

        A script reads SUMMARY_CHUNK releases at a time: one reply per chunk instead of one
        per release is a third of the time at 10,000 releases, and between chunks Redis
        serves the workers."""
        pipe = self.redis.pipeline(transaction=False)
        for start in range(0, len(release_ids), SUMMARY_CHUNK):
            chunk = release_ids[start : start + SUMMARY_CHUNK]
            pipe.eval(_SUMMARIES, 0, k_release(""), len(fields), *fields, *chunk)
        values = [v for reply in pipe.execute() for v in reply]
        width = len(fields)
        return [
            {
                name: decode(value)
                for name, value in zip(fields, values[i * width : (i + 1) * width], strict=True)
                if value is not None
            }
            for i in range(len(release_ids))
        ]

    # --- categories -----------------------------------------------------------------------

    def note_category(self, slug: str, language: str, name: str) -> None:
        """Remember a category and its name in one language (subscribers choose among these)."""
        raw = self.redis.hget(K_CATEGORIES, slug)
        names = json.loads(raw) if raw else {}
        if names.get(language) != name:
            names[language] = name
            self.redis.hset(K_CATEGORIES, slug, json.dumps(names, ensure_ascii=False))

    def categories(self) -> dict[str, dict[str, str]]:
        """Every category used so far: slug -> {language: name}."""
        raw = self.redis.hgetall(K_CATEGORIES)
        return {decode(slug): json.loads(names) for slug, names in raw.items()}

    def translations(self, group_id: str) -> dict[str, str]:
        """Language -> release id of every version of a release."""
        raw = self.redis.hgetall(k_group(group_id))
        return {decode(k): decode(v) for k, v in raw.items()}

    # --- events ---------------------------------------------------------------------------

    def add_event(self, release_id: str, kind: str, who: str, **details: str) -> None:
        """Append to the release's event stream (who did what, when)."""
        self.redis.xadd(k_events(release_id), event_fields(kind, who, details))

    def events(self, release_id: str) -> list[dict[str, str]]:
        return read_events(self.redis.xrange(k_events(release_id)))

    # --- schedule -------------------------------------------------------------------------

    def schedule(self, release_id: str, at_epoch: float) -> None:
        self.redis.zadd(K_SCHEDULE, {release_id: at_epoch})

    def unschedule(self, release_id: str) -> bool:
        return bool(self.redis.zrem(K_SCHEDULE, release_id))

    def take_due(self, now: float) -> list[str]:
        """Scheduled releases that are due, each handed to exactly one caller."""
        due = [decode(r) for r in self.redis.zrangebyscore(K_SCHEDULE, "-inf", now)]
        return [r for r in due if self.redis.zrem(K_SCHEDULE, r)]

    def scheduled_at(self, release_id: str) -> float | None:
        score = self.redis.zscore(K_SCHEDULE, release_id)
        return float(score) if score is not None else None
