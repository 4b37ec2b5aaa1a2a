"""The Lua scripts of ``RedisFrontier`` (``_frontier``): each one atomic step of its data model.

``KEYS[1]`` is the frontier's ``meta`` key (it routes the call); the scripts derive the
others from it (prefix ``corral:{JOB}:f:``). ``ARGV[1]`` is the calling run where a run
calls. The one clock is Redis's ``TIME`` (ms). A step that refuses its input raises an
error reply ``CORRAL <what>`` before it writes anything (validate the whole batch, then
apply), so a refused commit keeps nothing of its batch.

An *element* is a row as a queue holds it: fingerprint (8 bytes) ``id`` \\x1f ``rest`` (the
row's other fields, packed by Python; the scripts never read them).
"""

from __future__ import annotations

PRELUDE = r"""
local P = string.sub(KEYS[1], 1, -5)
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function fail(what) error({err = 'CORRAL ' .. what}) end
local function kind() return redis.call('HGET', P .. 'meta', 'kind') end
local function bucket(fp)
  local b1, b2 = string.byte(fp, 1, 2)
  return P .. string.format('s:%02x%02x', b1, b2), string.sub(fp, 3, 8)
end
local function ident(el) return tonumber(string.sub(el, 9, string.find(el, '\31', 9, true) - 1)) end
local function rest(el) return string.sub(el, string.find(el, '\31', 9, true) + 1) end
-- A run calls: it must still be running (not taken for dead), and it lives on for its lease
-- time (each run's own), which it returns.
local function live(run, now)
  local st = redis.call('HMGET', P .. 'run:' .. run, 'status', 'lease_ms')
  if st[1] ~= 'running' then
    fail('run ' .. run .. ' is over (finished, or taken for dead after no call for the lease time)')
  end
  local lease = tonumber(st[2])
  redis.call('ZADD', P .. 'live', now + lease, run)
  return lease
end
local function pending_delta(host, n)
  if tonumber(redis.call('ZINCRBY', P .. 'hosts', n, host)) <= 0 then
    redis.call('ZREM', P .. 'hosts', host)
  end
end
-- Queue an element on its host and depth: new ones at the tail; one coming back (reaped)
-- before the first element with a higher id, so each list stays in id order. The caller
-- adds it to the host's pending count (``count_pending``).
local function enqueue(host, depth, el, back)
  local q = P .. 'q:' .. host .. ':' .. depth
  local placed = false
  if back then
    local id, pos = ident(el), 0
    while not placed do
      local chunk = redis.call('LRANGE', q, pos, pos + 63)
      if #chunk == 0 then break end
      for _, other in ipairs(chunk) do
        if ident(other) > id then
          redis.call('LINSERT', q, 'BEFORE', other, el)
          placed = true
          break
        end
      end
      pos = pos + 64
    end
  end
  -- (a list that was empty gets its depth listed; the host's count is the caller's, once)
  if not placed and redis.call('RPUSH', q, el) == 1 then
    redis.call('ZADD', P .. 'd:' .. host, depth, depth)
  end
end
local function count_pending(by_host)
  for host, n in pairs(by_host) do pending_delta(host, n) end
end
local function split_lease(v)
  local a = string.find(v, '\30', 1, true)
  local b = string.find(v, '\30', a + 1, true)
  local c = string.find(v, '\30', b + 1, true)
  return string.sub(v, 1, a - 1), string.sub(v, a + 1, b - 1), string.sub(v, b + 1, c - 1),
    string.sub(v, c + 1)
end
local function done(run, el)
  local b, f = bucket(el)
  redis.call('HSET', b, f, -tonumber(run))
end
local function record_skip(run, id, reason, depth, host, packed)
  redis.call('XADD', P .. 'rec', '*', 'i', id, 'r', run, 's', reason, 'dp', depth, 'h', host,
    'e', packed)
  redis.call('HINCRBY', P .. 'stats', 'records', 1)
end
-- Links from ARGV[first..last], five fields each (fp, host, depth, skip, rest): a key the
-- frontier has is ignored; a new one is pending, or recorded as skipped at once.
local function add_links(run, first, last, new, skipped)
  for i = first, last, 5 do
    local fp, host, depth, skip = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
    local b, f = bucket(fp)
    if redis.call('HEXISTS', b, f) == 0 then
      local id = redis.call('INCR', P .. 'id')
      if skip == '' then
        redis.call('HSET', b, f, id)
        enqueue(host, depth, fp .. id .. '\31' .. ARGV[i + 4], false)
        new[host] = (new[host] or 0) + 1
      else
        redis.call('HSET', b, f, -tonumber(run))
        record_skip(run, id, skip, depth, host, ARGV[i + 4])
        skipped[skip] = (skipped[skip] or 0) + 1
      end
    end
  end
end
local function flat(t)
  local out = {}
  for k, v in pairs(t) do
    out[#out + 1] = k
    out[#out + 1] = v
  end
  return out
end
-- The leases of the runs in the set `runs` (run -> true) expire now: those runs are gone.
-- (A run that finished; one gone silent had its leases run out with its life already, and
-- this only makes sure.) So a reap reads the expired leases only, not every lease.
local function expire_leases_of(runs)
  for _, id in ipairs(redis.call('ZRANGE', P .. 'lease', 0, -1)) do
    if runs[split_lease(redis.call('HGET', P .. 'ld', id))] then
      redis.call('ZADD', P .. 'lease', 'XX', 0, id)
    end
  end
end
-- Expired leases back to their queues, each into its place; how many.
local function reap_all(now)
  local back = {}
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', P .. 'lease', '-inf', now)) do
    local _, host, depth, el = split_lease(redis.call('HGET', P .. 'ld', id))
    back[#back + 1] = {tonumber(id), host, depth, el}
  end
  table.sort(back, function(x, y) return x[1] > y[1] end)  -- (each then goes to a head)
  local by_host = {}
  for _, row in ipairs(back) do
    redis.call('ZREM', P .. 'lease', row[1])
    redis.call('HDEL', P .. 'ld', row[1])
    enqueue(row[2], row[3], row[4], true)
    by_host[row[2]] = (by_host[row[2]] or 0) + 1
  end
  count_pending(by_host)
  return #back
end
"""

