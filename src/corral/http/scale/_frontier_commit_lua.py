"""The Lua scripts of ``RedisFrontier`` that end rows: commit (whole, or fenced), park and
unpark bodies, skip the rest. Conventions and the prelude as in ``_frontier_lua``."""

from __future__ import annotations

from corral.http.scale._frontier_lua import PRELUDE

DONE_FIELDS = 12  # per row: id, fetched, data, has body, body, items, parked, type, parked
# body, parked url, parked depth, links

# ARGV: run, fenced ('0'/'1'), n, then 12 fields per row (above), then every row's links (5
# fields each, in row order).  Unfenced, a row this run does not hold (a crawl: not leased to
# it; a fetch: not pending) refuses the batch; fenced, such rows are dropped (stale) with
# their links.  Returns {new by host, skipped by reason, stale ids}.
COMMIT = (
    PRELUDE
    + r"""
local run, fenced, n = ARGV[1], ARGV[2] == '1', tonumber(ARGV[3])
live(run, now_ms())
local crawl, rows, stale, ids = kind() == 'crawl', {}, {}, {}
for k = 0, n - 1 do
  local base = 4 + k * 12
  local id = ARGV[base]
  if ids[id] then fail('row ' .. id .. ' is twice in one commit') end
  ids[id] = true
  local el = nil
  if crawl then
    local v = redis.call('HGET', P .. 'ld', id)
    if v then
      local holder, _, _, leased = split_lease(v)
      if holder == run then el = leased end
    end
  else
    el = redis.call('ZRANGEBYSCORE', P .. 'pend', id, id, 'LIMIT', 0, 1)[1]
  end
  if el then
    rows[k] = el
  elseif fenced then
    stale[#stale + 1] = id
  else
    fail('row ' .. id .. ' is not ' .. (crawl and 'leased to run ' .. run or 'pending') ..
      ' (committed before, or never handed out); nothing of the batch was committed')
  end
end
local new, skipped, link = {}, {}, 4 + n * 12
local records, fetched = 0, 0
for k = 0, n - 1 do
  local base = 4 + k * 12
  local id, el, links = ARGV[base], rows[k], tonumber(ARGV[base + 11]) * 5
  if el then
    if crawl then
      redis.call('ZREM', P .. 'lease', id)
      redis.call('HDEL', P .. 'ld', id)
    else
      redis.call('ZREM', P .. 'pend', el)
      redis.call('SREM', P .. 'took:' .. run, id)
    end
    done(run, el)
    local entry = {'i', id, 'r', run, 'd', ARGV[base + 2]}
    if ARGV[base + 3] == '1' then
      entry[#entry + 1] = 'b'
      entry[#entry + 1] = ARGV[base + 4]
    end
    if ARGV[base + 5] ~= '' then
      entry[#entry + 1] = 'it'
      entry[#entry + 1] = ARGV[base + 5]
    end
    redis.call('XADD', P .. 'rec', '*', unpack(entry))
    records = records + 1
    fetched = fetched + tonumber(ARGV[base + 1])
    if ARGV[base + 6] == '1' then
      redis.call('ZADD', P .. 'pq', id, id)
      redis.call('HSET', P .. 'pk:' .. id, 'u', ARGV[base + 9], 'dp', ARGV[base + 10],
        'ct', ARGV[base + 7], 'b', ARGV[base + 8])
    end
    if links > 0 then add_links(run, link, link + links - 1, new, skipped) end
  end
  link = link + links
end
count_pending(new)
redis.call('HINCRBY', P .. 'stats', 'records', records)
redis.call('HINCRBY', P .. 'stats', 'fetched', fetched)
return {flat(new), flat(skipped), stale}
"""
)

# ARGV: limit.  Returns id, url, depth, content type, body per parked body, oldest first.
UNPARK = (
    PRELUDE
    + r"""
local out = {}
for _, id in ipairs(redis.call('ZRANGE', P .. 'pq', 0, tonumber(ARGV[1]) - 1)) do
  local v = redis.call('HMGET', P .. 'pk:' .. id, 'u', 'dp', 'ct', 'b')
  out[#out + 1] = id
  for j = 1, 4 do out[#out + 1] = v[j] end
end
return out
"""
)

# ARGV: run, n, n ids, then links (as ADD_LINKS).  Returns as ADD_LINKS.
UNPARKED = (
    PRELUDE
    + r"""
live(ARGV[1], now_ms())
local n = tonumber(ARGV[2])
for i = 3, 2 + n do
  redis.call('ZREM', P .. 'pq', ARGV[i])
  redis.call('DEL', P .. 'pk:' .. ARGV[i])
end
local new, skipped = {}, {}
add_links(ARGV[1], 3 + n, #ARGV, new, skipped)
count_pending(new)
return {flat(new), flat(skipped)}
"""
)

# ARGV: run, reason, limit.  Records up to limit of this run's leased rows, then pending rows,
# as not fetched for the reason.  Returns how many (fewer than limit: none are left).
SKIP = (
    PRELUDE
    + r"""
local run, reason, limit = ARGV[1], ARGV[2], tonumber(ARGV[3])
live(run, now_ms())
local n = 0
local function skip(id, host, depth, el)
  done(run, el)
  record_skip(run, id, reason, depth, host, rest(el))
  n = n + 1
end
if kind() ~= 'crawl' then
  for _, el in ipairs(redis.call('ZRANGE', P .. 'pend', 0, limit - 1)) do
    redis.call('ZREM', P .. 'pend', el)
    skip(ident(el), '', 0, el)
  end
  return n
end
for _, id in ipairs(redis.call('ZRANGE', P .. 'lease', 0, -1)) do
  if n >= limit then break end
  local holder, host, depth, el = split_lease(redis.call('HGET', P .. 'ld', id))
  if holder == run then
    redis.call('ZREM', P .. 'lease', id)
    redis.call('HDEL', P .. 'ld', id)
    skip(id, host, depth, el)
  end
end
while n < limit do
  local host = redis.call('ZRANGE', P .. 'hosts', 0, 0)[1]
  if not host then break end
  local before = n
  for _, depth in ipairs(redis.call('ZRANGE', P .. 'd:' .. host, 0, -1)) do
    if n >= limit then break end
    local q = P .. 'q:' .. host .. ':' .. depth
    for _, el in ipairs(redis.call('LPOP', q, limit - n) or {}) do
      skip(ident(el), host, depth, el)
    end
    if redis.call('LLEN', q) == 0 then redis.call('ZREM', P .. 'd:' .. host, depth) end
  end
  if n == before then
    redis.call('ZREM', P .. 'hosts', host)  -- (no rows under it: a count left over)
  else
    pending_delta(host, before - n)
  end
end
return n
"""
)

COMMIT_SCRIPTS = {"COMMIT": COMMIT, "UNPARK": UNPARK, "UNPARKED": UNPARKED, "SKIP": SKIP}
