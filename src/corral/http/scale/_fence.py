"""The fence of a job started afresh, in Lua: a prelude of the job's scripts (``_scripts``,
``_sharedjars``).

A job belongs to one store; started afresh (``--overwrite``, another store: ``_binding``),
it gets a new ``epoch`` in its settings. A worker that joined the old job sends the epoch it
joined in with each of its steps, and each step's script compares it with the job's in the
same atomic step: a worker of the old job then claims, commits and writes nothing of the new
one (it learns so at once, not at its next heartbeat, and joins again). A job whose settings
are gone (being deleted: they go first; or Redis lost them) takes nothing either, so a
script of an old worker never recreates a key of a job while it is deleted. Callers that are
no worker (the coordinator) send ``*``: unfenced.
"""

from __future__ import annotations

# The job's prefix, from ``KEYS[1]``, its ``meta`` key.
PREFIX = "local P = string.sub(KEYS[1], 1, -5)\n"

# After ``PREFIX``.
FENCE = r"""
-- The fence of a job started afresh: `e`, the epoch its caller joined the job in ('*': no
-- worker, unfenced), against the job's now. 0: the same; 1: the job is gone (no settings:
-- being deleted, or Redis lost them); 2: another epoch (the job was started afresh).
local function fence(e)
  if e == '*' then return 0 end
  local now_e = redis.call('HGET', P .. 'meta', 'epoch')
  if now_e == e then return 0 end
  if now_e then return 2 end
  if redis.call('EXISTS', P .. 'meta') == 0 then return 1 end
  if e == '' then return 0 end  -- (a job an older corral started has no epoch)
  return 2
end
"""
