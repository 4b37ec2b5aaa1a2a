"""``corral status``: a distributed job's progress, per worker and per host, with an ETA."""

from __future__ import annotations

from typing import TYPE_CHECKING, TextIO

from corral.http._errors import ScaleError
from corral.http.report._human import human_duration
from corral.http.scale._address import masked

if TYPE_CHECKING:
    from corral.http.scale._queue import JobStatus


async def show_status(url: str, job: str, out: TextIO) -> int:
    """Print the job's progress to ``out``; return the exit code (0).

    Raises:
        ScaleError: Redis cannot be reached, or it has no job of that name.
    """
    from corral.http.scale import _queue

    try:
        queue = await _queue.JobQueue.connect(url, job)
    except ScaleError:
        raise
    except Exception as exc:
        raise ScaleError(f"cannot reach Redis at {masked(url)}: {exc}") from None
    try:
        if await queue.settings() is None:
            raise ScaleError(f"no job {job!r} on {masked(url)} (finished jobs are removed)")
        status = await queue.status()
    finally:
        await queue.close()
    out.write("\n".join(render(job, status)) + "\n")
    return 0


def render(job: str, status: JobStatus) -> list[str]:
    """Return the lines ``corral status`` prints for ``status``."""
    total = status.queued + status.leased + status.done
    lines = [
        (
            f"job {job}: {status.state}; {status.done:,} of {total:,} URLs done, "
            f"{status.leased:,} in flight, {status.queued:,} queued, "
            f"{status.undrained:,} records waiting for the coordinator"
        )
    ]
    rate = status.rate
    if rate:
        eta = (status.queued + status.leased) / rate
        lines.append(f"rate {rate:,.1f} URLs/s over the last minute; ETA {human_duration(eta)}")
    n = len(status.workers)
    lines.append(f"{n} worker{'' if n == 1 else 's'}:")
    for worker in status.workers:
        figures = ", ".join(f"{k} {v:,}" for k, v in sorted(worker.figures.items()))
        lines.append(f"  {worker.name}: seen {worker.seen_ago:.0f} s ago; {figures}")
    if status.hosts:
        lines.append("hosts (most queued first):")
        for host in status.hosts:
            due = "" if host.due_in is None else f", next in {host.due_in:.1f} s"
            lines.append(f"  {host.host}: {host.queued:,} queued, {host.in_flight} in flight{due}")
    return lines
