"""Shapes from real code bases (Telethon, sanic, aiokafka, arq, textual) that were false alarms,
beside the true findings that look like them. Lines marked ``# !`` must be reported, no others."""

from __future__ import annotations

import pytest

from .helpers import flagged, marked

CASES = [
    pytest.param(
        "COR105",
        """
        import asyncio

        async def work(x): ...

        async def bounded(items, sem):
            for x in items:
                await sem.acquire()
                task = asyncio.create_task(work(x))
                task.add_done_callback(lambda _: sem.release())

        async def first(items):
            for x in items:
                if x:
                    task = asyncio.create_task(work(x))
                    break
            return task

        async def unbounded(items):
            tasks = []
            for x in items:
                tasks.append(asyncio.create_task(work(x)))  # !
            return tasks

        async def stop_all(timers):
            async def stop(timer):
                timer.task.cancel()
                await timer.task

            async def lookup(name):
                return await resolve(f"{name}.example")

            await asyncio.gather(*[stop(t) for t in timers])
            await asyncio.gather(*[lookup(n) for n in timers])  # !
        """,
        id="COR105-bound-in-loop-and-one-task",
    ),
    pytest.param(
        "COR104",
        """
        import asyncio

        def run(coro):
            loop = asyncio.get_event_loop()
            if not loop.is_running():
                return loop.run_until_complete(coro)
            return coro

        def run_anywhere(coro):
            try:
                asyncio.get_running_loop()
            except RuntimeError:
                return asyncio.run(coro)
            return coro

        def blocking(coro):
            return asyncio.run(coro)

        async def main(coro):
            run(coro)
            run_anywhere(coro)
            blocking(coro)  # !
        """,
        id="COR104-guarded-by-is-running",
    ),
    pytest.param(
        "COR111",
        """
        import asyncio
        from concurrent.futures import ThreadPoolExecutor

        async def startup(app):
            app["executor"] = ThreadPoolExecutor(4)
            pool = ThreadPoolExecutor(2)
            app.ctx.pool = pool
            default = ThreadPoolExecutor(2)
            asyncio.get_running_loop().set_default_executor(default)

        async def per_call(fn):
            with ThreadPoolExecutor() as pool:  # !
                return await asyncio.get_running_loop().run_in_executor(pool, fn)
        """,
        id="COR111-stored-in-startup-hook",
    ),
    pytest.param(
        "COR110",
        """
        import asyncio

        loop = asyncio.get_event_loop()  # !

        if __name__ == "__main__":
            asyncio.set_event_loop(asyncio.new_event_loop())
            main_loop = asyncio.get_event_loop()
            try:
                main_loop.run_forever()
            finally:
                main_loop.close()
        """,
        id="COR110-after-set-event-loop",
    ),
    pytest.param(
        "COR109",
        """
        async def work(): ...

        class Bot:
            async def start(self, client):
                client.loop.create_task(work())  # !
                self.websocket.loop.create_task(work())  # !
                self.keep = client.loop.create_task(work())
                await client.loop.create_task(work())
        """,
        id="COR109-any-objects-loop",
    ),
]


@pytest.mark.parametrize(("code", "source"), CASES)
def test_real_code_shapes(code: str, source: str) -> None:
    """Only the marked lines are reported under ``code``."""
    assert flagged(source, code) == marked(source)
