"""The Lua scripts of a crawl's frontier on the job's queue in Redis (``_crawlqueue``).

A crawl over Redis keeps its frontier and its seen set in the job's keys (``_scripts``): the
frontier is the queue's host lists (``q:<host>``), and the seen set is the queue's known-key
buckets (``k:<xxxx>``), which a crawl never forgets (``meta`` ``seen`` = 1: ``ACKNOWLEDGE``
keeps them). Keys added for a crawl::

    pages       STRING pages sent to fetch so far (``--max-pages``: the budget)
    marked      STRING set once the store's recorded URLs are in the seen set (a job that
                       starts afresh on a store an earlier run filled, or a Redis that lost
                       its data, marks them again)

A URL a worker found gets a row id made from its fingerprint (``_crawlqueue.link_id``), not
from a counter: the same URL gets the same id whatever Redis forgot (a restart that lost its
last writes), so the coordinator's store never takes one id for two URLs.

A worker commits a page with the links it found (already judged by the crawl's rules):
one script marks the page done, hands on its record, checks each link against the seen set
and queues the new ones on their hosts' lists, so links never pass through the coordinator
to be deduplicated, and a page is never recorded without its links or the reverse.
"""

from __future__ import annotations

from corral.http.scale._claimscript import CLAIMING, COMMITTING
from corral.http.scale._scripts import _PRELUDE

# ARGV: epoch, worker, claim limit, n, n tokens to free (``_claimscript.COMMITTING``), then
# per page: token, data, has_body, body, the links' request JSON (depth, referring page),
# the links' fingerprints (8 bytes each), then the links as id \x1f host \x1f url \x1f
# skip ('' = follow) joined by \x1e (two arguments a page, not five a link: redis-py packs
# each argument in Python). A new followed link goes to its host's list; a new skipped one
# does not (its record is the coordinator's to write).  With --max-pages spent, new
# followed links are skipped for max_pages.  The record's entry says, field ``new``,
# the links new to the crawl: id \x1f host \x1f url \x1f skip, joined by \x1e.
# Returns {ok, stale, queued, claim's {out, wait, budget}}; fenced as ``_scripts.COMMIT``.
COMMIT = (
    _PRELUDE
    + CLAIMING
    + COMMITTING
    + r"""
local fenced_stale, fenced_claim = fenced(7)
if fenced_stale then return {0, fenced_stale, 0, fenced_claim} end
local now, maxc, worker = now_ms(), meta_num('per_host', 8), ARGV[2]
local budget = meta_num('max_pages', 0)
local spent = budget > 0 and num(redis.call('GET', P .. 'pages')) >= budget
local ok, stale, queued, touched = 0, 0, 0, {}
for i = free_fetched(touched), #ARGV, 7 do
  local host, el = end_lease(ARGV[i])
  if not host then
    stale = stale + 1  -- fenced: the lease was reaped; another worker has the page
  else
    local req, fps, links, new, at = ARGV[i + 4], ARGV[i + 5], ARGV[i + 6], {}, 1
    for k = 1, #fps, 8 do
      local stop = string.find(links, '\30', at, true) or #links + 1
      local bucket, field = known_key(string.sub(fps, k, k + 7))
      if redis.call('HSETNX', bucket, field, '1') == 1 then
        local link = string.sub(links, at, stop - 1)  -- id \31 host \31 url \31 skip
        local a = string.find(link, '\31', 1, true)
        local b = string.find(link, '\31', a + 1, true)
        local c = string.find(link, '\31', b + 1, true)
        local lhost, skip = string.sub(link, a + 1, b - 1), string.sub(link, c + 1)
        if skip == '' and spent then
          skip = 'max_pages'
          link = string.sub(link, 1, c) .. skip
        end
        if skip == '' then
          local fp, id = string.sub(fps, k, k + 7), string.sub(link, 1, a - 1)
          local url = string.sub(link, b + 1, c - 1)
          redis.call('RPUSH', P .. 'q:' .. lhost, fp .. id .. '\31' .. url .. '\31' .. req)
          queued = queued + 1
          touched[lhost] = true
        end
        new[#new + 1] = link
      end
      at = stop + 1
    end
    local fp = string.sub(el, 1, 8)
    local ident = string.sub(el, 9, string.find(el, '\31', 9, true) - 1)
    local entry = {'ident', ident, 'fp', fp, 'worker', worker, 'data', ARGV[i + 1]}
    if ARGV[i + 2] == '1' then
      entry[#entry + 1] = 'body'
      entry[#entry + 1] = ARGV[i + 3]
    end
    if #new > 0 then
      entry[#entry + 1] = 'new'
      entry[#entry + 1] = table.concat(new, '\30')
    end
    redis.call('XADD', P .. 'res', '*', unpack(entry))
    redis.call('HDEL', P .. 'att', fp)
    ok = ok + 1
    touched[host] = true
  end
end
if ok > 0 then redis.call('HINCRBY', P .. 'stats', 'done', ok) end
if queued > 0 then redis.call('HINCRBY', P .. 'stats', 'queued', queued) end
-- new URLs: every waiting worker looks (for the hosts this worker's claim left ready)
return {ok, stale, queued, claim_after(touched, queued > 0, now, maxc)}
"""
)

# ARGV: epoch, n.  Take up to n pages of the --max-pages budget; returns how many were
# granted; fenced, none (-4: the job was started afresh, its budget is the new job's).
TAKE = (
    _PRELUDE
    + r"""
local f = fence(ARGV[1])
if f == 2 then return -4 end
if f == 1 then return 0 end
local budget = meta_num('max_pages', 0)
local n = tonumber(ARGV[2])
if budget <= 0 then return n end
local left = budget - num(redis.call('GET', P .. 'pages'))
local granted = math.max(0, math.min(n, left))
if granted > 0 then redis.call('INCRBY', P .. 'pages', granted) end
return granted
"""
)

# ARGV: name, n.  Raise the counter ``name`` (pages) to at least n.
AT_LEAST = (
    _PRELUDE
    + r"""
local key = P .. ARGV[1]
if num(redis.call('GET', key)) < tonumber(ARGV[2]) then redis.call('SET', key, ARGV[2]) end
return tonumber(redis.call('GET', key))
"""
)

# No ARGV.  Returns {hosts with queued URLs, leases, records in the stream, queued URLs}:
# with no host queued and no lease, no record can come but those in the stream already.
FIGURES = (
    _PRELUDE
    + r"""
return {redis.call('ZCARD', P .. 'hosts'), redis.call('ZCARD', P .. 'lease'),
        redis.call('XLEN', P .. 'res'), num(redis.call('HGET', P .. 'stats', 'queued'))}
"""
)

# ARGV: fingerprints.  Mark them seen (the URLs the coordinator's store has recorded).
SEE = (
    _PRELUDE
    + r"""
for i = 1, #ARGV do
  local bucket, field = known_key(ARGV[i])
  redis.call('HSETNX', bucket, field, '1')
end
return #ARGV
"""
)
