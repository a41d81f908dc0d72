"""The Lua scripts, each one atomic step on the server (loaded once, called by EVALSHA).

- APPEND: a sender's batch of messages, one XADD each (envelope and message id), in order: one
  command for the batch instead of one per message (redis-py packs and parses each command).
- ACQUIRE: take a free lease with a fresh epoch (``node:epoch``), so every later write can
  be fenced by comparing the lease's value with the writer's.
- RENEW / RELEASE: extend or drop the lease, only if it is still the caller's.
- INCARNATION: the actor's current incarnation, a new one if it was stopped permanently.
- RETIRE: mark the actor stopped permanently and drop the lease (fenced).
- BEGIN: before a handler runs, drop a duplicate (its dedup record exists: ack only) or count
  the delivery (fenced).
- READ: read a batch of new entries for this consumer and say, for each, whether the message
  id its ``i`` field names is already in the dedup records (fenced; it acknowledges nothing:
  the node checks that the field is the envelope's id, and commits a duplicate as one).
  Called in one pipeline right behind a blocking ``XREAD`` from the last entry seen, so a
  new entry is read and checked in the round trip that waited for it.
- DEDUP: for a batch of new entries, in one step: acknowledge those already committed (a
  sender's retried XADD) and say which they are (fenced). For entries with no (or a wrong)
  ``i`` field: written by another client, or hostile.
- COMMIT: after the handlers of a batch of consecutive entries, in one step: the fence check
  (once), then for each entry in order the guards of its staged store writes (a journal that
  moved since its handler read it: the entry is left pending), XACK, the dedup record, the
  staged store writes (the durable journal's appends), the handler's staged writes, the
  reply for an ask, its staged tells and the dead letter. The batch travels as one
  msgpack argument (``cmsgpack.unpack`` in Lua), so redis-py packs a handful of arguments per
  batch instead of about 14 per entry. A staged write that fails dead-letters its entry (acked)
  and the next entries of the batch are still committed. The node runs commits in order
  while the next handlers run. Retrying one is harmless: an entry no longer pending is not
  committed twice.
- TRIM: XTRIM MINID to the oldest pending entry (or past the last delivered one).
"""

from __future__ import annotations

__all__ = [
    "ACQUIRE",
    "APPEND",
    "BEGIN",
    "COMMIT",
    "DEDUP",
    "INCARNATION",
    "READ",
    "RELEASE",
    "RENEW",
    "RETIRE",
    "TRIM",
]

# KEYS: the n mailbox streams; ARGV: the n envelopes, then their n message ids -> n
APPEND = """
local n = #KEYS
for k = 1, n do redis.call('XADD', KEYS[k], '*', 'e', ARGV[k], 'i', ARGV[n + k]) end
return n
"""

ACQUIRE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return false end
local epoch = redis.call('INCR', KEYS[2])
local value = ARGV[1] .. ':' .. epoch
redis.call('SET', KEYS[1], value, 'PX', ARGV[2])
return value
"""

RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""

RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

INCARNATION = """
if redis.call('HGET', KEYS[1], 'state') == 'live' then
  return tonumber(redis.call('HGET', KEYS[1], 'incarnation'))
end
local n = redis.call('HINCRBY', KEYS[1], 'incarnation', 1)
redis.call('HSET', KEYS[1], 'state', 'live')
return n
"""

RETIRE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[2], 'state', 'stopped')
redis.call('DEL', KEYS[1])
return 1
"""

# The dedup records: one hash per actor and generation, ``{seen prefix}{generation}`` where
# generation = the server's time in ms // dedup ttl in ms, field = message id. A record is
# looked up in the current and the previous generation, and a generation's hash expires at
# the end of the next one, so a record lasts between dedup_ttl and twice that: one HSET field
# per message instead of a key with its own expiry, one HMGET per batch instead of an EXISTS
# per entry. (TIME in a script: Redis >= 5 replicates a script's effects, not the script.)
_GENERATION = """
local now = redis.call('TIME')
local ttl = tonumber(ARGV[DEDUP_TTL])
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local generation = math.floor(ms / ttl)
local current = KEYS[SEEN] .. string.format('%.0f', generation)
local previous = KEYS[SEEN] .. string.format('%.0f', generation - 1)
"""


