"""Every Redis key publisher uses: the only module that knows their names.

All keys start with ``pub:``. ``{r}`` is a release id, ``{c}`` a channel name, ``{g}`` a
translation group (the id of the original release).

Releases (`publisher.store.releases`)::

    pub:releases        zset    release id -> when it was first saved (epoch s)
    pub:r:{r}           hash    release (JSON), rendered (JSON payloads per channel), group,
                                language, status, channels (JSON list), fanned_out,
                                finished_at, and whatever else the services set
    pub:r:{r}:ev        stream  the release's events: type, who, at, details
    pub:group:{g}       hash    language -> release id of every version of a release
    pub:schedule        zset    release id -> when it is due (epoch s)
    pub:published       zset    release id -> when it was fanned out (epoch s): the latest
    pub:categories      hash    category slug -> JSON {language: name} of every category used

The newsroom's drafts and approvals (`publisher.store.drafts`) live in the release hash
``pub:r:{r}`` too: draft (JSON of the fields as typed), author, hash (sha256 of the submitted
content), approved_hash, approved_by, updated, and the list's fields (title, category,
language, date). Beside it::

    pub:idem:{digest}   hash    an Idempotency-Key of one API token, by the sha256 of both:
                                fingerprint (of the request), state (running|done), status,
                                body (the first answer); expires after 24 hours

Recipients (`publisher.store.recipients`)::

    pub:rcpt:{c}        hash    address -> JSON of a receiving recipient's name, language,
                                choices: only these are fanned out to
    pub:rcpt:{c}:off    hash    address -> the same JSON, kept while the address is suppressed
                                (a later subscribe restores the choices)
    pub:supp:{c}        hash    address -> JSON {state, cause, at}: why it is suppressed (no
                                import adds it back)
    pub:pending:{c}     hash    address -> JSON of a sign-up awaiting its confirmation
    pub:bounces:{c}     hash    address -> hard bounces so far (suppressed at the limit)
    pub:rcpt:{c}:ev     stream  changes to the channel's recipients: type, who, details (when:
                                the entry id)
    pub:seen:{s}:{n}    set     ids of the inbound messages source {s} has handled (a face
                                that reads a platform's updates), n = id // 512 (an intset of
                                4 bytes an id); expires a day after its last id

Deliveries (`publisher.store.ledger`), per release and channel::

    pub:d:{r}:{c}       hash    recipient -> record, the JSON array
                                [state, attempts, platform_ids, error, possible_duplicate,
                                 claim_token]; expires once the channel is retired
    pub:b:{r}:{c}       hash    batch id -> JSON list of its recipients (until claimed)
    pub:bq:{r}:{c}      zset    the same batch ids -> when they were (last) dispatched
    pub:lease:{r}:{c}   zset    claimed, sending or retrying recipient -> when something
                                must happen to it (lease expiry, retry time)
    pub:n:{r}:{c}       hash    counts: pending, sent, failed, skipped, paused, uncertain,
                                gone, total; and batch_seq, the last batch id
    pub:f:{r}:{c}       hash    recipient -> its record, for failed ones (kept past the TTL)
    pub:p:{r}:{c}       set     recipients paused by a channel-wide fault
    pub:ch:{r}:{c}      hash    the channel's state: paused (reason), cancelled (who)
    pub:claims:{r}:{c}  hash    claim token of a running batch task -> its owner (the worker
                                process, see pub:hb:{name}); gone when the task ends
    pub:media:{r}       hash    media key -> the platform's id of the uploaded file

Shared by every worker::

    pub:active          set     "{r} {c}": channels with pending work, watched by the tick
    pub:lock:reaper     string  held by the one tick that runs (expires by itself)
    pub:rate:{name}     list    a shared rate limiter's log (`publisher.ratelimit` writes it)
    pub:hb:{name}       string  heartbeat of claim owner {name} (a worker process): refreshed
                                every second, expires a few seconds after its last beat
    pub:owners          zset    claim owner name -> when it last beat (epoch s): who was seen
                                lately (/healthz); owners silent for an hour are dropped
    pub:hits:{name}:{w} string  requests of one client or address in fixed window {w} (the web
                                app's form limits); expires with its window

Accounts (`publisher.store.accounts`): newsroom users, their sessions, API tokens::

    pub:users           set     the name of every user
    pub:user:{name}     hash    a user: role, password (its argon2id hash), disabled (0|1),
                                created (epoch s)
    pub:user:{name}:sessions
                        set     the sha256 of each of the user's session ids (the expired ones
                                pruned at each sign-in)
    pub:session:{name}  hash    a session, by the sha256 of its id (the id itself is never
                                stored): user, created, client; expires when unused for a while
    pub:tokens          hash    API token name -> the sha256 of its secret
    pub:token:{name}    hash    an API token, by the sha256 of its secret: name, role, created,
                                last_used (epoch s)
    pub:tries:{name}    zset    sign-in attempts of one account or client (by a digest) -> when
                                (epoch ms): a sliding log of the last window; expires with it
    pub:accounts:ev     stream  changes to users, sessions and tokens: type, who, details
"""

