"""The Lua scripts of a job's queue in Redis: each one atomic step of the data model.

Every key of a job starts ``corral:{JOB}:`` (one hash tag: a Redis Cluster keeps the job in
one slot). ``KEYS[1]`` is the job's ``meta`` key (it routes the call); the scripts derive the
others from it. The one clock is Redis's ``TIME`` (in ms), whichever machine calls.

Keys (the design of docs/scale.md, after research note 1.17-1.18)::

    meta        HASH   settings (per_host, gap_ms, lease_ms, max_results, config...), state
    q:<host>    LIST   queued URLs of a host, each an *element*: fp(8 bytes) ident \\x1f url
                       [\\x1f request JSON]; reaped ones go back to the head
    ready       ZSET   host -> ms of its next allowed dispatch; only hosts with queued URLs
                       and in-flight < per_host (else parked until a commit or reap)
    hosts       ZSET   host -> queued count (for status)
    h:<host>    HASH   inflight, until (no dispatch before, ms: gap and throttle), gap
    floor       HASH   host -> least ms between its starts (robots.txt's Crawl-delay: crawls)
    lease       ZSET   token -> deadline ms (a token: seq/worker);  ld HASH token -> host
                       \\x1e element
    k:<xxxx>    HASH   the keys the job knows (queued, leased, or committed and not yet
                       acknowledged): 2**16 buckets by the fingerprint's first 2 bytes, field
                       its other 6 (about 16 bytes a key, research note 1.15)
    att         HASH   fp -> failed attempts sent back by RETRY (only for those)
    res         STREAM one entry per committed URL: ident, fp, worker, data [, body]
    stats       HASH   queued, done, reaped counters;  seq STRING the token counter
    wake        LIST   a few tokens; an idle worker BLPOPs it
    workers     ZSET   worker -> last heartbeat ms;  w:<worker> HASH its figures
"""

from __future__ import annotations

from corral.http.scale._claimscript import CLAIMING, COMMITTING
from corral.http.scale._fence import FENCE, PREFIX

# Shared by every script: the prefix, the fence, the clock, host readiness and the wake-up.
_PRELUDE = (
    PREFIX
    + FENCE
    + r"""
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function meta_num(name, default)
  local v = redis.call('HGET', P .. 'meta', name)
  if v then return tonumber(v) end
  return default
end
local function num(v) if v then return tonumber(v) end return 0 end
-- Put a host in `ready` at max(now, its until) when it has queued URLs and a free slot,
-- else take it out (parked); return 1 when it became ready just now (someone to wake).
local function ready_host(host, now, maxc)
  local h = P .. 'h:' .. host
  local queued = redis.call('LLEN', P .. 'q:' .. host)
  local inflight = num(redis.call('HGET', h, 'inflight'))
  local untilms = num(redis.call('HGET', h, 'until'))
  if queued > 0 then
    redis.call('ZADD', P .. 'hosts', queued, host)
  else
    redis.call('ZREM', P .. 'hosts', host)
  end
  if queued > 0 and inflight < maxc then
    return redis.call('ZADD', P .. 'ready', math.max(now, untilms), host)
  end
  redis.call('ZREM', P .. 'ready', host)
  if queued == 0 and inflight <= 0 and untilms <= now then redis.call('DEL', h) end
  return 0
end
local function wake(n)
  if n <= 0 then return end
  for _ = 1, math.min(n, 64) do redis.call('LPUSH', P .. 'wake', '1') end
  redis.call('LTRIM', P .. 'wake', 0, 63)
end
local function known_key(el)
  local b1, b2 = string.byte(el, 1, 2)
  return P .. string.format('k:%02x%02x', b1, b2), string.sub(el, 3, 8)
end
-- A lease's value: host \30 element, after a \29 once its slot is freed (free_slot).
local function split_lease(v)
  local freed = string.byte(v, 1) == 29
  if freed then v = string.sub(v, 2) end
  local sep = string.find(v, '\30', 1, true)
  return string.sub(v, 1, sep - 1), string.sub(v, sep + 1), freed
end
-- A slot of `host` freed, of lease `tok` (seq/worker): the host's count and the worker's.
local function slot_done(host, tok)
  local h, mine = P .. 'h:' .. host, '@' .. string.sub(tok, string.find(tok, '/', 1, true) + 1)
  redis.call('HINCRBY', h, 'inflight', -1)
  if redis.call('HINCRBY', h, mine, -1) <= 0 then redis.call('HDEL', h, mine) end
end
-- End lease `tok` (its host's slot freed, unless it was already): return its host and
-- element, or nil when the lease was reaped meanwhile (fenced: another worker has the URL).
local function end_lease(tok)
  if redis.call('ZREM', P .. 'lease', tok) == 0 then return nil end
  local host, el, freed = split_lease(redis.call('HGET', P .. 'ld', tok))
  redis.call('HDEL', P .. 'ld', tok)
  if not freed then slot_done(host, tok) end
  return host, el
end
-- Free the host's slot of lease `tok` (its request is over; its record comes later, the
-- lease kept for it): return the host, or nil (no such lease, or freed already).
local function free_slot(tok)
  local v = redis.call('HGET', P .. 'ld', tok)
  if not v or string.byte(v, 1) == 29 then return nil end
  redis.call('HSET', P .. 'ld', tok, '\29' .. v)
  local host = split_lease(v)
  slot_done(host, tok)
  return host
end
"""
)