def _with_generation(script: str, *, seen: int, dedup_ttl: int) -> str:
    prelude = _GENERATION.replace("KEYS[SEEN]", f"KEYS[{seen}]")
    return prelude.replace("ARGV[DEDUP_TTL]", f"ARGV[{dedup_ttl}]") + script.lstrip("\n")


# KEYS: lease, mbox, seen prefix, deliveries; ARGV: lease value, group, entry id, message id
# ('' none), dedup ttl ms -> -2 the lease is not mine; -1 a duplicate (acked); else the
# delivery count
BEGIN = _with_generation(
    """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -2 end
if ARGV[4] ~= '' and (redis.call('HEXISTS', current, ARGV[4]) == 1
    or redis.call('HEXISTS', previous, ARGV[4]) == 1) then
  redis.call('XACK', KEYS[2], ARGV[2], ARGV[3])
  redis.call('HDEL', KEYS[4], ARGV[3])
  return -1
end
return redis.call('HINCRBY', KEYS[4], ARGV[3], 1)
""",
    seen=3,
    dedup_ttl=5,
)

# KEYS: lease, mbox, seen prefix; ARGV: lease value, group, dedup ttl ms, consumer, count
# -> {-2} the lease is not mine; {0, the stream's last id ('0-0' empty)} nothing new; else
# {n, the last entry's id, the entries ({id, {field, value, ...}} each, as XREADGROUP gives
# them), one flag per entry: 1 its i field is a message id already seen, 0 not, -1 no i field}
READ = _with_generation(
    """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return {-2} end
local found = redis.call('XREADGROUP', 'GROUP', ARGV[2], ARGV[4], 'COUNT', ARGV[5],
  'STREAMS', KEYS[2], '>')
if not found then
  local last = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)
  if #last == 0 then return {0, '0-0'} end
  return {0, last[1][1]}
end
local entries = found[1][2]
local n = #entries
local flags, ids, at = {}, {}, {}
for k = 1, n do
  flags[k] = -1
  local fields = entries[k][2]
  for j = 1, #fields, 2 do
    if fields[j] == 'i' then
      ids[#ids + 1] = fields[j + 1]
      at[#ids] = k
      break
    end
  end
end
for first = 1, #ids, 1000 do  -- (unpack has a limit)
  local chunk = {}
  for j = first, math.min(#ids, first + 999) do chunk[#chunk + 1] = ids[j] end
  local here = redis.call('HMGET', current, unpack(chunk))
  local before = redis.call('HMGET', previous, unpack(chunk))
  for j = 1, #chunk do
    if here[j] or before[j] then flags[at[first + j - 1]] = 1 else flags[at[first + j - 1]] = 0 end
  end
end
return {n, entries[n][1], entries, flags}
""",
    seen=3,
    dedup_ttl=3,
)

# KEYS: lease, mbox, seen prefix; ARGV: lease value, group, dedup ttl ms, then the n entries'
# ids, then their n message ids -> {-2} the lease is not mine; else one flag per entry: 1 a
# duplicate (acked). New entries were never delivered: they have no delivery count to delete.
DEDUP = _with_generation(
    """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return {-2} end
local n = (#ARGV - 3) / 2
local here, before = {}, {}
for first = 1, n, 1000 do  -- (unpack has a limit)
  local ids = {}
  for i = first, math.min(n, first + 999) do ids[#ids + 1] = ARGV[3 + n + i] end
  for i, found in ipairs(redis.call('HMGET', current, unpack(ids))) do
    here[first + i - 1] = found
  end
  for i, found in ipairs(redis.call('HMGET', previous, unpack(ids))) do
    before[first + i - 1] = found
  end
end
local flags = {}
for i = 1, n do
  if here[i] or before[i] then
    redis.call('XACK', KEYS[2], ARGV[2], ARGV[3 + i])
    flags[i] = 1
  else
    flags[i] = 0
  end
end
return flags
""",
    seen=3,
    dedup_ttl=3,
)