from __future__ import annotations

PREFIX = "pub"

K_RELEASES = f"{PREFIX}:releases"
K_SCHEDULE = f"{PREFIX}:schedule"
K_PUBLISHED = f"{PREFIX}:published"
K_CATEGORIES = f"{PREFIX}:categories"
K_ACTIVE = f"{PREFIX}:active"
K_REAPER_LOCK = f"{PREFIX}:lock:reaper"
K_OWNERS = f"{PREFIX}:owners"
K_USERS = f"{PREFIX}:users"
K_TOKENS = f"{PREFIX}:tokens"
K_ACCOUNT_EVENTS = f"{PREFIX}:accounts:ev"


def k_idempotency(digest: str) -> str:
    return f"{PREFIX}:idem:{digest}"


def k_release(release_id: str) -> str:
    return f"{PREFIX}:r:{release_id}"


def k_events(release_id: str) -> str:
    return f"{PREFIX}:r:{release_id}:ev"


def k_group(group_id: str) -> str:
    return f"{PREFIX}:group:{group_id}"


def k_recipients(channel: str) -> str:
    return f"{PREFIX}:rcpt:{channel}"


def k_recipient_events(channel: str) -> str:
    return f"{PREFIX}:rcpt:{channel}:ev"


def k_suppressed(channel: str) -> str:
    return f"{PREFIX}:supp:{channel}"


def k_pending(channel: str) -> str:
    return f"{PREFIX}:pending:{channel}"


def k_bounces(channel: str) -> str:
    return f"{PREFIX}:bounces:{channel}"


def k_hits(name: str, window: int | str) -> str:
    return f"{PREFIX}:hits:{name}:{window}"


def k_user(name: str) -> str:
    return f"{PREFIX}:user:{name}"


def k_user_sessions(name: str) -> str:
    """The sha256 of each session id of user `name`."""
    return f"{PREFIX}:user:{name}:sessions"


def k_session(name: str) -> str:
    """A session, by `name`: the sha256 (hex) of its id."""
    return f"{PREFIX}:session:{name}"


def k_token(name: str) -> str:
    """An API token, by `name`: the sha256 (hex) of its secret."""
    return f"{PREFIX}:token:{name}"


def k_tries(name: str) -> str:
    """The sliding log of sign-in attempts counted under `name` (an account, a client)."""
    return f"{PREFIX}:tries:{name}"


def k_recipients_off(channel: str) -> str:
    return f"{PREFIX}:rcpt:{channel}:off"


SEEN_BUCKET = 512  # Redis keeps a set of at most 512 integers as a compact intset


def k_seen(source: str, bucket: int | str) -> str:
    """One set of the inbound message ids `source` has handled: those whose id // SEEN_BUCKET
    is `bucket`."""
    return f"{PREFIX}:seen:{source}:{bucket}"


def k_records(release_id: str, channel: str) -> str:
    return f"{PREFIX}:d:{release_id}:{channel}"


def k_batches(release_id: str, channel: str) -> str:
    """Batches not yet claimed by a task: batch id -> JSON list of recipients."""
    return f"{PREFIX}:b:{release_id}:{channel}"


def k_batch_queue(release_id: str, channel: str) -> str:
    """The same batch ids, scored by when they were (last) dispatched."""
    return f"{PREFIX}:bq:{release_id}:{channel}"


def k_leases(release_id: str, channel: str) -> str:
    return f"{PREFIX}:lease:{release_id}:{channel}"


def k_counts(release_id: str, channel: str) -> str:
    return f"{PREFIX}:n:{release_id}:{channel}"


def k_failures(release_id: str, channel: str) -> str:
    return f"{PREFIX}:f:{release_id}:{channel}"


def k_paused(release_id: str, channel: str) -> str:
    return f"{PREFIX}:p:{release_id}:{channel}"


def k_channel_state(release_id: str, channel: str) -> str:
    return f"{PREFIX}:ch:{release_id}:{channel}"


def k_claims(release_id: str, channel: str) -> str:
    """The claim tokens of the channel's running batch tasks -> their owners."""
    return f"{PREFIX}:claims:{release_id}:{channel}"


def k_media(release_id: str) -> str:
    return f"{PREFIX}:media:{release_id}"


def k_rate(name: str) -> str:
    """A shared rate limiter's log, by the limiter's name."""
    return f"{PREFIX}:rate:{name}"


def k_heartbeat(name: str) -> str:
    """A claim owner's heartbeat, by the owner's name (`publisher.runtime` makes it)."""
    return f"{PREFIX}:hb:{name}"


def active_member(release_id: str, channel: str) -> str:
    """How a channel with pending work is written in ``pub:active``."""
    return f"{release_id} {channel}"
