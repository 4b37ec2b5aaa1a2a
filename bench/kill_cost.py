"""What a ``kill -9`` costs: URLs the resumed run fetches again (issue 12, item 11).

    python bench/kill_cost.py [--kills 10] [--n 8000] [--concurrency 100] [--json FILE]

corral's test site runs in this process, with its request log on. Each round: ``corral
fetch`` of N pages at full speed (``--per-host`` = ``--concurrency``: one host), killed
with SIGKILL once the site has seen a random number of requests (between N/5 and 3N/5,
seeded by the round), then the same command again to the end. The two runs send different
User-Agents, so the log tells their requests apart even when one of the killed run's
arrives after the kill. A URL both asked for was fetched twice: it was in flight at the
kill (at most ``--concurrency``) or its response had arrived but was not yet committed.

Printed: per kill, the moment, the records the killed run had committed and the URLs
fetched twice; then the median and the maximum. Every round must end with one record per
URL, or the script exits 1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from corral.testing import open_site


def _records(db: Path) -> list[str]:
    try:
        with sqlite3.connect(db) as conn:
            return [url for (url,) in conn.execute("select url from results")]
    except sqlite3.OperationalError:  # killed before the schema was written
        return []


async def one_kill(work: Path, n: int, concurrency: int, seed: int) -> dict[str, object]:
    """Kill one fetch at a random moment, resume it, and count the URLs fetched twice."""
    async with open_site(log_size=3 * n) as site:
        urls = [site.url(f"/page/{i}") for i in range(n)]
        source = work / "urls.txt"
        source.write_text("\n".join(urls) + "\n")
        db = work / f"kill-{seed}.db"
        c = str(concurrency)
        argv = [sys.executable, "-m", "corral", "fetch", str(source), "-o", str(db), "-q"]
        argv += ["--concurrency", c, "--per-host", c]
        moment = random.Random(seed).randrange(n // 5, 3 * n // 5)
        killed = subprocess.Popen([*argv, "--user-agent", "first"])  # noqa: ASYNC220
        await site.wait_until(lambda s: s.requests >= moment)
        killed.send_signal(signal.SIGKILL)
        await asyncio.to_thread(killed.wait)
        committed = len(await asyncio.to_thread(_records, db))
        again = [*argv, "--user-agent", "second"]
        await asyncio.to_thread(subprocess.run, again, check=True)
        final = await asyncio.to_thread(_records, db)
        asked: dict[str, set[str]] = {"first": set(), "second": set()}
        for record in site.statistics().recent:
            asked[record.user_agent or ""].add(record.target)
    return {
        "moment": moment,
        "committed": committed,
        "twice": len(asked["first"] & asked["second"]),
        "complete": sorted(final) == sorted(urls),
    }


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kills", type=int, default=10, help="rounds (default 10)")
    parser.add_argument("--n", type=int, default=8000, help="URLs a round (default 8000)")
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--json", type=Path, help="also write the rounds here")
    args = parser.parse_args()
    rounds = []
    with tempfile.TemporaryDirectory(prefix="corral-kill-") as tmp:
        for seed in range(args.kills):
            result = await one_kill(Path(tmp), args.n, args.concurrency, seed)
            rounds.append(result)
            print(
                f"kill {seed + 1}/{args.kills}: at request {result['moment']:,}, "
                f"{result['committed']:,} committed, {result['twice']} URLs fetched twice"
                + ("" if result["complete"] else "  NOT ONE RECORD PER URL"),
                flush=True,
            )
    twice = [int(str(r["twice"])) for r in rounds]
    print(
        f"\nconcurrency {args.concurrency}, {args.n:,} URLs, {args.kills} kills: URLs fetched "
        f"twice a kill: median {statistics.median(twice):.0f}, max {max(twice)} "
        f"({max(twice) / args.concurrency:.2f} x concurrency)"
    )
    if args.json:
        args.json.write_text(
            json.dumps({"settings": vars(args) | {"json": None}, "rounds": rounds})
        )
    return 0 if all(r["complete"] for r in rounds) else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    sys.exit(asyncio.run(main()))