# ARGV: kind, lease_ms, argv JSON, started_at, version.  Returns {'kind', known} for a store
# of the other kind, else {run, earlier status, its end, its last call ms, reaped, records,
# fetched, first id}.
OPEN = (
    PRELUDE
    + r"""
local meta = redis.call('HMGET', P .. 'meta', 'kind', 'version')
if meta[1] and meta[1] ~= ARGV[1] then return {'kind', meta[1]} end
if meta[2] and tonumber(meta[2]) > tonumber(ARGV[5]) then
  fail('was made by a newer corral (frontier version ' .. meta[2] .. '); upgrade corral')
end
redis.call('HSET', P .. 'meta', 'kind', ARGV[1], 'version', ARGV[5])
local now, lease = now_ms(), tonumber(ARGV[2])
local killed = {}
for _, r in ipairs(redis.call('ZRANGEBYSCORE', P .. 'live', '-inf', '(' .. now)) do
  local its = tonumber(redis.call('HGET', P .. 'run:' .. r, 'lease_ms') or lease)
  local last = tonumber(redis.call('ZSCORE', P .. 'live', r)) - its
  redis.call('HSET', P .. 'run:' .. r, 'status', 'killed', 'last_ms', last)
  redis.call('ZREM', P .. 'live', r)
  killed[r] = true
end
if next(killed) then expire_leases_of(killed) end
local previous = tonumber(redis.call('GET', P .. 'runs') or '0')
local earlier = {'', '', ''}
if previous > 0 then
  local st = redis.call('HMGET', P .. 'run:' .. previous, 'status', 'ended', 'last_ms')
  if st[1] == 'killed' or st[1] == 'interrupted' then
    earlier = {st[1], st[2] or '', st[3] or ''}
  end
end
local run = redis.call('INCR', P .. 'runs')
redis.call('HSET', P .. 'run:' .. run, 'status', 'running', 'argv', ARGV[3], 'started', ARGV[4],
  'lease_ms', lease)
redis.call('ZADD', P .. 'live', now + lease, run)
local reaped = reap_all(now)
local stats = redis.call('HMGET', P .. 'stats', 'records', 'fetched')
local first = tonumber(redis.call('GET', P .. 'id') or '0') + 1
return {run, earlier[1], earlier[2], earlier[3], reaped, tonumber(stats[1] or '0'),
  tonumber(stats[2] or '0'), first}
"""
)

# ARGV: run, status, finished_at, summary JSON.  A run marked killed stays so.
FINISH = (
    PRELUDE
    + r"""
local run = P .. 'run:' .. ARGV[1]
if redis.call('HGET', run, 'status') ~= 'running' then return 0 end  -- (taken for dead: so be it)
redis.call('HSET', run, 'status', ARGV[2], 'ended', ARGV[3], 'summary', ARGV[4])
redis.call('ZREM', P .. 'live', ARGV[1])
expire_leases_of({[ARGV[1]] = true})  -- (a later open or any run's reap takes them back)
return 1
"""
)

