"""Time ``corral lint`` on a 100,000-line asyncio tree against ``ruff check --select ASYNC``.

By default the tree is generated (deterministically) under ``bench/.work/lint-tree``: packages
of crawler, service, storage and worker modules written in the styles real asyncio code uses,
clean idioms mixed with the pitfalls corral lint looks for. ``--tree PATH`` times an existing
tree instead (for example a checkout of aiohttp). Both linters run as commands, as a user or
pre-commit runs them, without caches, in the same run; the best of ``--repeat`` runs counts.

    .venv/bin/python bench/bench_lint.py [--tree PATH] [--lines 100000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work" / "lint-tree"

HEADER = '''"""{doc}"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import aiohttp

from {package}.common import retry_after, parse_items

log = logging.getLogger(__name__)
'''

# Blocks of code in the styles of crawlers and services; {n} makes each copy's names unique.
BLOCKS = [
    """

@dataclass
class Page{n}:
    url: str
    status: int = 0
    body: str = ""
    links: list[str] = field(default_factory=list)

    def is_ok(self) -> bool:
        return 200 <= self.status < 300 and bool(self.body)
""",
    '''

async def fetch_{n}(session: aiohttp.ClientSession, url: str, *, timeout: float = 10.0) -> str:
    """Fetch one page, following the site's Retry-After on 429."""
    for attempt in range(3):
        async with session.get(url, timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
            if resp.status == 429:
                await asyncio.sleep(retry_after(resp.headers, attempt))
                continue
            resp.raise_for_status()
            return await resp.text()
    raise RuntimeError(f"gave up on {{url}}")
''',
    '''

async def crawl_{n}(urls: Iterable[str], limit: int = 8) -> dict[str, str]:
    """Crawl ``urls`` with at most ``limit`` requests in flight."""
    sem = asyncio.Semaphore(limit)
    results: dict[str, str] = {{}}

    async def one(session: aiohttp.ClientSession, url: str) -> None:
        async with sem:
            try:
                results[url] = await fetch_{n}(session, url)
            except aiohttp.ClientError as exc:
                log.warning("failed %s: %s", url, exc)

    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(one(session, u) for u in urls))
    return results
''',
    '''

class Store{n}:
    """Keeps parsed items in memory and flushes them in batches."""

    def __init__(self, path: str, batch: int = 100) -> None:
        self.path = path
        self.batch = batch
        self.items: list[dict[str, object]] = []
        self.flushed = 0
        self._lock = asyncio.Lock()

    async def add(self, item: dict[str, object]) -> None:
        async with self._lock:
            self.items.append(item)
            if len(self.items) >= self.batch:
                await self.flush()

    async def flush(self) -> None:
        batch, self.items = self.items, []
        text = "\\n".join(json.dumps(i) for i in batch)
        await asyncio.to_thread(self._write, text)
        self.flushed += len(batch)

    def _write(self, text: str) -> None:
        with open(self.path, "a", encoding="utf-8") as out:
            out.write(text + "\\n")
''',
    """

async def worker_{n}(name: str, queue: asyncio.Queue[str], out: list[str]) -> None:
    while True:
        url = await queue.get()
        try:
            started = time.monotonic()
            out.append(url)
            log.debug("%s took %.3f s", name, time.monotonic() - started)
        finally:
            queue.task_done()


async def run_workers_{n}(urls: list[str], workers: int = 4) -> list[str]:
    queue: asyncio.Queue[str] = asyncio.Queue(maxsize=100)
    out: list[str] = []
    tasks = [asyncio.create_task(worker_{n}(f"w{{i}}", queue, out)) for i in range(workers)]
    for url in urls:
        await queue.put(url)
    await queue.join()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return out
""",
    """

def parse_{n}(text: str) -> list[dict[str, object]]:
    items = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition("=")
        items.append({{"key": key.strip(), "value": value.strip(), "n": {n}}})
    return items
""",
    """

async def slow_report_{n}(session: aiohttp.ClientSession, urls: list[str]) -> list[str]:
    pages = []
    for url in urls:
        time.sleep(0.1)  # a pitfall: blocks the loop
        async with session.get(url) as resp:
            pages.append(await resp.text())
    return pages
""",
    """

async def fan_out_{n}(urls: list[str]) -> list[str]:
    async with aiohttp.ClientSession() as session:
        tasks = [fetch_{n}(session, url) for url in urls]
        try:
            return await asyncio.gather(*tasks)
        except aiohttp.ClientError:
            log.exception("batch failed")
            return []
""",
    """

class Service{n}:
    def __init__(self, base: str) -> None:
        self.base = base
        self._session: aiohttp.ClientSession | None = None
        self.requests = 0

    async def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(base_url=self.base)
        return self._session

    async def get_json(self, path: str) -> object:
        session = await self.session()
        async with session.get(path) as resp:
            self.requests += 1
            return await resp.json()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
""",
    """

def summarize_{n}(pages: dict[str, str]) -> dict[str, int]:
    sizes = {{url: len(body) for url, body in pages.items()}}
    total = sum(sizes.values())
    biggest = max(sizes, key=sizes.__getitem__) if sizes else ""
    return {{"pages": len(sizes), "bytes": total, "biggest": len(biggest)}}
""",
]

COMMON = '''"""Helpers shared by the package."""

from __future__ import annotations

from collections.abc import Mapping