# ARGV: host, element, host, element...  Returns how many were queued.
ADD = (
    _PRELUDE
    + r"""
local now, maxc = now_ms(), meta_num('per_host', 8)
local added, woke, grown = 0, 0, {}
for i = 1, #ARGV, 2 do
  local host, el = ARGV[i], ARGV[i + 1]
  local bucket, field = known_key(el)
  if redis.call('HSETNX', bucket, field, '1') == 1 then
    redis.call('RPUSH', P .. 'q:' .. host, el)
    added = added + 1
    grown[host] = true
  end
end
for host in pairs(grown) do ready_host(host, now, maxc) end  -- (once a host, not a URL)
if added > 0 then
  redis.call('HINCRBY', P .. 'stats', 'queued', added)
  woke = 64  -- every waiting worker looks (one a host would leave the others asleep)
end
wake(woke)
return added
"""
)

# ARGV: epoch, limit, worker.  Returns {{token, host, element, attempts, ...}, wait_ms,
# budget}: wait -1 = nothing queued (or the job is gone), -2 = back-pressure (the results
# stream is full), -3 = the job is not running any more, -4 = the job was started afresh
# (fenced: another epoch); budget 1 when the job has a --max-pages budget (a crawl's TAKE).
CLAIM = (
    _PRELUDE
    + CLAIMING
    + r"""
local f = fence(ARGV[1])
if f > 0 then return {{}, FENCED[f], 0} end
local out, wait = claim(tonumber(ARGV[2]), ARGV[3], now_ms(), false)
return {out, wait, meta_num('max_pages', 0) > 0 and 1 or 0}
"""
)

# ARGV: epoch, worker, claim limit, n, n tokens to free (``COMMITTING``), then token, data,
# flags, body per result; flags: '1' or '3' with a body, '2' or '3' when the claim saw
# earlier attempts (their count is dropped).  Returns {ok, stale, claim's {out, wait,
# budget}}; fenced (``COMMITTING``), every record stale and nothing written.
COMMIT = (
    _PRELUDE
    + CLAIMING
    + COMMITTING
    + r"""
local fenced_stale, fenced_claim = fenced(4)
if fenced_stale then return {0, fenced_stale, fenced_claim} end
local now, maxc, worker = now_ms(), meta_num('per_host', 8), ARGV[2]
local ok, stale, touched = 0, 0, {}
for i = free_fetched(touched), #ARGV, 4 do
  local host, el = end_lease(ARGV[i])
  if not host then
    stale = stale + 1  -- fenced: the lease expired and was reaped; another worker has it
  else
    local fp = string.sub(el, 1, 8)
    local ident = string.sub(el, 9, string.find(el, '\31', 9, true) - 1)
    local flags = ARGV[i + 2]
    if flags == '1' or flags == '3' then
      redis.call('XADD', P .. 'res', '*', 'ident', ident, 'fp', fp, 'worker', worker,
                 'data', ARGV[i + 1], 'body', ARGV[i + 3])
    else
      redis.call('XADD', P .. 'res', '*', 'ident', ident, 'fp', fp, 'worker', worker,
                 'data', ARGV[i + 1])
    end
    if flags >= '2' then redis.call('HDEL', P .. 'att', fp) end
    ok = ok + 1
    touched[host] = true
  end
end
if ok > 0 then redis.call('HINCRBY', P .. 'stats', 'done', ok) end
-- each host's readiness once, after all its slots are freed (not once a record)
return {ok, stale, claim_after(touched, false, now, maxc)}
"""
)

