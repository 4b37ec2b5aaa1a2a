"""The cookies of a Redis job (``--cookies``): each host's jar in Redis, for every worker.

Any worker may fetch any host, so a host's jar cannot live in one process as it does with
``--workers N``. Keys, under the job's prefix (one hash tag; ``JobQueue.delete`` takes them
with the job's other keys)::

    ck    HASH    host key -> its jar (JSON: the host's cookies as a jar file holds them)
    ckv   HASH    host key -> the jar's version (each write adds one)
    ckn   STRING  writes so far, to any host (the coordinator reads the jars when it moved)

- The coordinator writes the jars it loaded from the file (``seed``: only hosts Redis has no
  jar of, so a resumed job keeps what its workers wrote since the last save; the shared jar
  of a browser's cookies.txt always, since no worker writes it), reads them all
  back every few seconds when they changed (``pull``) for its ``JarKeeper`` to save, and a
  last time at the end or on an interrupt, before the job's keys are deleted.
- A worker, after each claim, reads the jars of the claimed hosts whose version is not the
  one it has (``refresh``: one step, nothing read when nothing changed); after responses set
  cookies, it writes those hosts' jars back before it commits their records (``write``).

Consistency: per host, the last write wins. A worker writes its whole copy of the host's jar,
so two workers whose responses from one host set cookies at the same moment each write theirs,
and the later one's stays (the other's new cookie is lost unless the site sets it again). A
request sends the cookies its worker had when it claimed the URL: a cookie set by another
worker's response reaches it only after that worker committed the response and this one
claimed again. Requests to one host in flight at once do not wait for each other's cookies
(as in one process, where they go out before the responses come).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from corral.http.engine._cookies import SHARED, Dumped, HostJars
from corral.http.scale._fence import FENCE, PREFIX

if TYPE_CHECKING:
    from corral.http.scale._queue import JobQueue

# KEYS[1]: the job's meta key (it routes the call: the others share its hash tag).
_PRELUDE = PREFIX

# ARGV: host, version known... -> host, version, jar for each host whose version differs.
_READ = (
    _PRELUDE
    + r"""
local out = {}
for i = 1, #ARGV, 2 do
  local v = redis.call('HGET', P .. 'ckv', ARGV[i])
  if v and v ~= ARGV[i + 1] then
    local jar = redis.call('HGET', P .. 'ck', ARGV[i]) or '{}'
    table.insert(out, ARGV[i]); table.insert(out, v); table.insert(out, jar)
  end
end
return out
"""
)

# ARGV: epoch (a worker's: ``_scripts.FENCE``), seed (1: only hosts without a jar, 0:
# overwrite), host, jar... -> each host's version after the call (0: not written, seeded
# before); fenced, nothing written: -4 (the job was started afresh), -1 (the job is gone).
_WRITE = (
    _PRELUDE
    + FENCE
    + r"""
local f = fence(ARGV[1])
if f > 0 then return f == 2 and -4 or -1 end
local versions = {}
for i = 3, #ARGV, 2 do
  if ARGV[2] == '1' and redis.call('HEXISTS', P .. 'ck', ARGV[i]) == 1 then
    table.insert(versions, 0)
  else
    redis.call('HSET', P .. 'ck', ARGV[i], ARGV[i + 1])
    redis.call('INCR', P .. 'ckn')
    table.insert(versions, redis.call('HINCRBY', P .. 'ckv', ARGV[i], 1))
  end
end
return versions
"""
)


class SharedJars:
    """A job's jars in Redis, and what this process last read or wrote of them."""

    def __init__(self, queue: JobQueue) -> None:
        client: Any = queue._client
        self._queue, self._client, self._prefix = queue, client, queue.prefix
        self._keys = [queue.prefix + "meta"]
        self._read = client.register_script(_READ)
        self._write = client.register_script(_WRITE)
        self._versions: dict[str, int] = {}  # host -> version of the jar this process has
        self._writes = -1  # ``ckn`` when the coordinator last read every jar

    async def seed(self, jars: HostJars) -> int:
        """Write ``jars`` for the hosts Redis has no jar of (the shared jar of a browser's
        cookies.txt whatever Redis has: no worker writes it, the file is its source); return
        how many were written."""
        hosts = jars.export()
        shared = {SHARED: hosts.pop(SHARED)} if SHARED in hosts else {}
        written = 0
        for only_new, some in (("1", hosts), ("0", shared)):
            if some:
                args = [self._queue.fence, only_new, *_pairs(some)]
                versions = await self._write(keys=self._keys, args=args)
                written += sum(1 for version in versions if version)
        return written

    async def write(self, hosts: dict[str, Dumped]) -> None:
        """Write these hosts' jars over Redis's (a worker's, changed by responses); not into
        a job started afresh since the worker joined it, nor one gone (``JobQueue.epoch``)."""
        if hosts:
            args = [self._queue.fence, "0", *_pairs(hosts)]
            versions = await self._write(keys=self._keys, args=args)
            if versions == -4:
                self._queue.on_replaced()
            if isinstance(versions, list):
                self._versions.update(zip(hosts, map(int, versions), strict=True))

    async def refresh(self, jars: HostJars, hosts: Iterable[str]) -> None:
        """Replace the jars of ``hosts`` in ``jars`` by Redis's where they changed since this
        process last read or wrote them (a jar changed here and not yet written is kept); the
        shared jar (``"*"``: a browser's cookies.txt, sent wherever its domains match) too."""
        args: list[object] = []
        for host in {*hosts, SHARED}:
            args += (host, self._versions.get(host, 0))
        if not args:
            return
        flat = await self._read(keys=self._keys, args=args)
        found = {}
        for i in range(0, len(flat), 3):
            host = flat[i].decode()
            self._versions[host] = int(flat[i + 1])
            found[host] = json.loads(flat[i + 2])
        jars.replace(found, unless_changed=True)

    async def pull(self, jars: HostJars) -> bool:
        """Replace the jars in ``jars`` that were written since the last pull by Redis's (the
        versions say which: a busy site's cookie does not make every host's jar read again);
        return whether any was."""
        writes = int(await self._client.get(self._prefix + "ckn") or 0)
        if writes == self._writes:
            return False
        stored = await self._client.hgetall(self._prefix + "ckv")
        known = self._versions
        moved = {host.decode(): int(v) for host, v in stored.items()}
        moved = {host: v for host, v in moved.items() if known.get(host) != v}
        if moved:
            texts = await self._client.hmget(self._prefix + "ck", list(moved))
            found = {
                host: json.loads(text or "{}") for host, text in zip(moved, texts, strict=True)
            }
            jars.replace(found)
            known.update(moved)
        self._writes = writes
        return bool(moved)


def _pairs(hosts: dict[str, Dumped]) -> list[str]:
    return [part for host, jar in hosts.items() for part in (host, json.dumps(jar))]