# KEYS: lease, mbox, deliveries, dead stream, seen prefix
# ARGV: lease value, group, dedup ttl ms, the batch: a msgpack array with one array per entry,
#   in stream order: entry id, message id to record as seen ('' none), reply stream, reply
#   ('' none), dead reason ('' none), dead data, message id, staged writes ({command, key,
#   arguments...} each), staged tells ({stream, envelope, message id} each), 1 if its delivery was
#   counted (else 0: it has no deliveries field to delete), the guards of its staged store
#   writes ({hash key, field, value} each: HGET must give that value, '' when absent), those
#   writes ({command, key, arguments...} each: the durable journal's, see _staging.py)
# -> {0} refused (the lease is not mine: nothing is done), else a flat {status, error} per
#    entry: 1 done, 2 already committed (acked only), 3 a staged write failed (error says
#    which; the entry is acked and dead-lettered instead, and the next entries go on), 4 a
#    guard failed (error says which): nothing is done, the entry stays pending
COMMIT = _with_generation(
    """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return {0} end
local expiring = false
local batch = cmsgpack.unpack(ARGV[4])
local out = {}
for k = 1, #batch do
  local e = batch[k]
  local entry = e[1]
  local moved = nil
  for _, guard in ipairs(e[11] or {}) do
    if (redis.call('HGET', guard[1], guard[2]) or '') ~= guard[3] then
      moved = 'the ' .. guard[2] .. ' of ' .. guard[1] .. ' moved since the handler read it'
      break
    end
  end
  if moved then
    if #redis.call('XPENDING', KEYS[2], ARGV[2], entry, entry, 1) == 0 then
      out[#out + 1] = 2
      out[#out + 1] = ''
    else
      out[#out + 1] = 4
      out[#out + 1] = moved
    end
  elseif redis.call('XACK', KEYS[2], ARGV[2], entry) == 0 then
    out[#out + 1] = 2
    out[#out + 1] = ''
  else
    if e[10] == 1 then redis.call('HDEL', KEYS[3], entry) end
    for _, write in ipairs(e[12] or {}) do redis.call(unpack(write)) end
    if e[2] ~= '' then
      redis.call('HSET', current, e[2], '1')
      if not expiring then
        redis.call('PEXPIREAT', current, string.format('%.0f', (generation + 2) * ttl))
        expiring = true
      end
    end
    local failed = nil
    for _, write in ipairs(e[8]) do
      local result = redis.pcall(unpack(write))
      if type(result) == 'table' and result.err then
        failed = 'staged write ' .. write[1] .. ' ' .. write[2] .. ' failed: ' .. result.err
        break
      end
    end
    if failed then
      redis.call('XADD', KEYS[4], '*', 'entry', entry, 'id', e[7], 'reason', failed,
        'data', e[6])
      out[#out + 1] = 3
      out[#out + 1] = failed
    else
      if e[4] ~= '' then redis.call('XADD', e[3], '*', 'r', e[4]) end
      for _, tell in ipairs(e[9]) do
        redis.call('XADD', tell[1], '*', 'e', tell[2], 'i', tell[3])
      end
      if e[5] ~= '' then
        redis.call('XADD', KEYS[4], '*', 'entry', entry, 'id', e[7], 'reason', e[5],
          'data', e[6])
      end
      out[#out + 1] = 1
      out[#out + 1] = ''
    end
  end
end
return out
""",
    seen=5,
    dedup_ttl=3,
)

# KEYS: mbox; ARGV: group -> entries trimmed
TRIM = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local pending = redis.call('XPENDING', KEYS[1], ARGV[1])
local minid = nil
if pending[1] > 0 then
  minid = pending[2]
else
  local groups = redis.call('XINFO', 'GROUPS', KEYS[1])
  for _, group in ipairs(groups) do
    local name, last = nil, nil
    for i = 1, #group, 2 do
      if group[i] == 'name' then name = group[i + 1] end
      if group[i] == 'last-delivered-id' then last = group[i + 1] end
    end
    if name == ARGV[1] then
      local dash = string.find(last, '-')
      minid = string.sub(last, 1, dash - 1) .. '-' .. (tonumber(string.sub(last, dash + 1)) + 1)
    end
  end
end
if minid == nil then return 0 end
return redis.call('XTRIM', KEYS[1], 'MINID', minid)
"""
