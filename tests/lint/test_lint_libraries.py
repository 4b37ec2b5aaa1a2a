"""COR102 across what the linted tree does not define: installed libraries, corral, other modules.

Each snippet mixes forgotten awaits (marked ``# !``) with their correct look-alikes, which must
stay silent: awaited, handed to a task, sync methods of async objects, sync clients of the same
library. The libraries are installed in the test environment (the ``test`` extra) and read from
their source by the linter's library index, never imported by it.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from corral.lint import lint_paths
from corral.lint._library import Library

from .helpers import flagged, marked, messages

SNIPPETS = [
    pytest.param(
        """
        import asyncio

        async def main(host: str) -> None:
            reader, writer = await asyncio.open_connection(host, 80)
            writer.write(b"GET / HTTP/1.0\\r\\n\\r\\n")
            writer.drain()  # !
            await writer.drain()
            line = reader.readline()  # !
            print(line)
            data = await reader.read(100)
            writer.close()
            writer.wait_closed()  # !
            await writer.wait_closed()
            queue: asyncio.Queue[int] = asyncio.Queue()
            queue.put_nowait(1)
            queue.put(2)  # !
            await queue.put(2)
            item = queue.get_nowait()
            lock = asyncio.Lock()
            lock.acquire()  # !
            lock.release()
            event = asyncio.Event()
            event.set()
            event.wait()  # !
            await asyncio.wait_for(event.wait(), 1)
            proc = await asyncio.create_subprocess_exec("true")
            proc.wait()  # !
            await proc.wait()
            asyncio.sleep(1)  # !
            asyncio.gather(asyncio.sleep(1), asyncio.sleep(2))  # !
            await asyncio.gather(asyncio.sleep(1), asyncio.sleep(2))
            task = asyncio.create_task(queue.join())
            await asyncio.shield(task)
            print(data, item)

        class Jobs(asyncio.Queue[str]):
            def put_later(self, job: str) -> None:
                self.put_nowait(job)

        async def enqueue(jobs: Jobs) -> None:
            jobs.put("a")  # !
            jobs.put_later("b")
            await jobs.put("c")
        """,
        id="asyncio",
    ),
    pytest.param(
        """
        import aiohttp

        async def main(url: str) -> None:
            async with aiohttp.ClientSession() as session:
                async with session.get(url) as resp:
                    resp.raise_for_status()
                    body = resp.text()  # !
                    print(body)
                    await resp.json()
                r = await session.post(url)
                if r.json():  # !
                    pass
                r.release()
                session.close()  # !
        """,
        id="aiohttp",
    ),
    pytest.param(
        """
        import asyncpg

        async def main(dsn: str) -> None:
            conn = await asyncpg.connect(dsn)
            conn.execute("create table t (x int)")  # !
            rows = await conn.fetch("select 1")
            conn.fetchrow("select 1")  # !
            pool = await asyncpg.create_pool(dsn)
            async with pool.acquire() as c:
                c.fetchval("select 1")  # !
                await c.fetchval("select 1")
                async with c.transaction():
                    await c.execute("select 1")
            pool.close()  # !
            print(rows)
        """,
        id="asyncpg",
    ),
    pytest.param(
        """
        import redis
        import redis.asyncio as aioredis

        async def main() -> None:
            r = aioredis.Redis()
            r.set("k", "v")  # !
            await r.set("k", "v")
            value = r.get("k")  # !
            print(value)
            pipe = r.pipeline()
            pipe.incr("n")
            pipe.execute()  # !
            await pipe.execute()
            sync = redis.Redis()
            sync.get("k")
        """,
        id="redis.asyncio",
    ),
    pytest.param(
        """
        import aiofiles
        import aiofiles.os

        async def main(path: str) -> None:
            async with aiofiles.open(path) as f:
                f.read()  # !
                text = await f.read()
            async with aiofiles.open(path, "w") as out:
                out.write(text)  # !
                await out.write(text)
            aiofiles.os.remove(path)  # !
            await aiofiles.os.remove(path)
        """,
        id="aiofiles",
    ),
    pytest.param(
        """
        import hashlib
        import httpx

        async def main(url: str) -> None:
            async with httpx.AsyncClient() as client:
                client.get(url)  # !
                resp = await client.get(url)
                resp.json()
                resp.aread()  # !
                await resp.aread()
                digest = hashlib.sha256(resp.aread())  # !
                print(digest)
            with httpx.Client() as sync:
                sync.get(url).json()
        """,
        id="httpx",
    ),
    pytest.param(
        """
        import corral

        async def fetch(url: str) -> str: ...

        async def main(urls: list[str]) -> None:
            async with corral.open_scope() as scope:
                scope.spawn(fetch, urls[0])  # !
                await scope.spawn(fetch, urls[0])
                scope.start_soon(fetch, urls[0])
            limit = corral.RateLimit(5)
            limit.acquire()  # !
            await limit.acquire()
            corral.to_thread(print, "x")  # !
            await corral.to_thread(print, "x")
            corral.map(fetch, urls, limit=4)  # !
            results = await corral.map(fetch, urls, limit=4)
            corral.retry(fetch, urls[0])  # !
            await corral.retry(fetch, urls[0])
            pool = corral.Pool(lambda: None, max_size=2)
            pool.close()  # !
            print(results)
        """,
        id="corral",
    ),
    pytest.param(
        """
        import json
        import logging

        log = logging.getLogger(__name__)

        async def load() -> dict[str, int]: ...

        def make():
            return load()  # a sync factory returns the coroutine on purpose

        async def main() -> None:
            json.dumps(load())  # !
            log.info("loaded %s", load())  # !
            print(f"{load()}")  # !
            json.dumps(await load())
            coros = [load(), load()]
            print(len(coros))
        """,
        id="sync-consumers",
    ),
]


@pytest.mark.parametrize("source", SNIPPETS)
def test_forgotten_awaits_on_libraries_are_found_and_look_alikes_are_not(source: str) -> None:
    """Exactly the lines marked ``# !`` are reported: the library calls left un-awaited."""
    assert flagged(source, "COR102") == marked(source)


