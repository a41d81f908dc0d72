"""The Lua scripts, each one atomic step on the server (loaded once, called by EVALSHA).

- ACQUIRE: take a free lease with a fresh epoch (``node:epoch``), so every later write can
  be fenced by comparing the lease's value with the writer's.
- RENEW / RELEASE: extend or drop the lease, only if it is still the caller's.
- INCARNATION: the actor's current incarnation, a new one if it was stopped permanently.
- RETIRE: mark the actor stopped permanently and drop the lease (fenced).
- BEGIN: before a handler runs, drop a duplicate (its dedup record exists: ack only) or count
  the delivery (fenced).
- DEDUP: for a batch of new entries, in one step: acknowledge those already committed (a
  sender's retried XADD) and say which they are (fenced).
- COMMIT: after the handler, in one step: the fence check, XACK, the dedup record, the reply
  for an ask, the dead letter, the handler's staged writes and its staged tells. The node
  pipelines commits in order while the next handlers run. Retrying one is harmless: an
  entry no longer pending is not committed twice.
- TRIM: XTRIM MINID to the oldest pending entry (or past the last delivered one).
"""

from __future__ import annotations

__all__ = [
    "ACQUIRE",
    "BEGIN",
    "COMMIT",
    "DEDUP",
    "INCARNATION",
    "RELEASE",
    "RENEW",
    "RETIRE",
    "TRIM",
]

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

# KEYS: lease, mbox, seen, deliveries; ARGV: lease value, group, entry id, has a message id
# -> -2 the lease is not mine; -1 a duplicate (acked); else the delivery count
BEGIN = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -2 end
if ARGV[4] == '1' and redis.call('EXISTS', KEYS[3]) == 1 then
  redis.call('XACK', KEYS[2], ARGV[2], ARGV[3])
  redis.call('HDEL', KEYS[4], ARGV[3])
  return -1
end
return redis.call('HINCRBY', KEYS[4], ARGV[3], 1)
"""

# KEYS: lease, mbox, deliveries, then one seen key per entry; ARGV: lease value, group, then
# the entries -> {-2} the lease is not mine; else one flag per entry: 1 a duplicate (acked)
DEDUP = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return {-2} end
local flags = {}
for i = 3, #ARGV do
  if redis.call('EXISTS', KEYS[i + 1]) == 1 then
    redis.call('XACK', KEYS[2], ARGV[2], ARGV[i])
    redis.call('HDEL', KEYS[3], ARGV[i])
    flags[#flags + 1] = 1
  else
    flags[#flags + 1] = 0
  end
end
return flags
"""

# KEYS: lease, mbox, seen, deliveries, reply stream, dead stream, one key per write, one
#   stream per staged tell
# ARGV: lease value, group, entry id, record seen ('1'/'0'), dedup ttl ms, reply ('' none),
#   dead reason ('' none), dead data, message id, write count, then per write: command,
#   argument count, arguments; then the count of staged tells and their envelopes
# -> {status, error}: 0 refused (the lease is not mine), 1 done, 2 already committed (acked
#    only), 3 a staged write failed (error says which; the entry is acked and dead-lettered
#    instead)
COMMIT = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return {0, ''} end
if redis.call('XACK', KEYS[2], ARGV[2], ARGV[3]) == 0 then return {2, ''} end
redis.call('HDEL', KEYS[4], ARGV[3])
if ARGV[4] == '1' then redis.call('SET', KEYS[3], '1', 'PX', ARGV[5]) end
local writes = tonumber(ARGV[10])
local at = 11
for i = 1, writes do
  local n = tonumber(ARGV[at + 1])
  local args = {}
  for j = 1, n do args[j] = ARGV[at + 1 + j] end
  local result = redis.pcall(ARGV[at], KEYS[6 + i], unpack(args))
  if type(result) == 'table' and result.err then
    local failed = 'staged write ' .. ARGV[at] .. ' ' .. KEYS[6 + i] .. ' failed: ' .. result.err
    redis.call('XADD', KEYS[6], '*', 'entry', ARGV[3], 'id', ARGV[9], 'reason', failed,
      'data', ARGV[8])
    return {3, failed}
  end
  at = at + 2 + n
end
if ARGV[6] ~= '' then redis.call('XADD', KEYS[5], '*', 'r', ARGV[6]) end
for i = 1, tonumber(ARGV[at]) do
  redis.call('XADD', KEYS[6 + writes + i], '*', 'e', ARGV[at + i])
end
if ARGV[7] ~= '' then
  redis.call('XADD', KEYS[6], '*', 'entry', ARGV[3], 'id', ARGV[9], 'reason', ARGV[7],
    'data', ARGV[8])
end
return {1, ''}
"""

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
