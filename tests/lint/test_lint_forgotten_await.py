"""COR102: coroutines created and never awaited, within a module and across the linted tree."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from corral.lint import lint_paths

from .helpers import flagged, marked, messages

BAD = [
    pytest.param(
        """
        async def fetch(url): ...
        async def main():
            fetch("a")  # !
        """,
        id="statement",
    ),
    pytest.param(
        """
        async def ready(): ...
        async def main():
            if ready():  # !
                pass
            while not ready():  # !
                pass
        """,
        id="condition",
    ),
    pytest.param(
        """
        async def load(): ...
        async def main():
            return load()["key"]  # !
        """,
        id="subscripted",
    ),
    pytest.param(
        """
        async def load(): ...
        async def main():
            data = load()  # !
            print(data["key"])
        """,
        id="assigned-then-subscripted",
    ),
    pytest.param(
        """
        async def load(): ...
        async def main():
            data = load()  # !
        """,
        id="assigned-never-used",
    ),
    pytest.param(
        """
        import asyncio
        async def main():
            asyncio.sleep(1)  # !
        """,
        id="asyncio-sleep",
    ),
    pytest.param(
        """
        class Spider:
            async def save(self, item): ...
            async def parse(self, item):
                self.save(item)  # !
        """,
        id="method-via-self",
    ),
    pytest.param(
        """
        import aiohttp
        async def get(session: aiohttp.ClientSession, url):
            async with session.get(url) as resp:
                data = resp.json()  # !
                return data["id"]
        """,
        id="aiohttp-response-json",
    ),
    pytest.param(
        """
        import asyncio
        async def main():
            queue = asyncio.Queue()
            queue.put(1)  # !
        """,
        id="queue-put",
    ),
    pytest.param(
        """
        async def fetch(): ...
        def sync_caller():
            fetch()  # !
        """,
        id="in-sync-code",
    ),
]

GOOD = [
    pytest.param(
        """
        import asyncio
        async def fetch(url): ...
        async def main(urls):
            await fetch("a")
            task = asyncio.create_task(fetch("b"))
            results = await asyncio.gather(*[fetch(u) for u in urls])
            async with asyncio.TaskGroup() as tg:
                tg.create_task(fetch("c"))
            return fetch("d")
        """,
        id="awaited-or-handed-on",
    ),
    pytest.param(
        """
        import asyncio
        async def main(): ...
        coro = main()
        asyncio.run(coro)
        """,
        id="assigned-then-run",
    ),
    pytest.param(
        """
        async def items():
            yield 1
        async def main():
            gen = items()
            async for item in gen:
                print(item)
        """,
        id="async-generator",
    ),
    pytest.param(
        """
        import click
        @click.command()
        async def cli(): ...
        def main():
            cli()
        """,
        id="unknown-decorator",
    ),
    pytest.param(
        """
        def fetch(url): ...
        async def main():
            fetch("a")
        """,
        id="sync-function",
    ),
    pytest.param(
        """
        async def fetch(): ...
        async def main(fetch):
            fetch()
        """,
        id="parameter-shadows",
    ),
    pytest.param(
        """
        async def fetch(): ...
        def main():
            coro = fetch()
            coro.close()
        """,
        id="coroutine-closed",
    ),
]


@pytest.mark.parametrize("source", BAD)
def test_forgotten_awaits_are_flagged(source: str) -> None:
    """A coroutine dropped, tested, subscripted or left unused is reported on its line."""
    assert flagged(source, "COR102") == marked(source)


@pytest.mark.parametrize("source", GOOD)
def test_awaited_or_passed_coroutines_stay_silent(source: str) -> None:
    """Awaited, scheduled, returned or passed coroutines, generators and wrapped defs pass."""
    assert flagged(source, "COR102") == []


def test_message_says_add_await() -> None:
    """The message names the call, says what is wrong, and gives the fix."""
    (message,) = messages("async def f(): ...\nasync def g():\n    f()\n", "COR102")
    assert "`f()`" in message
    assert "never awaited" in message
    assert "add `await`" in message


def _tree(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


def test_coroutines_imported_from_the_tree_are_known(tmp_path: Path) -> None:
    """The index of the linted tree resolves imports, re-exports and relative imports."""
    _tree(
        tmp_path,
        {
            "app/__init__.py": "from .net import fetch as fetch\n",
            "app/net.py": "async def fetch(url): ...\ndef parse(text): ...\n",
            "app/jobs.py": """
                from app import fetch
                from .net import parse
                from . import net
                async def run():
                    fetch("a")
                    parse("b")
                    net.fetch("c")
                    await fetch("d")
                """,
        },
    )
    findings = lint_paths([tmp_path / "app"], select=["COR102"], jobs=1)
    assert [(Path(f.path).name, f.line) for f in findings] == [("jobs.py", 6), ("jobs.py", 8)]


def test_a_module_outside_the_tree_is_not_guessed(tmp_path: Path) -> None:
    """Calls into modules that were not linted are not assumed to be coroutines."""
    _tree(tmp_path, {"job.py": "from elsewhere import fetch\nasync def run():\n    fetch()\n"})
    assert lint_paths([tmp_path], select=["COR102"], jobs=1) == []