# ARGV: epoch, worker, then token, wait ms pairs.  Each URL goes back to the head of its
# host's queue, one attempt more, and the host starts nothing before now + wait (for every
# worker: a retry is paced like a first try).  Fenced as COMMIT, by lease token and epoch.
# Returns {requeued, stale}; -4 fenced (another epoch: nothing requeued).
RETRY = (
    _PRELUDE
    + r"""
local f = fence(ARGV[1])
if f == 2 then return -4 end
if f == 1 then return {0, (#ARGV - 2) / 2} end
local now, maxc = now_ms(), meta_num('per_host', 8)
local back, stale, woke = 0, 0, 0
for i = 3, #ARGV, 2 do
  local host, el = end_lease(ARGV[i])
  if not host then
    stale = stale + 1
  else
    local h = P .. 'h:' .. host
    redis.call('LPUSH', P .. 'q:' .. host, el)
    redis.call('HINCRBY', P .. 'att', string.sub(el, 1, 8), 1)
    local t = now + tonumber(ARGV[i + 1])
    if t > num(redis.call('HGET', h, 'until')) then redis.call('HSET', h, 'until', t) end
    back = back + 1
    woke = woke + ready_host(host, now, maxc)
  end
end
if back > 0 then redis.call('HINCRBY', P .. 'stats', 'queued', back) end
wake(woke)
return {back, stale}
"""
)

# ARGV: epoch, host, ms.  The host's starts at least ms apart for the job's life, whatever
# its pace (robots.txt's Crawl-delay, which a crawl's coordinator reads).  Fenced: -4 (a job
# started afresh), 0 (a job gone or being deleted: no key of it recreated).
FLOOR = (
    _PRELUDE
    + r"""
local f = fence(ARGV[1])
if f == 2 then return -4 end
if f == 1 then return 0 end
-- (in a hash of its own: a host's state h:<host> goes when its queue runs dry)
redis.call('HSET', P .. 'floor', ARGV[2], tonumber(ARGV[3]))
return 1
"""
)

# ARGV: worker.  Its leases expire now (it is known dead: its process ended); REAP then
# hands their URLs back at once, not when the leases run out.  Returns how many.
RELEASE = (
    _PRELUDE
    + r"""
local tail, n = '/' .. ARGV[1], 0
for _, tok in ipairs(redis.call('ZRANGE', P .. 'lease', 0, -1)) do
  if string.sub(tok, -#tail) == tail then
    redis.call('ZADD', P .. 'lease', 'XX', 0, tok)
    n = n + 1
  end
end
return n
"""
)

# ARGV: epoch, tokens.  Returns the tokens no longer leased; -4 fenced (another epoch:
# nothing renewed; the job gone: every token is lost).
RENEW = (
    _PRELUDE
    + r"""
local f = fence(ARGV[1])
if f == 2 then return -4 end
local deadline = now_ms() + meta_num('lease_ms', 30000)
local lost = {}
for i = 2, #ARGV do
  if redis.call('ZSCORE', P .. 'lease', ARGV[i]) then
    redis.call('ZADD', P .. 'lease', 'XX', 'GT', deadline, ARGV[i])
  else
    lost[#lost + 1] = ARGV[i]
  end
end
return lost
"""
)

# ARGV: epoch, host, ms[, gap ms].  No dispatch to the host before now + ms, for every
# worker.  Returns that time; -4 fenced (the job was started afresh: its pace is not this).
THROTTLE = (
    _PRELUDE
    + r"""
local host, h = ARGV[2], P .. 'h:' .. ARGV[2]
local t = now_ms() + tonumber(ARGV[3])
if redis.call('HGET', P .. 'meta', 'state') ~= 'running' then return t end  -- (as HEARTBEAT)
if fence(ARGV[1]) == 2 then return -4 end
if t > num(redis.call('HGET', h, 'until')) then redis.call('HSET', h, 'until', t) end
if ARGV[4] then  -- the host's adaptive gap (ms) as its worker sees it; 0: the job's again
  local g = tonumber(ARGV[4])
  if g > meta_num('gap_ms', 0) then
    redis.call('HSET', h, 'gap', g)
  else
    redis.call('HDEL', h, 'gap')
  end
end
if redis.call('ZSCORE', P .. 'ready', host) then redis.call('ZADD', P .. 'ready', 'GT', t, host) end
return t
"""
)

