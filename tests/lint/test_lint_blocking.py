"""COR101: blocking calls inside ``async def``."""

from __future__ import annotations

import pytest

from .helpers import flagged, marked, messages

BAD = [
    pytest.param(
        """
        import time
        async def poll():
            time.sleep(1)  # !
        """,
        id="time-sleep",
    ),
    pytest.param(
        """
        from time import sleep
        async def poll():
            sleep(1)  # !
        """,
        id="from-import-alias",
    ),
    pytest.param(
        """
        import requests as r
        async def fetch(url):
            return r.get(url).text  # !
        """,
        id="import-as-alias",
    ),
    pytest.param(
        """
        import requests
        session = requests.Session()
        async def fetch(url):
            return session.get(url)  # !
        """,
        id="module-level-requests-session",
    ),
    pytest.param(
        """
        import httpx
        async def fetch(urls):
            with httpx.Client() as client:
                for url in urls:
                    client.post(url)  # !
        """,
        id="httpx-client-in-with",
    ),
    pytest.param(
        """
        import sqlite3
        async def load(path):
            conn = sqlite3.connect(path)  # !
            cur = conn.cursor()
            cur.execute("select 1")  # !
            return cur.fetchall()  # !
        """,
        id="sqlite-connection-and-cursor",
    ),
    pytest.param(
        """
        import requests
        class Client:
            def __init__(self):
                self.http = requests.Session()
            async def get(self, url):
                return self.http.get(url)  # !
        """,
        id="session-on-self",
    ),
    pytest.param(
        """
        import psycopg2
        async def handler(conn: psycopg2.extensions.connection, db: "sqlite3.Connection"):
            db.execute("select 1")  # !
        import sqlite3
        """,
        id="string-annotation",
    ),
    pytest.param(
        """
        import subprocess
        async def build():
            subprocess.run(["make"])  # !
        """,
        id="subprocess-run",
    ),
    pytest.param(
        """
        async def save(data):
            with open("out.txt", "w") as f:  # !
                f.write(data)
        """,
        id="builtin-open",
    ),
    pytest.param(
        """
        import time
        def pause():
            time.sleep(1)
        def settle():
            pause()
        async def main():
            settle()  # !
        """,
        id="local-helper-chain",
    ),
    pytest.param(
        """
        import requests
        class Crawler:
            def _download(self, url):
                return requests.get(url)
            async def crawl(self, url):
                return self._download(url)  # !
        """,
        id="method-helper-via-self",
    ),
    pytest.param(
        """
        import time
        async def main():
            def work():
                time.sleep(1)
            work()  # !
        """,
        id="nested-def-called-directly",
    ),
    pytest.param(
        """
        import asyncio, requests
        async def main(url):
            await asyncio.to_thread(requests.get(url))  # !
        """,
        id="called-before-handing-off",
    ),
]

GOOD = [
    pytest.param(
        """
        import asyncio, requests
        async def main(url):
            return await asyncio.to_thread(requests.get, url)
        """,
        id="to-thread-with-callable",
    ),
    pytest.param(
        """
        import asyncio, requests
        async def main(url):
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(None, lambda: requests.get(url))
        """,
        id="run-in-executor-lambda",
    ),
    pytest.param(
        """
        import asyncio, time
        async def main():
            def work():
                time.sleep(1)
            await asyncio.to_thread(work)
        """,
        id="nested-def-handed-off",
    ),
    pytest.param(
        """
        import time
        def script():
            time.sleep(1)
        """,
        id="sync-function",
    ),
    pytest.param(
        """
        from aiofiles import open
        async def save(data):
            async with open("out.txt", "w") as f:
                await f.write(data)
        """,
        id="aiofiles-open-shadows-builtin",
    ),
    pytest.param(
        """
        async def save(open, data):
            open("x")
        """,
        id="parameter-shadows-builtin",
    ),
    pytest.param(
        """
        import redis.asyncio as redis
        async def get(key):
            client = redis.Redis()
            return await client.get(key)
        """,
        id="async-redis",
    ),
    pytest.param(
        """
        import requests
        async def build(session: requests.Session):
            session.headers.update({"a": "b"})
            return session.cookies
        """,
        id="non-io-attributes-of-session",
    ),
    pytest.param(
        """
        import asyncio
        from asgiref.sync import sync_to_async
        import time
        @sync_to_async
        def slow():
            time.sleep(1)
        async def main():
            await slow()
        """,
        id="decorated-helper-not-followed",
    ),
    pytest.param(
        """
        import time
        async def main(sleep):
            sleep(1)
            time.monotonic()
        """,
        id="unrelated-names",
    ),
]


@pytest.mark.parametrize("source", BAD)
def test_blocking_calls_are_flagged_on_their_line(source: str) -> None:
    """Each blocking call on the loop is reported on the line marked ``# !``."""
    assert flagged(source, "COR101") == marked(source)


@pytest.mark.parametrize("source", GOOD)
def test_look_alikes_stay_silent(source: str) -> None:
    """Handed-off work, sync code, shadowed names and async clients are not reported."""
    assert flagged(source, "COR101") == []


def test_message_names_the_call_and_the_corral_fix() -> None:
    """The message says what blocks, where, and suggests the asyncio or corral way."""
    (message,) = messages("import time\nasync def poll():\n    time.sleep(1)\n", "COR101")
    assert "`time.sleep()` blocks the event loop in `async def poll`" in message
    assert "await asyncio.sleep" in message
    (message,) = messages("import requests\nasync def f(u):\n    requests.get(u)\n", "COR101")
    assert "corral.to_thread" in message


def test_helper_chain_is_spelled_out() -> None:
    """A blocking helper is reported with the chain of calls down to the blocking one."""
    source = """
    import time
    def pause():
        time.sleep(1)
    def settle():
        pause()
    async def main():
        settle()
    """
    (message,) = messages(source, "COR101")
    assert "`pause()` (line 6) -> `time.sleep()` (line 4)" in message