def retry_after(headers: Mapping[str, str], attempt: int) -> float:
    value = headers.get("Retry-After", "")
    return float(value) if value.isdigit() else 0.5 * 2**attempt


def parse_items(text: str) -> list[str]:
    return [line for line in text.splitlines() if line]
'''


def build_tree(root: Path, lines: int) -> tuple[int, int]:
    """Write a tree of at least ``lines`` lines under ``root``; return (files, lines)."""
    if root.exists():
        shutil.rmtree(root)
    rng = random.Random(20261121)
    files = total = counter = 0
    package = 0
    while total < lines:
        name = f"harvest{package}"
        (root / name).mkdir(parents=True)
        for path, text in ((root / name / "__init__.py", ""), (root / name / "common.py", COMMON)):
            path.write_text(text)
            total += text.count("\n")
            files += 1
        for module in range(20):
            parts = [HEADER.format(doc=f"Module {module} of {name}.", package=name)]
            for _ in range(rng.randint(8, 16)):
                counter += 1
                parts.append(rng.choice(BLOCKS).format(n=counter))
            text = "".join(parts)
            (root / name / f"mod{module}.py").write_text(text)
            total += text.count("\n")
            files += 1
        package += 1
    return files, total


def count(root: Path) -> tuple[int, int]:
    """Return the number of Python files under ``root`` and their lines."""
    paths = [p for p in root.rglob("*.py") if ".venv" not in p.parts]
    return len(paths), sum(p.read_bytes().count(b"\n") for p in paths)


def best_of(command: list[str], repeat: int, *, cold: bool = False) -> tuple[float, float]:
    """Return the best wall time of ``repeat`` runs of ``command``, and the CPU time of that run.

    CPU time (user + system, all processes) shows the work done whatever else the machine runs.
    ``cold``: each run gets an empty library-index cache (corral lint reads installed packages'
    source afresh), else one untimed run first leaves the caches warm.
    """
    if not cold:  # one untimed run leaves the caches as a second run finds them
        subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    runs = []
    for _ in range(repeat):
        env = dict(os.environ)
        empty = tempfile.mkdtemp(prefix="corral-lint-cold-") if cold else None
        if empty is not None:
            env["CORRAL_LINT_CACHE"] = empty
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False, env=env
        )
        wall = time.perf_counter() - started
        if empty is not None:
            shutil.rmtree(empty, ignore_errors=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
        runs.append((wall, cpu))
    return min(runs)


def commands(tree: Path) -> dict[str, list[str]]:
    """Return the commands timed on ``tree``: corral lint (parallel and one process), ruff."""
    bin_dir = Path(sys.executable).parent
    ruff = shutil.which("ruff", path=str(bin_dir)) or shutil.which("ruff") or "ruff"
    corral = [sys.executable, "-m", "corral", "lint", "--exit-zero", str(tree)]
    return {
        "corral lint (cold index)": corral,
        "corral lint": corral,
        "corral lint --no-cache": [*corral, "--no-cache"],
        "corral lint -j 1 --no-cache": [*corral, "--jobs", "1", "--no-cache"],
        "ruff check --select ASYNC": [
            ruff, "check", "--isolated", "--no-cache", "--select", "ASYNC", "--exit-zero",
            str(tree),
        ],
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", type=Path, help="lint this tree instead of a generated one")
    parser.add_argument("--lines", type=int, default=100_000, help="size of the generated tree")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--peers", action="store_true", help="also time mypy and pyright")
    args = parser.parse_args()
    tree = args.tree or WORK
    files, lines = build_tree(WORK, args.lines) if args.tree is None else count(tree)
    runs = commands(tree)
    ruff = runs["ruff check --select ASYNC"][0]
    version = subprocess.run([ruff, "--version"], capture_output=True, text=True).stdout.strip()
    print(f"tree: {tree} ({files} files, {lines} lines); cores: {os.cpu_count()}")
    print(f"python {platform.python_version()}, {version}; best of {args.repeat}")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for name, command in _peers(tree, args.peers).items():
        runs[name] = command
    figures = {
        name: best_of(command, args.repeat, cold="cold" in name) for name, command in runs.items()
    }
    base = figures["ruff check --select ASYNC"][0]
    for name, (wall, cpu) in figures.items():
        rate = lines / wall / 1000
        print(
            f"{name:28} {wall:6.2f} s wall {cpu:6.2f} s cpu {rate:6.0f} klines/s"
            f" {wall / base:6.1f}x ruff"
        )
    cold, warm = figures["corral lint (cold index)"][0], figures["corral lint"][0]
    print(f"corral lint {'meets' if cold < 3 else 'MISSES'} the 3 s target, index built cold")
    print(f"corral lint {'meets' if warm < 2 else 'MISSES'} the 2 s target, warm")


def _peers(tree: Path, wanted: bool) -> dict[str, list[str]]:
    """Return the type checkers to time beside corral lint (``--peers``), those installed."""
    if not wanted:
        return {}
    bin_dir = str(Path(sys.executable).parent)
    found: dict[str, list[str]] = {}
    mypy = shutil.which("mypy", path=bin_dir)
    if mypy:
        found["mypy (no cache)"] = [
            mypy, "--no-incremental", "--cache-dir", os.devnull, "--ignore-missing-imports",
            "--no-error-summary", str(tree),
        ]  # fmt: skip
    pyright = shutil.which("pyright", path=bin_dir)
    if pyright:
        found["pyright"] = [pyright, str(tree)]
    return found


if __name__ == "__main__":
    main()
