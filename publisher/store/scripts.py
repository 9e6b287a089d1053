"""The Lua behind `publisher.store.ledger` (every change of a delivery record's state) and
the few changes of a recipient that must be atomic.

Each script runs atomically in Redis, for a batch of recipients at a time. The key names come
from `publisher.store.keys`; each script says which keys (KEYS) and arguments (ARGV) it takes,
in order. A record is the JSON array `[state, attempts, platform_ids, error, possible_duplicate,
claim_token]` (Lua counts from 1: `rec[1]` is the state).

Lists a script takes or gives many of (outcomes, recipients to start, what a claim found) travel
as one JSON argument or reply: one value for the client to encode per call instead of several
per recipient, on the send path's busiest calls.

A claim token is a batch task's; only its holder starts, renews or records progress on the
records it claimed. Once its claim is gone (its lease expired, or its owner was found dead and
its claims released), a late task can only write that a send went through (`sent`): the
message is out, and recording it stops a second send that has not started yet.
"""

from __future__ import annotations

# Make a batch of queued recipients: shared by creating records, reaping and re-queueing.
# KEYS[1] counts, KEYS[2] batches, KEYS[3] batch queue.
NEW_BATCH = """
local function new_batch(members, now)
  if #members == 0 then return nil end
  local id = tostring(redis.call('HINCRBY', KEYS[1], 'batch_seq', 1))
  redis.call('HSET', KEYS[2], id, cjson.encode(members))
  redis.call('ZADD', KEYS[3], now, id)
  return id
end
"""

# Queue a record per new recipient, as one batch. KEYS: counts, batches, batch queue, records.
# ARGV: now, the queued record, recipients. Returns {batch id or '', how many were new}.
CREATE = (
    NEW_BATCH
    + """
local now = tonumber(ARGV[1]); local fresh = {}
for i = 3, #ARGV do
  if redis.call('HSETNX', KEYS[4], ARGV[i], ARGV[2]) == 1 then table.insert(fresh, ARGV[i]) end
end
if #fresh > 0 then
  redis.call('HINCRBY', KEYS[1], 'pending', #fresh)
  redis.call('HINCRBY', KEYS[1], 'total', #fresh)
end
return {new_batch(fresh, now) or '', #fresh}
"""
)

# Claim one batch for one task: its queued/retry records, or records whose lease has expired.
# The batch is taken off the queue, so a task delivered twice finds nothing to do. The token
# is registered under its owner (a worker process) so that the tick can release the claims of
# an owner that died.
# KEYS: records, leases, batches, batch queue, claims. ARGV: now, lease until, token, batch
# id, owner ('' registers nothing).
# Returns JSON [[recipient, attempts, platform ids, possible duplicate (0/1)], ...].
CLAIM = """
local now = tonumber(ARGV[1]); local lease = tonumber(ARGV[2]); local token = ARGV[3]
local raw_batch = redis.call('HGET', KEYS[3], ARGV[4])
if not raw_batch then return '[]' end
redis.call('HDEL', KEYS[3], ARGV[4]); redis.call('ZREM', KEYS[4], ARGV[4])
local out = {}
for _, r in ipairs(cjson.decode(raw_batch)) do
  local raw = redis.call('HGET', KEYS[1], r)
  if raw then
    local rec = cjson.decode(raw)
    local st = rec[1]
    local due = tonumber(redis.call('ZSCORE', KEYS[2], r) or '0')
    local expired = (st == 'claimed' or st == 'sending') and due <= now
    if st == 'queued' or st == 'retry' or expired then
      if st == 'sending' then rec[5] = 1 end
      rec[1] = 'claimed'; rec[6] = token
      redis.call('HSET', KEYS[1], r, cjson.encode(rec))
      redis.call('ZADD', KEYS[2], lease, r)
      table.insert(out, {r, rec[2], rec[3], rec[5] or 0})
    end
  end
end
if #out == 0 then return '[]' end
if ARGV[5] ~= '' then redis.call('HSET', KEYS[5], token, ARGV[5]) end
return cjson.encode(out)
"""

