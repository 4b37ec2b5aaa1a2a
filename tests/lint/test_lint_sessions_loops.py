"""COR103 (client sessions) and COR104 (nested event loops)."""

from __future__ import annotations

import pytest

from .helpers import flagged, marked, messages

SESSION_BAD = [
    pytest.param(
        """
        import aiohttp
        async def main(urls):
            for url in urls:
                async with aiohttp.ClientSession() as session:  # !
                    await session.get(url)
        """,
        id="in-a-loop",
    ),
    pytest.param(
        """
        import aiohttp
        async def fetch(url):
            async with aiohttp.ClientSession() as session:  # !
                async with session.get(url) as resp:
                    return await resp.text()
        async def main(urls):
            return [await fetch(u) for u in urls]
        """,
        id="per-request-helper",
    ),
    pytest.param(
        """
        from aiohttp import ClientSession
        async def main(url):
            session = ClientSession()  # !
            await session.get(url)
        """,
        id="never-closed",
    ),
    pytest.param(
        """
        import aiohttp
        async def main(url):
            session = aiohttp.ClientSession()  # !
            resp = await session.get(url)
            await session.close()
        """,
        id="closed-only-on-success",
    ),
    pytest.param(
        """
        import aiohttp
        async def main(url):
            return await aiohttp.ClientSession().get(url)  # !
        """,
        id="one-shot",
    ),
    pytest.param(
        """
        import httpx
        class Api:
            def __init__(self):
                self.client = httpx.AsyncClient()  # !
            async def get(self, url):
                return await self.client.get(url)
        """,
        id="on-self-never-closed",
    ),
]

SESSION_GOOD = [
    pytest.param(
        """
        import aiohttp
        async def main(urls):
            async with aiohttp.ClientSession() as session:
                for url in urls:
                    await session.get(url)
        """,
        id="one-per-job",
    ),
    pytest.param(
        """
        import aiohttp
        class Api:
            def __init__(self):
                self._session = aiohttp.ClientSession()
            async def close(self):
                await self._session.close()
        """,
        id="on-self-closed-in-async-close",
    ),
    pytest.param(
        """
        import aiohttp
        async def main(url):
            session = aiohttp.ClientSession()
            try:
                await session.get(url)
            finally:
                await session.close()
        """,
        id="closed-in-finally",
    ),
    pytest.param(
        """
        import aiohttp
        def make_session():
            session = aiohttp.ClientSession(raise_for_status=True)
            return session
        def make_client():
            return Client(aiohttp.ClientSession())
        """,
        id="factory",
    ),
    pytest.param(
        """
        import aiohttp, contextlib
        async def main(stack: contextlib.AsyncExitStack):
            session = aiohttp.ClientSession()
            await stack.enter_async_context(session)
        """,
        id="exit-stack",
    ),
    pytest.param(
        """
        import aiohttp
        async def main(urls):
            for attempt in range(3):
                async with aiohttp.ClientSession() as session:
                    await session.get(urls[0])
        """,
        id="loop-over-range",
    ),
    pytest.param(
        """
        import aiohttp, pytest
        async def test_bad_argument():
            with pytest.raises(ValueError):
                aiohttp.ClientSession(timeout=100)
        """,
        id="expected-to-raise",
    ),
]

LOOP_BAD = [
    pytest.param(
        """
        import asyncio
        async def handler():
            return asyncio.run(work())  # !
        """,
        id="asyncio-run-in-coroutine",
    ),
    pytest.param(
        """
        import asyncio
        async def handler(loop):
            loop.run_until_complete(work())  # !
        """,
        id="run-until-complete-in-coroutine",
    ),
    pytest.param(
        """
        import asyncio
        def load():
            return asyncio.run(fetch())
        async def handler():
            return load()  # !
        """,
        id="sync-helper-called-from-coroutine",
    ),
    pytest.param(
        """
        import nest_asyncio
        nest_asyncio.apply()  # !
        """,
        id="nest-asyncio",
    ),
]

LOOP_GOOD = [
    pytest.param(
        """
        import asyncio
        async def main(): ...
        if __name__ == "__main__":
            asyncio.run(main())
        """,
        id="main-guard",
    ),
    pytest.param(
        """
        import asyncio, nest_asyncio
        if __name__ == "__main__":
            nest_asyncio.apply()
        """,
        id="nest-asyncio-under-main-guard",
    ),
    pytest.param(
        """
        import asyncio
        def cli():
            asyncio.run(main())
        async def main():
            await asyncio.sleep(0)
        """,
        id="sync-entry-point",
    ),
    pytest.param(
        """
        import asyncio
        def load():
            return asyncio.run(fetch())
        async def handler():
            return await asyncio.to_thread(load)
        """,
        id="helper-handed-to-a-thread",
    ),
]


@pytest.mark.parametrize("source", SESSION_BAD)
def test_sessions_per_request_or_leaked_are_flagged(source: str) -> None:
    """Sessions made per item, or not closed on every path, are reported where made."""
    assert flagged(source, "COR103") == marked(source)


@pytest.mark.parametrize("source", SESSION_GOOD)
def test_owned_sessions_stay_silent(source: str) -> None:
    """Sessions in ``async with``, closed in finally or by the class, or handed on pass."""
    assert flagged(source, "COR103") == []


@pytest.mark.parametrize("source", LOOP_BAD)
def test_nested_loops_are_flagged(source: str) -> None:
    """Loops run from a running loop, directly or through a helper, and nest_asyncio."""
    assert flagged(source, "COR104") == marked(source)


@pytest.mark.parametrize("source", LOOP_GOOD)
def test_entry_points_stay_silent(source: str) -> None:
    """Script entry points and sync code not reached from a coroutine are not reported."""
    assert flagged(source, "COR104") == []


def test_session_messages_name_the_corral_way() -> None:
    """The messages say why and that one session per job is the fix."""
    source = SESSION_BAD[1].values[0]
    assert isinstance(source, str)
    (message,) = messages(source, "COR103")
    assert "every call of `fetch()`" in message
    assert "one session per job" in message
    (message,) = messages("import asyncio\nasync def f():\n    asyncio.run(g())\n", "COR104")
    assert "corral.run_sync" in message
