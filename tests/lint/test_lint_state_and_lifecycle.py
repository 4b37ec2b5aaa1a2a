"""COR107 races, COR108 retry reuse, COR110 loop misuse, COR111 executors, COR112 queues."""

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

LOOP_BAD = [
    pytest.param(
        """
        import asyncio
        loop = asyncio.get_event_loop()  # !
        """,
        id="get-event-loop-at-import",
    ),
    pytest.param(
        """
        import asyncio, threading
        def worker():
            loop = asyncio.get_event_loop()  # !
            loop.run_forever()
        threading.Thread(target=worker).start()
        """,
        id="get-event-loop-in-thread-target",
    ),
    pytest.param(
        """
        import asyncio
        def run(coro):
            loop = asyncio.new_event_loop()  # !
            return loop.run_until_complete(coro)
        """,
        id="new-loop-never-closed",
    ),
    pytest.param(
        """
        import asyncio
        def run(coro):
            loop = asyncio.new_event_loop()
            loop.create_task(heartbeat())
            result = loop.run_until_complete(coro)
            loop.close()  # !
            return result
        """,
        id="closed-with-tasks-pending",
    ),
]

LOOP_GOOD = [
    pytest.param(
        """
        import asyncio
        async def main():
            loop = asyncio.get_event_loop()
        def run(coro):
            loop = asyncio.new_event_loop()
            try:
                return loop.run_until_complete(coro)
            finally:
                loop.close()
        def make():
            loop = asyncio.new_event_loop()
            return loop
        def start(self):
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=serve, args=(loop,))
            self.loop, self.thread = loop, thread
        """,
        id="in-coroutine-closed-or-returned",
    ),
    pytest.param(
        """
        import asyncio
        def run(coro):
            loop = asyncio.new_event_loop()
            task = loop.create_task(heartbeat())
            result = loop.run_until_complete(coro)
            task.cancel()
            loop.run_until_complete(asyncio.gather(task, return_exceptions=True))
            loop.close()
            return result
        """,
        id="tasks-settled-before-close",
    ),
]

EXECUTOR_BAD = [
    pytest.param(
        """
        from concurrent.futures import ThreadPoolExecutor
        async def handler(data):
            with ThreadPoolExecutor() as pool:  # !
                return pool.submit(parse, data).result()
        """,
        id="with-block",
    ),
    pytest.param(
        """
        import asyncio, concurrent.futures
        async def handler(data):
            pool = concurrent.futures.ProcessPoolExecutor()  # !
            return await asyncio.get_running_loop().run_in_executor(pool, parse, data)
        """,
        id="process-pool",
    ),
]

EXECUTOR_GOOD = [
    pytest.param(
        """
        from concurrent.futures import ThreadPoolExecutor
        POOL = ThreadPoolExecutor()
        class Service:
            async def start(self):
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(4)
        def sync_job():
            with ThreadPoolExecutor() as pool:
                pool.map(print, [1])
        """,
        id="shared-lazy-or-sync",
    ),
]

QUEUE_BAD = [
    pytest.param(
        """
        import asyncio
        async def worker(queue: asyncio.Queue):
            while True:
                item = await queue.get()  # !
                print(item)
        async def main(items):
            q = asyncio.Queue()
            for item in items:
                q.put_nowait(item)
            await q.join()
        """,
        id="joined-never-done",
    ),
]

QUEUE_GOOD = [
    pytest.param(
        """
        import asyncio
        async def worker(queue: asyncio.Queue):
            while True:
                item = await queue.get()
                try:
                    print(item)
                finally:
                    queue.task_done()
        async def main():
            q = asyncio.Queue()
            await q.join()
        """,
        id="task-done-in-finally",
    ),
    pytest.param(
        """
        import asyncio
        async def worker(queue: asyncio.Queue):
            item = await queue.get()
        """,
        id="never-joined",
    ),
]

CASES = [
    *(pytest.param("COR107", *p.values, id=f"race-{p.id}") for p in RACE_BAD),
    *(pytest.param("COR108", *p.values, id=f"retry-{p.id}") for p in RETRY_BAD),
    *(pytest.param("COR110", *p.values, id=f"loop-{p.id}") for p in LOOP_BAD),
    *(pytest.param("COR111", *p.values, id=f"executor-{p.id}") for p in EXECUTOR_BAD),
    *(pytest.param("COR112", *p.values, id=f"queue-{p.id}") for p in QUEUE_BAD),
]
SILENT = [
    *(pytest.param("COR107", *p.values, id=f"race-{p.id}") for p in RACE_GOOD),
    *(pytest.param("COR108", *p.values, id=f"retry-{p.id}") for p in RETRY_GOOD),
    *(pytest.param("COR110", *p.values, id=f"loop-{p.id}") for p in LOOP_GOOD),
    *(pytest.param("COR111", *p.values, id=f"executor-{p.id}") for p in EXECUTOR_GOOD),
    *(pytest.param("COR112", *p.values, id=f"queue-{p.id}") for p in QUEUE_GOOD),
]


@pytest.mark.parametrize(("code", "source"), CASES)
async def test_pitfalls_are_flagged_on_their_line(code: str, source: str) -> None:
    """Each bad snippet is reported under its code on exactly the marked lines."""
    assert flagged(source, code) == marked(source)


@pytest.mark.parametrize(("code", "source"), SILENT)
async def test_look_alikes_stay_silent(code: str, source: str) -> None:
    """Locked, awaited-first, restored, fresh-per-attempt, closed and shared code passes."""
    assert flagged(source, code) == []


async def test_messages_give_the_fix() -> None:
    """Race, retry and executor messages name the lock, corral.retry and corral.to_thread."""
    (race,) = messages(RACE_BAD[2].values[0], "COR107")  # type: ignore[arg-type]
    assert "asyncio.Lock" in race
    assert "read at line 4" in race
    (retry,) = messages(RETRY_BAD[0].values[0], "COR108")  # type: ignore[arg-type]
    assert "corral.retry(fn)" in retry
    (pool,) = messages(EXECUTOR_BAD[0].values[0], "COR111")  # type: ignore[arg-type]
    assert "corral.to_thread" in pool
    assert "leaving `with` waits" in pool