# ARGV: run, first id of the run, then fp, rest per input line.  Returns {code, id} per line:
# 1 new, 2 duplicate (this run's), 3 done by an earlier run, 4 left pending by an earlier run.
ADD = (
    PRELUDE
    + r"""
local run, first = ARGV[1], tonumber(ARGV[2])
live(run, now_ms())
local out, took = {}, P .. 'took:' .. run
for i = 3, #ARGV, 2 do
  local fp = ARGV[i]
  local b, f = bucket(fp)
  local v = tonumber(redis.call('HGET', b, f) or '0')
  local code, id = 1, 0
  if v == 0 then
    id = redis.call('INCR', P .. 'id')
    redis.call('HSET', b, f, id)
    redis.call('ZADD', P .. 'pend', id, fp .. id .. '\31' .. ARGV[i + 1])
  elseif v < 0 then
    code = 2
    if -v ~= tonumber(run) then
      code = 3
      redis.call('HSET', b, f, -tonumber(run))
    end
  elseif v >= first or redis.call('SADD', took, v) == 0 then
    code = 2
  else
    code, id = 4, v
  end
  out[#out + 1] = code
  out[#out + 1] = id
end
return out
"""
)

# ARGV: run, after, first id of the run, limit.  Pending elements of earlier runs' rows this
# run has not taken over, ids above ``after``, by id.
LEFTOVERS = (
    PRELUDE
    + r"""
local run, limit = ARGV[1], tonumber(ARGV[4])
local took, cursor, out = P .. 'took:' .. run, '(' .. ARGV[2], {}
while #out < limit do
  local rows = redis.call('ZRANGEBYSCORE', P .. 'pend', cursor, '(' .. ARGV[3], 'LIMIT', 0, limit)
  if #rows == 0 then break end
  for _, el in ipairs(rows) do
    cursor = '(' .. ident(el)
    if redis.call('SISMEMBER', took, ident(el)) == 0 then
      out[#out + 1] = el
      if #out >= limit then break end
    end
  end
end
return out
"""
)

# ARGV: run, then fp, host, depth, skip, rest per link.  Returns {new by host, skipped by
# reason} as flat name, count lists.
ADD_LINKS = (
    PRELUDE
    + r"""
live(ARGV[1], now_ms())
local new, skipped = {}, {}
add_links(ARGV[1], 2, #ARGV, new, skipped)
count_pending(new)
return {flat(new), flat(skipped)}
"""
)

# ARGV: run, host, limit.  Leases up to limit of the host's rows, lowest depth first, then by
# id.  Returns depth, element pairs.
CLAIM = (
    PRELUDE
    + r"""
local run, host, limit = ARGV[1], ARGV[2], tonumber(ARGV[3])
local now = now_ms()
local deadline, out, left = now + live(run, now), {}, limit
for _, depth in ipairs(redis.call('ZRANGE', P .. 'd:' .. host, 0, -1)) do
  if left <= 0 then break end
  local q = P .. 'q:' .. host .. ':' .. depth
  local els = redis.call('LPOP', q, left)
  if els then
    for _, el in ipairs(els) do
      local id = ident(el)
      redis.call('ZADD', P .. 'lease', deadline, id)
      redis.call('HSET', P .. 'ld', id, run .. '\30' .. host .. '\30' .. depth .. '\30' .. el)
      out[#out + 1] = depth
      out[#out + 1] = el
    end
    left = left - #els
  end
  if redis.call('LLEN', q) == 0 then redis.call('ZREM', P .. 'd:' .. host, depth) end
end
if left < limit then pending_delta(host, left - limit) end
return out
"""
)

# ARGV: run, then ids.  Extends this run's leases of them; returns the ids it no longer holds.
RENEW = (
    PRELUDE
    + r"""
local now, run = now_ms(), ARGV[1]
local deadline, lost = now + live(run, now), {}
for i = 2, #ARGV do
  local v = redis.call('HGET', P .. 'ld', ARGV[i])
  if v and split_lease(v) == run then
    redis.call('ZADD', P .. 'lease', 'XX', deadline, ARGV[i])
  else
    lost[#lost + 1] = ARGV[i]
  end
end
return lost
"""
)

# ARGV: run.  Returns how many leases went back to pending.
REAP = (
    PRELUDE
    + r"""
local now = now_ms()
live(ARGV[1], now)
return reap_all(now)
"""
)

SCRIPTS = {
    "OPEN": OPEN,
    "FINISH": FINISH,
    "ADD": ADD,
    "LEFTOVERS": LEFTOVERS,
    "ADD_LINKS": ADD_LINKS,
    "CLAIM": CLAIM,
    "RENEW": RENEW,
    "REAP": REAP,
}