def test_the_message_does_not_advise_handing_a_coroutine_to_open_scope() -> None:
    """open_scope() refuses coroutine objects, so COR102 names create_task and spawn(fn, ...)."""
    text = messages("async def f(): ...\nasync def g():\n    f()\n", "COR102")[0]
    assert "open_scope" not in text
    assert "scope.spawn(fn, *args)" in text
    assert "create_task" in text


def _tree(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


def test_classes_and_instances_of_other_linted_modules_are_followed(tmp_path: Path) -> None:
    """Methods of a class, or of a module-level instance, defined in another linted module."""
    _tree(
        tmp_path,
        {
            "app/__init__.py": "",
            "app/store.py": """
                class Store:
                    async def save(self, item: str) -> None: ...
                    def size(self) -> int:
                        return 0

                store = Store()
            """,
            "app/cached.py": """
                from app.store import Store

                class CachedStore(Store):
                    def size(self) -> int:
                        return 1
            """,
            "app/cache.py": """
                import redis.asyncio

                redis_client = redis.asyncio.from_url("redis://localhost")
            """,
            "app/client.py": """
                import httpx

                class Client(httpx.AsyncClient):
                    pass
            """,
            "app/job.py": """
                from app import store as module
                from app.cache import redis_client
                from app.client import Client
                from app.cached import CachedStore
                from app.store import Store, store

                class Job:
                    def __init__(self, target: Store) -> None:
                        self.target = target
                        self.spare = Store()

                    async def run(self) -> None:
                        self.target.save("a")  # !
                        self.spare.save("b")  # !
                        self.target.size()
                        await self.target.save("c")

                async def main() -> None:
                    Store().save("x")  # !
                    store.save("y")  # !
                    module.store.save("z")  # !
                    store.size()
                    await store.save("y")
                    CachedStore().save("w")  # !
                    CachedStore().size()
                    Client().get("u")  # !
                    Client().build_request("GET", "u")
                    redis_client.set("k", "v")  # !
                    redis_client.pipeline()
            """,
        },
    )
    findings = lint_paths([tmp_path / "app"], select=["COR102"], jobs=1)
    job = (tmp_path / "app/job.py").read_text()
    assert [f.line for f in findings] == marked(job)


def test_the_library_index_reads_stubs_and_caches_by_version(tmp_path: Path) -> None:
    """A package is read, not imported: its .pyi wins over its .py, a -stubs package wins over
    both, records are cached per package version and re-read when the file changes."""
    site = tmp_path / "site"
    _tree(
        site,
        {
            "lib/__init__.py": "from .client import Client\nraise SystemExit('imported!')\n",
            "lib/client.py": "class Client:\n    def get(self): ...\n",
            "lib/client.pyi": "class Client:\n    async def get(self) -> Reply: ...\n"
            "class Reply:\n    async def body(self) -> bytes: ...\n",
            "lib-1.2.dist-info/METADATA": "",
            "other-stubs/__init__.pyi": "async def ping() -> None: ...\n",
            "other/__init__.py": "def ping(): ...\n",
        },
    )
    cache = tmp_path / "cache"
    library = Library([str(site)], cache)
    reply = "lib.client.Reply"
    assert library.lookup("lib.Client.get") == ("m", "lib.client.Client.get", [True, reply])
    assert library.method("lib.client.Reply", "body") == [True, None]
    assert library.lookup("other.ping") == ("f", "other.ping", [True, None])
    assert (cache / "lib-1.2" / "lib.client.json").exists()
    (site / "lib/client.pyi").write_text("class Client:\n    def get(self) -> int: ...\n")
    changed = Library([str(site)], cache).lookup("lib.Client.get")
    assert changed == ("m", "lib.client.Client.get", [False, None])


def test_kept_results_are_reused_until_the_file_changes(tmp_path: Path) -> None:
    """A second run with the cache gives the same findings; an edited file is checked anew."""
    module = tmp_path / "job.py"
    module.write_text("import asyncio\nasync def run():\n    asyncio.sleep(1)\n")
    first = lint_paths([module], select=["COR102"], cache=True)
    assert [f.line for f in first] == [3]
    assert lint_paths([module], select=["COR102"], cache=True) == first
    module.write_text("import asyncio\nasync def run():\n    pass\n    asyncio.sleep(1)\n")
    assert [f.line for f in lint_paths([module], select=["COR102"], cache=True)] == [4]
    module.write_text("import asyncio\nasync def run():\n    await asyncio.sleep(1)\n")
    assert lint_paths([module], select=["COR102"], cache=True) == []


def test_an_activated_environment_is_searched_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run from pre-commit's own environment, the project's activated one is still read."""
    _tree(
        tmp_path / "venv/lib/python3.11/site-packages",
        {"projlib/__init__.py": "async def go(): ...\n"},
    )
    monkeypatch.setenv("VIRTUAL_ENV", str(tmp_path / "venv"))
    assert Library(cache=tmp_path / "cache").lookup("projlib.go") == (
        "f",
        "projlib.go",
        [True, None],
    )
    monkeypatch.delenv("VIRTUAL_ENV")
    assert Library(cache=tmp_path / "cache").lookup("projlib.go") is None
