"""COR105 (unbounded concurrency), COR106 (gather loses results), COR109 (dropped tasks)."""

from __future__ import annotations

import pytest

from .helpers import flagged, marked, messages

UNBOUNDED_BAD = [
    pytest.param(
        """
        import asyncio
        async def main(urls):
            return await asyncio.gather(*[fetch(u) for u in urls])  # !
        """,
        id="gather-comprehension",
    ),
    pytest.param(
        """
        import asyncio
        async def main(session, urls):
            tasks = [fetch(session, url) for url in urls]
            return await asyncio.gather(*tasks)  # !
        """,
        id="gather-list-built-before",
    ),
    pytest.param(
        """
        import asyncio
        async def main(urls):
            tasks = []
            for url in urls:
                tasks.append(asyncio.create_task(fetch(url)))  # !
            await asyncio.wait(tasks)
        """,
        id="create-task-in-for-loop",
    ),
    pytest.param(
        """
        import asyncio
        async def main(urls):
            async with asyncio.TaskGroup() as tg:
                for url in urls:
                    tg.create_task(fetch(url))  # !
        """,
        id="task-group-per-item",
    ),
    pytest.param(
        """
        import aiohttp
        connector = aiohttp.TCPConnector(limit=0)  # !
        """,
        id="tcp-connector-limit-0",
    ),
]

UNBOUNDED_GOOD = [
    pytest.param(
        """
        import asyncio
        async def main(queue, n):
            await asyncio.gather(*[worker(queue) for _ in range(n)])
        """,
        id="fixed-number-of-workers",
    ),
    pytest.param(
        """
        import asyncio
        sem = asyncio.Semaphore(10)
        async def fetch(url):
            async with sem:
                ...
        async def main(urls):
            await asyncio.gather(*[fetch(u) for u in urls])
        """,
        id="semaphore-in-callee",
    ),
    pytest.param(
        """
        import asyncio
        async def main(urls, limiter):
            await asyncio.gather(*[fetch(u, limiter) for u in urls])
        """,
        id="limiter-passed-in",
    ),
    pytest.param(
        """
        import asyncio, aiohttp
        async def main(urls):
            connector = aiohttp.TCPConnector(limit=20)
            async with aiohttp.ClientSession(connector=connector) as s:
                await asyncio.gather(*[s.get(u) for u in urls])
        """,
        id="explicit-connection-limit",
    ),
    pytest.param(
        """
        import asyncio
        class Pool:
            async def close(self):
                await asyncio.gather(*(conn.close() for conn in self._conns))
                for ws in list(self._sockets):
                    asyncio.create_task(self._notify(ws))
        """,
        id="own-collections-and-methods-of-items",
    ),
    pytest.param(
        """
        import asyncio
        async def main(coros):
            await asyncio.gather(*[asyncio.wait_for(c, 5) for c in coros])
        """,
        id="wrapping-existing-coroutines",
    ),
    pytest.param(
        """
        import asyncio
        async def consume(stream):
            async for message in stream:
                asyncio.create_task(handle(message))
        """,
        id="async-for-stream",
    ),
]

GATHER_BAD = [
    pytest.param(
        """
        import asyncio, logging
        async def main(tasks):
            try:
                results = await asyncio.gather(*tasks)  # !
            except Exception:
                logging.exception("failed")
                results = []
            return results
        """,
        id="logs-and-carries-on",
    ),
    pytest.param(
        """
        import asyncio
        async def main():
            try:
                await asyncio.gather(*(work(i) for i in range(10)))  # !
            except ValueError as exc:
                print(exc)
        """,
        id="fixed-count-fan-out",
    ),
]

GATHER_GOOD = [
    pytest.param(
        """
        import asyncio
        async def main(tasks):
            try:
                return await asyncio.gather(*tasks, return_exceptions=True)
            except Exception:
                return []
        """,
        id="return-exceptions",
    ),
    pytest.param(
        """
        import asyncio
        async def main(tasks):
            try:
                return await asyncio.gather(*tasks)
            except Exception as exc:
                raise RuntimeError("batch failed") from exc
        """,
        id="re-raises",
    ),
    pytest.param(
        """
        import asyncio
        async def main(proc):
            try:
                out, err = await asyncio.gather(read(proc.stdout), read(proc.stderr))
            except Exception:
                return None
        """,
        id="fixed-set-of-awaitables",
    ),
    pytest.param(
        """
        import asyncio
        async def main(tasks):
            try:
                return await asyncio.gather(*tasks)
            except asyncio.CancelledError:
                cleanup()
        """,
        id="cancellation-only",
    ),
]

TASK_BAD = [
    pytest.param(
        """
        import asyncio
        async def main():
            asyncio.create_task(work())  # !
            asyncio.ensure_future(work())  # !
            asyncio.get_running_loop().create_task(work())  # !
        """,
        id="bare-statements",
    ),
    pytest.param(
        """
        import asyncio
        class Server:
            def start(self):
                self._loop.create_task(self.serve())  # !
        """,
        id="loop-on-self",
    ),
]

TASK_GOOD = [
    pytest.param(
        """
        import asyncio
        background = set()
        async def main(tg, nursery):
            task = asyncio.create_task(work())
            background.add(task)
            task.add_done_callback(background.discard)
            async with asyncio.TaskGroup() as group:
                group.create_task(work())
            tg.create_task(work())
            await asyncio.create_task(work())
        """,
        id="kept-awaited-or-in-a-group",
    ),
]


@pytest.mark.parametrize("source", UNBOUNDED_BAD)
def test_unbounded_fan_outs_are_flagged(source: str) -> None:
    """One coroutine or task per item with no bound in sight is reported."""
    assert flagged(source, "COR105") == marked(source)


@pytest.mark.parametrize("source", UNBOUNDED_GOOD)
def test_bounded_fan_outs_stay_silent(source: str) -> None:
    """Fixed worker counts, semaphores, limits and cleanup fan-outs are not reported."""
    assert flagged(source, "COR105") == []


@pytest.mark.parametrize("source", GATHER_BAD)
def test_gather_losing_results_is_flagged(source: str) -> None:
    """A fan-out gather in a try whose handler carries on is reported."""
    assert flagged(source, "COR106") == marked(source)


@pytest.mark.parametrize("source", GATHER_GOOD)
def test_gather_with_outcomes_or_reraise_stays_silent(source: str) -> None:
    """Collected exceptions, re-raising handlers and fixed sets are not reported."""
    assert flagged(source, "COR106") == []


@pytest.mark.parametrize("source", TASK_BAD)
def test_dropped_tasks_are_flagged(source: str) -> None:
    """Tasks created as bare statements on asyncio or a loop are reported."""
    assert flagged(source, "COR109") == marked(source)


@pytest.mark.parametrize("source", TASK_GOOD)
def test_kept_tasks_and_task_groups_stay_silent(source: str) -> None:
    """Kept, awaited and task-group tasks are exempt from COR109."""
    assert flagged(source, "COR109") == []


def test_messages_point_to_the_toolkit() -> None:
    """The fixes named are corral.map with a limit, on_error="collect" and open_scope."""
    (message,) = messages(UNBOUNDED_BAD[0].values[0], "COR105")  # type: ignore[arg-type]
    assert "corral.map(fn, items, limit=...)" in message
    (message,) = messages(GATHER_BAD[0].values[0], "COR106")  # type: ignore[arg-type]
    assert 'on_error="collect"' in message
    assert "return_exceptions=True" in message
    first, *_ = messages(TASK_BAD[0].values[0], "COR109")  # type: ignore[arg-type]
    assert "corral.open_scope()" in first
