"""What a claim and a commit in Redis answer (``JobQueue.claim_tasks``, ``commit_and_claim``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from corral.http.scale._queue import Task


@dataclass(frozen=True, slots=True)
class Claimed:
    """What a claim leased, and the job's state as it saw it."""

    tasks: list[Task]
    wait: float | None  # as ``JobQueue.claim``'s
    budget: bool = False  # the job has a --max-pages budget (a crawl takes from it)


@dataclass(frozen=True, slots=True)
class Committed:
    """What a commit did, and what its claim leased (``JobQueue.commit_and_claim``)."""

    ok: int
    stale: int
    claimed: Claimed