# Mark claimed records as sending just before their requests start (attempts + 1): the
# recipients of the list, if this task's token still holds them. KEYS[1]: records.
START_FN = """
local function start(list, token)
  local out = {}
  for _, r in ipairs(list) do
    local raw = redis.call('HGET', KEYS[1], r)
    if raw then
      local rec = cjson.decode(raw)
      if rec[1] == 'claimed' and rec[6] == token then
        rec[1] = 'sending'; rec[2] = rec[2] + 1
        redis.call('HSET', KEYS[1], r, cjson.encode(rec))
        table.insert(out, r)
      end
    end
  end
  return out
end
"""

# ARGV: token, recipients. Returns the recipients now sending.
START = (
    START_FN
    + """
local list = {}
for i = 2, #ARGV do list[#list + 1] = ARGV[i] end
return start(list, ARGV[1])
"""
)

# Record outcomes, then start the next recipients in the same round trip (their sends take
# the places of the ones recorded). An outcome under a token that no longer holds the record
# is dropped unless it is `sent` (see the top); token '' holds every record.
# KEYS: records, leases, counts, failures, paused.
# ARGV: token, JSON [[recipient, state, platform ids, error, due or 'gone'], ...], JSON
# [recipient to start, ...] (or ''). Returns the recipients now sending.
FINISH = (
    START_FN
    + """
local token = ARGV[1]
for _, o in ipairs(cjson.decode(ARGV[2])) do
  local r = o[1]; local st = o[2]
  local raw = redis.call('HGET', KEYS[1], r)
  if raw then
    local rec = cjson.decode(raw)
    local old = rec[1]
    local holds = token == '' or rec[6] == token or st == 'sent'
    if holds and old ~= 'sent' and old ~= 'failed' and old ~= 'skipped' and old ~= 'paused' then
      rec[1] = st; rec[3] = o[3]; rec[4] = o[4]
      if st == 'retry' then
        redis.call('ZADD', KEYS[2], o[5], r)
      else
        redis.call('ZREM', KEYS[2], r); rec[6] = ''
        redis.call('HINCRBY', KEYS[3], 'pending', -1)
        redis.call('HINCRBY', KEYS[3], st, 1)
        if st == 'sent' and rec[5] == 1 then redis.call('HINCRBY', KEYS[3], 'uncertain', 1) end
        if st == 'skipped' and o[5] == 'gone' then
          redis.call('HINCRBY', KEYS[3], 'gone', 1)
        end
        if st == 'failed' then redis.call('HSET', KEYS[4], r, cjson.encode(rec)) end
        if st == 'paused' then redis.call('SADD', KEYS[5], r) end
      end
      redis.call('HSET', KEYS[1], r, cjson.encode(rec))
    end
  end
end
if ARGV[3] == '' then return {} end
return start(cjson.decode(ARGV[3]), token)
"""
)

# Record the platform ids of the parts sent so far (a thread, several messages), if the token
# still holds the record ('' holds every record). KEYS[1]: records. ARGV: recipient, ids, token.
# Returns 1 if recorded, 0 if the claim is gone.
PARTS = """
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return 0 end
local rec = cjson.decode(raw)
if ARGV[3] ~= '' and rec[6] ~= ARGV[3] then return 0 end
rec[3] = cjson.decode(ARGV[2])
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(rec))
return 1
"""

# Overdue leases and retries back to queued, in new batches of at most ARGV[5]; with ARGV[3] ==
# '1' (the broker's queue is empty) also batches dispatched longer ago than the grace (their
# task was lost). KEYS: counts, batches, batch queue, records, leases. Returns the batch ids
# to dispatch.
REAP = (
    NEW_BATCH
    + """
local now = tonumber(ARGV[1]); local grace = tonumber(ARGV[2])
local include_queued = ARGV[3] == '1'; local limit = tonumber(ARGV[4])
local size = tonumber(ARGV[5])
local out = {}
if include_queued then
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now - grace)) do
    redis.call('ZADD', KEYS[3], now, id)
    table.insert(out, id)
  end
end
local members = {}
for _, r in ipairs(redis.call('ZRANGEBYSCORE', KEYS[5], '-inf', now, 'LIMIT', 0, limit)) do
  redis.call('ZREM', KEYS[5], r)
  local raw = redis.call('HGET', KEYS[4], r)
  if raw then
    local rec = cjson.decode(raw)
    local st = rec[1]
    if st == 'claimed' or st == 'sending' or st == 'retry' then
      if st == 'sending' then rec[5] = 1 end
      rec[1] = 'queued'; rec[6] = ''
      redis.call('HSET', KEYS[4], r, cjson.encode(rec))
      table.insert(members, r)
      if #members >= size then
        table.insert(out, new_batch(members, now)); members = {}
      end
    end
  end
end
if #members > 0 then table.insert(out, new_batch(members, now)) end
return out
"""
)