# No ARGV.  Expired leases: their URLs back to the head of their host's queue, counted in
# ``reaped``, not as attempts (a worker that died is no failed attempt of the URL).  Not in a
# job being deleted (its settings go first): a URL put back would be the next job's.
REAP = (
    _PRELUDE
    + r"""
if redis.call('EXISTS', P .. 'meta') == 0 then return 0 end
local now, maxc = now_ms(), meta_num('per_host', 8)
local n, woke = 0, 0
for _, tok in ipairs(redis.call('ZRANGEBYSCORE', P .. 'lease', '-inf', now, 'LIMIT', 0, 1000)) do
  redis.call('ZREM', P .. 'lease', tok)
  local v = redis.call('HGET', P .. 'ld', tok)
  redis.call('HDEL', P .. 'ld', tok)
  if v then
    local host, el, freed = split_lease(v)
    redis.call('LPUSH', P .. 'q:' .. host, el)  -- (no attempt more: nothing failed)
    if not freed then slot_done(host, tok) end
    n = n + 1
    woke = woke + ready_host(host, now, maxc)
  end
end
if n > 0 then
  redis.call('HINCRBY', P .. 'stats', 'queued', n)
  redis.call('HINCRBY', P .. 'stats', 'reaped', n)
end
wake(woke)
return n
"""
)

# ARGV: n, n stream entry ids[, their n fingerprints].  Acknowledged, deleted, their keys
# forgotten (not a crawl's: its seen set keeps them, _crawlscripts).
ACKNOWLEDGE = (
    _PRELUDE
    + r"""
local maxr = meta_num('max_results', 0)
local before = redis.call('XLEN', P .. 'res')
local forget = meta_num('seen', 0) == 0
local n = tonumber(ARGV[1])
for i = 2, n + 1 do
  local fp = ARGV[i + n]
  if fp == '' then fp = nil end
  if forget and not fp then  -- (the entry's fingerprint not given: read it from the entry)
    local found = redis.call('XRANGE', P .. 'res', ARGV[i], ARGV[i])
    local fields = #found > 0 and found[1][2] or {}
    for j = 1, #fields, 2 do
      if fields[j] == 'fp' then fp = fields[j + 1] end
    end
  end
  -- its key forgotten only if the entry was still there (acknowledged once: idempotent)
  if redis.call('XDEL', P .. 'res', ARGV[i]) == 1 and forget and fp then
    local bucket, field = known_key(fp)
    redis.call('HDEL', bucket, field)
  end
end
for i = 2, n + 1, 1000 do  -- (one XACK a thousand entries: unpack's limit is 8000)
  redis.call('XACK', P .. 'res', 'coordinator', unpack(ARGV, i, math.min(i + 999, n + 1)))
end
if maxr > 0 and before >= maxr and redis.call('XLEN', P .. 'res') < maxr then wake(64) end
return n
"""
)

# ARGV: epoch, worker, then name, value pairs.  Returns the time (ms); -4 fenced (the job
# was started afresh: the worker is none of the new job's).
HEARTBEAT = (
    _PRELUDE
    + r"""
local now = now_ms()
-- A job that is finished (or gone) takes no more heartbeats: they would outlive its keys.
if redis.call('HGET', P .. 'meta', 'state') ~= 'running' then return now end
if fence(ARGV[1]) == 2 then return -4 end
redis.call('ZADD', P .. 'workers', now, ARGV[2])
if #ARGV > 2 then redis.call('HSET', P .. 'w:' .. ARGV[2], unpack(ARGV, 3)) end
return now
"""
)

# ARGV: settings as name, value pairs.  Overwrites them, state running, started kept.
CONFIGURE = (
    _PRELUDE
    + r"""
redis.call('HSET', P .. 'meta', unpack(ARGV))
redis.call('HSETNX', P .. 'meta', 'started', now_ms())
local ok, err = pcall(redis.call, 'XGROUP', 'CREATE', P .. 'res', 'coordinator', '0', 'MKSTREAM')
return 1
"""
)

# No ARGV.  The time now (ms), by the job's one clock.
NOW = _PRELUDE + "return now_ms()\n"
