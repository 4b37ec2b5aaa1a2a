"""Run a private redis-server on 127.0.0.1 for the scale-out benchmarks.

A small copy of ``tests/http/redis_server.py`` without pytest: no persistence (``--save ""
--appendonly no``), a free port, its own directory under ``bench/.work/``, pinned to the
server core beside nginx (core 0), so the client core holds only corral's processes. Ready is
the server's own "Ready to accept connections" line, then a PING. Its CPU time is read from
``/proc/<pid>/stat``, as bench/_nginx.py reads nginx's.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from _nginx import SERVER_CORE, free_port

_READY = "Ready to accept connections"
_START_TIMEOUT = 20.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Redis:
    """A running private redis-server."""

    port: int
    pid: int
    version: str

    @property
    def url(self) -> str:
        """Return the server's URL (database 0)."""
        return f"redis://127.0.0.1:{self.port}/0"

    def command(self, *words: str) -> bytes:
        """Send one inline command and return the first line of the reply."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as connection:
            connection.sendall(" ".join(words).encode() + b"\r\n")
            return connection.makefile("rb").readline().rstrip()

    def flush(self) -> None:
        """Drop every key, so each run starts from an empty Redis."""
        answer = self.command("FLUSHALL")
        if answer != b"+OK":
            raise RuntimeError(f"redis FLUSHALL answered {answer!r}")

    def has_job(self, job: str) -> bool:
        """Say whether a coordinator has created ``job`` (its ``meta`` hash exists)."""
        return self.command("EXISTS", f"corral:{{{job}}}:meta") == b":1"

    def cpu_seconds(self) -> float:
        """Return the CPU seconds (user + sys) redis-server has used so far."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def job_created(server: Redis, job: str) -> None:
    """Return once the coordinator has created ``job``, read every 20 ms.

    The workers start after this: a worker started before its job waits on the ``wake``
    list, and the job's first URLs wake one waiting worker per host that became ready; the
    others look again after 10 s (``MAX_BLOCK``). With one host, a 7 s job ran on fewer
    workers and one found it finished and exited 2 (docs/benchmarks.md, "Scale-out").
    """
    # Redis has no event for a key appearing (keyspace notifications are off by default).
    while not await asyncio.to_thread(server.has_job, job):  # noqa: ASYNC110
        await asyncio.sleep(0.02)


def binary() -> str:
    """Return the path of redis-server, or stop with what to install."""
    found = shutil.which("redis-server") or (
        "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None
    )
    if found is None:
        raise SystemExit("bench: redis-server is missing: apt-get install redis-server")
    return found


@contextlib.contextmanager
def running_redis(work: Path) -> Iterator[Redis]:
    """Run redis-server pinned to the server core until the block ends."""
    work.mkdir(parents=True, exist_ok=True)
    port = free_port()
    argv = ["taskset", "-c", str(SERVER_CORE), binary(), "--port", str(port)]
    argv += ["--bind", "127.0.0.1", "--dir", str(work), "--save", "", "--appendonly", "no"]
    argv += ["--logfile", "", "--daemonize", "no"]
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert process.stdout is not None
        log = list(_until_ready(process.stdout))
        if process.poll() is not None or not log or _READY not in log[-1]:
            raise RuntimeError(f"redis-server did not start: {''.join(log)[-500:]}")
        server = Redis(port=port, pid=process.pid, version=_version())
        if server.command("PING") != b"+PONG":
            raise RuntimeError("redis-server does not answer PING")
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=_START_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _until_ready(lines: Iterator[str]) -> Iterator[str]:
    # The rest of the log is not read: with --logfile "" and no traffic worth logging, the
    # pipe does not fill during a benchmark.
    for line in lines:
        yield line
        if _READY in line:
            return


def _version() -> str:
    done = subprocess.run([binary(), "--version"], capture_output=True, text=True, check=False)
    words = done.stdout.split()
    return next((w.removeprefix("v=") for w in words if w.startswith("v=")), done.stdout.strip())