# Paused (or failed, for --retry-failed) records back to queued, as one new batch.
# KEYS: counts, batches, batch queue, records, paused, failures. ARGV: now, from, recipients.
# Returns {batch id or '', recipient...}.
REQUEUE = (
    NEW_BATCH
    + """
local now = tonumber(ARGV[1]); local from = ARGV[2]
local members = {}
for i = 3, #ARGV do
  local r = ARGV[i]
  local raw = redis.call('HGET', KEYS[4], r)
  if raw then
    local rec = cjson.decode(raw)
    if rec[1] == from then
      rec[1] = 'queued'; rec[4] = ''
      redis.call('HSET', KEYS[4], r, cjson.encode(rec))
      redis.call('HINCRBY', KEYS[1], from, -1)
      redis.call('HINCRBY', KEYS[1], 'pending', 1)
      redis.call('SREM', KEYS[5], r)
      redis.call('HDEL', KEYS[6], r)
      table.insert(members, r)
    end
  end
end
local out = {new_batch(members, now) or ''}
for _, r in ipairs(members) do table.insert(out, r) end
return out
"""
)

# Extend the lease of the records this token still holds (claimed or sending).
# KEYS: records, leases. ARGV: lease until, token, recipients. Returns how many it holds.
RENEW = """
local lease = tonumber(ARGV[1]); local token = ARGV[2]; local held = 0
for i = 3, #ARGV do
  local raw = redis.call('HGET', KEYS[1], ARGV[i])
  if raw then
    local rec = cjson.decode(raw)
    if rec[6] == token and (rec[1] == 'claimed' or rec[1] == 'sending') then
      redis.call('ZADD', KEYS[2], lease, ARGV[i]); held = held + 1
    end
  end
end
return held
"""

# The claims of dead owners' tokens fall due at once (lease score 0), for REAP to put back in
# batches (a record that was sending is flagged there as a possible duplicate); the tokens are
# unregistered. Retrying records keep their due time: no task holds them.
# KEYS: records, leases, claims. ARGV: tokens. Returns how many records fell due.
RELEASE = """
local dead = {}
for i = 1, #ARGV do dead[ARGV[i]] = true end
local released = 0
for _, r in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '(0', '+inf')) do
  local raw = redis.call('HGET', KEYS[1], r)
  if raw then
    local rec = cjson.decode(raw)
    if dead[rec[6]] and (rec[1] == 'claimed' or rec[1] == 'sending') then
      redis.call('ZADD', KEYS[2], 0, r); released = released + 1
    end
  end
end
redis.call('HDEL', KEYS[3], unpack(ARGV))
return released
"""

# Recipients (`publisher.store.recipients`). KEYS for both: receiving, kept choices, suppressed.

# Suppress an address: its record moves aside (kept for a later subscribe) and the suppression
# is written. ARGV: address, the suppression's JSON. Returns 1 if it was receiving.
SUPPRESS = """
local rec = redis.call('HGET', KEYS[1], ARGV[1])
if rec then
  redis.call('HSET', KEYS[2], ARGV[1], rec)
  redis.call('HDEL', KEYS[1], ARGV[1])
end
redis.call('HSET', KEYS[3], ARGV[1], ARGV[2])
return rec and 1 or 0
"""

# A receiving recipient's new choices; nothing for one suppressed meanwhile (an unsubscribe
# that came between reading the choices and writing them wins). KEYS: receiving. ARGV: address,
# choices JSON. Returns 1 if written.
CHANGE = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
"""

# A chat that changed its id (a group became a supergroup): whatever is kept under the old
# address, receiving or suppressed, moves to the new one. ARGV: old, new. Returns 1 if moved.
MOVE = """
local moved = 0
for i = 1, 3 do
  local value = redis.call('HGET', KEYS[i], ARGV[1])
  if value then
    redis.call('HSET', KEYS[i], ARGV[2], value)
    redis.call('HDEL', KEYS[i], ARGV[1])
    moved = 1
  end
end
return moved
"""
