"""The claim in Lua: a function that ``_scripts``' CLAIM and both commits run (``_scripts``,
``_crawlscripts``), after ``_PRELUDE``.

A commit that frees a host's slots claims for its own worker in the same step (a commit
and a claim, one round trip): one site over Redis was latency-bound when a slot, freed by a
commit, waited for a wake-up and a claim of its own before its next URL (docs/design.md,
"One job over machines"). Politeness is the claim's either way: the same function decides,
on Redis's clock, for every worker.
"""

from __future__ import annotations

# claim(limit, worker, now, refill) -> out {token, host, element, attempts, ...}, wait ms:
# -1 nothing queued, -2 back-pressure (the results stream is full), -3 the job is not
# running any more; FENCED[fence's answer]: the wait of a fenced claim (-1 gone, -4 the job
# was started afresh).
# Then: wake_left(became, all) wakes the waiting workers for the hosts a step made ready
# that its own claim left ready (all: every waiting worker, for new URLs).
CLAIMING = r"""
local FENCED = {-1, -4}
local function claim(limit, worker, now, refill)
  local maxc, gap = meta_num('per_host', 8), meta_num('gap_ms', 0)
  local mine, share = '@' .. worker, maxc
  if refill then  -- a commit's claim: a worker's share of a host (the others would starve)
    local live = redis.call('ZCOUNT', P .. 'workers', now - 3000, '+inf')
    share = math.ceil(maxc / math.max(1, live))
  end
  local lease, maxr = meta_num('lease_ms', 30000), meta_num('max_results', 0)
  local state = redis.call('HGET', P .. 'meta', 'state')
  if state and state ~= 'running' then return {}, -3 end  -- finished: nothing more to fetch
  if maxr > 0 and redis.call('XLEN', P .. 'res') >= maxr then return {}, -2 end
  local out, left = {}, limit
  local due = redis.call('ZRANGEBYSCORE', P .. 'ready', '-inf', now, 'LIMIT', 0, limit)
  -- the claim spread over the hosts due (as one process's dispatcher takes them in turn): a
  -- worker's requests on a host then stay level, not a claim's worth at once and then none
  local spread = math.ceil(limit / math.max(1, #due))
  for _, host in ipairs(due) do
    if left <= 0 then break end
    local h = P .. 'h:' .. host
    local inflight = num(redis.call('HGET', h, 'inflight'))
    local hgap = math.max(tonumber(redis.call('HGET', h, 'gap') or gap),
                         num(redis.call('HGET', P .. 'floor', host)))  -- (robots.txt)
    local take = math.min(maxc - inflight, left, spread)
    if refill then take = math.min(take, share - num(redis.call('HGET', h, mine))) end
    if hgap > 0 then take = math.min(take, 1) end
    local els = take > 0 and redis.call('LPOP', P .. 'q:' .. host, take)
    if els then
      for _, el in ipairs(els) do
        local tok = redis.call('INCR', P .. 'seq') .. '/' .. worker  -- (whose: RELEASE)
        redis.call('ZADD', P .. 'lease', now + lease, tok)
        redis.call('HSET', P .. 'ld', tok, host .. '\30' .. el)
        out[#out + 1] = tok
        out[#out + 1] = host
        out[#out + 1] = el
        out[#out + 1] = redis.call('HGET', P .. 'att', string.sub(el, 1, 8)) or '0'
      end
      left = left - #els
      redis.call('HSET', h, 'inflight', inflight + #els)
      redis.call('HINCRBY', h, mine, #els)
      if hgap > 0 then redis.call('HSET', h, 'until', now + hgap) end
      redis.call('HINCRBY', P .. 'stats', 'queued', -#els)
    end
    ready_host(host, now, maxc)
  end
  local wait = -1
  local first = redis.call('ZRANGE', P .. 'ready', 0, 0, 'WITHSCORES')
  if #first > 0 then
    wait = math.max(0, tonumber(first[2]) - now)
  elseif num(redis.call('HGET', P .. 'stats', 'queued')) > 0 then
    -- every host with queued URLs is at its cap: a commit wakes us, or a lease expiring
    local soonest = redis.call('ZRANGE', P .. 'lease', 0, 0, 'WITHSCORES')
    wait = 1000
    if #soonest > 0 then wait = math.max(0, tonumber(soonest[2]) - now) end
  end
  -- nothing due now: the wake-ups waiting in the list told of what this claim has seen (a
  -- worker blocked then would have taken them): left there, each would wake a worker
  -- for an empty claim (an add leaves 64)
  if wait ~= 0 then redis.call('DEL', P .. 'wake') end
  return out, wait
end
local function wake_left(became, all)
  local n = 0
  for host in pairs(became) do
    if redis.call('ZSCORE', P .. 'ready', host) then n = n + 1 end
  end
  if all and n > 0 then n = 64 end  -- (one a host would leave the others asleep)
  wake(n)
end
"""

# A commit's ARGV start: epoch, worker, the claim's limit, n, then n tokens whose requests
# are over (their slots freed now, their records to come); ``free_fetched`` returns where its
# records start. ``claim_after`` then makes each host the commit touched ready once, claims
# for the committing worker, wakes the others for what is left, and returns the claim's
# reply. First ``fenced(width)``: for a worker of another epoch, or of a job gone, how many
# records (``width`` arguments each) are stale, and the claim's reply; nil when it may go on.
COMMITTING = r"""
local function fenced(width)
  local f = fence(ARGV[1])
  if f == 0 then return nil end
  return (#ARGV - 4 - tonumber(ARGV[4])) / width, {{}, FENCED[f], 0}
end
local function free_fetched(touched)
  local n = tonumber(ARGV[4])
  for i = 5, 4 + n do
    local host = free_slot(ARGV[i])
    if host then touched[host] = true end
  end
  return 5 + n
end
local function claim_after(touched, everyone, now, maxc)
  local became = {}
  for host in pairs(touched) do
    if ready_host(host, now, maxc) == 1 then became[host] = true end
  end
  local out, wait, limit = {}, -1, tonumber(ARGV[3])
  if limit > 0 then out, wait = claim(limit, ARGV[2], now, true) end
  wake_left(became, everyone)
  return {out, wait, meta_num('max_pages', 0) > 0 and 1 or 0}
end
"""
