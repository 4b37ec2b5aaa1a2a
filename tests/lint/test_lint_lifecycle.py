"""COR110 (loop misuse), COR111 (executors per call) and COR112 (queues never done)."""

from __future__ import annotations

import pytest

from .helpers import flagged, marked, messages

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
    *(pytest.param("COR110", *p.values, id=f"loop-{p.id}") for p in LOOP_BAD),
    *(pytest.param("COR111", *p.values, id=f"executor-{p.id}") for p in EXECUTOR_BAD),
    *(pytest.param("COR112", *p.values, id=f"queue-{p.id}") for p in QUEUE_BAD),
]
SILENT = [
    *(pytest.param("COR110", *p.values, id=f"loop-{p.id}") for p in LOOP_GOOD),
    *(pytest.param("COR111", *p.values, id=f"executor-{p.id}") for p in EXECUTOR_GOOD),
    *(pytest.param("COR112", *p.values, id=f"queue-{p.id}") for p in QUEUE_GOOD),
]


@pytest.mark.parametrize(("code", "source"), CASES)
def test_lifecycle_pitfalls_are_flagged(code: str, source: str) -> None:
    """Each bad snippet is reported under its code on exactly the marked lines."""
    assert flagged(source, code) == marked(source)


@pytest.mark.parametrize(("code", "source"), SILENT)
def test_closed_shared_and_done_code_stays_silent(code: str, source: str) -> None:
    """Closed or handed-on loops, settled tasks, shared pools and done queues pass."""
    assert flagged(source, code) == []


def test_executor_message_gives_the_fix() -> None:
    """The executor message says why ``with`` hurts and names corral.to_thread."""
    (pool,) = messages(EXECUTOR_BAD[0].values[0], "COR111")  # type: ignore[arg-type]
    assert "corral.to_thread" in pool
    assert "leaving `with` waits" in pool
