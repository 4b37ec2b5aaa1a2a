"""COR107 (races across await) and COR108 (retries reusing a coroutine)."""

from __future__ import annotations

import pytest

from .helpers import flagged, marked, messages

RACE_BAD = [
    pytest.param(
        """
        class Counter:
            async def add(self):
                self.total += await fetch()  # !
        """,
        id="augmented-await",
    ),
    pytest.param(
        """
        class Counter:
            async def add(self):
                self.total = self.total + await fetch()  # !
        """,
        id="read-in-expression-before-await",
    ),
    pytest.param(
        """
        class Counter:
            async def add(self):
                count = self.count
                await save(count)
                self.count = count + 1  # !
        """,
        id="stale-local",
    ),
    pytest.param(
        """
        hits = 0
        async def record():
            global hits
            seen = hits
            await flush()
            hits = seen + 1  # !
        """,
        id="global",
    ),
    pytest.param(
        """
        class Basket:
            async def add(self, item):
                items = self.items.copy()
                await check(item)
                self.items = [*items, item]  # !
        """,
        id="method-of-the-value",
    ),
    pytest.param(
        """
        CACHE = {}
        async def bump(key):
            CACHE[key] += await compute(key)  # !
        """,
        id="module-container-item",
    ),
]

RACE_GOOD = [
    pytest.param(
        """
        class Counter:
            async def add(self):
                async with self._lock:
                    count = self.count
                    await save(count)
                    self.count = count + 1
        """,
        id="lock-held",
    ),
    pytest.param(
        """
        class Counter:
            async def add(self):
                value = await fetch()
                self.total += value
        """,
        id="await-first-then-update",
    ),
    pytest.param(
        """
        class Machine:
            async def run(self):
                previous = self.state
                self.state = "busy"
                await work()
                self.state = previous
        """,
        id="save-and-restore",
    ),
    pytest.param(
        """
        async def add(total):
            total += await fetch()
            return total
        """,
        id="local-variable",
    ),
    pytest.param(
        """
        import asyncio
        class Shard:
            async def reconnect(self):
                coro = connect(session=self.ws.session_id, sequence=self.ws.sequence)
                self.ws = await asyncio.wait_for(coro, timeout=60.0)
        """,
        id="new-object-built-from-properties-of-the-old",
    ),
]

RETRY_BAD = [
    pytest.param(
        """
        async def retry(coro, attempts=3):
            for _ in range(attempts):
                try:
                    return await coro  # !
                except OSError:
                    pass
        """,
        id="helper-taking-a-coroutine",
    ),
    pytest.param(
        """
        async def fetch(url): ...
        async def main(url):
            pending = fetch(url)
            while True:
                try:
                    return await pending  # !
                except TimeoutError:
                    continue
        """,
        id="coroutine-made-before-the-loop",
    ),
    pytest.param(
        """
        from collections.abc import Awaitable
        async def retry(op: Awaitable[int]) -> int:
            for _ in range(3):
                try:
                    return await op  # !
                except OSError:
                    pass
            raise RuntimeError
        """,
        id="annotated-awaitable",
    ),
    pytest.param(
        """
        import corral
        @corral.timed
        async def flaky(): ...
        async def main():
            await corral.retry(flaky())  # !
        def sync_main():
            return corral.run_sync(flaky())  # !
        """,
        id="coroutine-object-given-to-corral",
    ),
]

RETRY_GOOD = [
    pytest.param(
        """
        async def retry(fn, attempts=3):
            for _ in range(attempts):
                try:
                    return await fn()
                except OSError:
                    pass
        """,
        id="callable",
    ),
    pytest.param(
        """
        import asyncio
        async def main(url):
            task = asyncio.create_task(fetch(url))
            while True:
                try:
                    return await task
                except TimeoutError:
                    continue
        """,
        id="task-may-be-awaited-again",
    ),
    pytest.param(
        """
        async def fetch(url): ...
        async def main(url):
            for _ in range(3):
                coro = fetch(url)
                try:
                    return await coro
                except OSError:
                    pass
        """,
        id="new-coroutine-each-attempt",
    ),
    pytest.param(
        """
        import corral
        async def flaky(x): ...
        async def main():
            await corral.retry(flaky, 1, attempts=3)
            corral.run_sync(flaky, 2)
        """,
        id="function-given-to-corral",
    ),
]

CASES = [
    *(pytest.param("COR107", *p.values, id=f"race-{p.id}") for p in RACE_BAD),
    *(pytest.param("COR108", *p.values, id=f"retry-{p.id}") for p in RETRY_BAD),
]
SILENT = [
    *(pytest.param("COR107", *p.values, id=f"race-{p.id}") for p in RACE_GOOD),
    *(pytest.param("COR108", *p.values, id=f"retry-{p.id}") for p in RETRY_GOOD),
]


@pytest.mark.parametrize(("code", "source"), CASES)
def test_races_and_reused_coroutines_are_flagged(code: str, source: str) -> None:
    """Each bad snippet is reported under its code on exactly the marked lines."""
    assert flagged(source, code) == marked(source)


@pytest.mark.parametrize(("code", "source"), SILENT)
def test_locked_awaited_first_and_fresh_coroutines_stay_silent(code: str, source: str) -> None:
    """Locked, awaited-first, restored and fresh-per-attempt code passes."""
    assert flagged(source, code) == []


def test_messages_give_the_lock_and_corral_retry() -> None:
    """Race and retry messages name the lock and corral.retry."""
    (race,) = messages(RACE_BAD[2].values[0], "COR107")  # type: ignore[arg-type]
    assert "asyncio.Lock" in race
    assert "read at line 4" in race
    (retry,) = messages(RETRY_BAD[0].values[0], "COR108")  # type: ignore[arg-type]
    assert "corral.retry(fn)" in retry
