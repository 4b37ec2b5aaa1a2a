"""What saving a run's cookie jar costs the loop (issue 17).

    python bench/cookie_jar.py                  # 10,000 hosts, 2 cookies each
    python bench/cookie_jar.py --hosts 100000

A run with ``--cookies`` and a jar file saves it every 2 s while it changes; the jars are
aiohttp objects the loop mutates, so the JSON is made on the loop. Measured: the first save
(every host's jar made into JSON), then a save after one host's cookie changed (the others'
JSON kept from the save before), and ``export()`` (what each ``--workers`` process is handed
as it starts). The median of ``--repeat`` rounds, in milliseconds of the loop.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from http.cookies import SimpleCookie

from yarl import URL

from corral.http.engine._cookies import HostJars


def _set(jars: HostJars, host: int, value: str) -> None:
    cookie: SimpleCookie = SimpleCookie()
    cookie["session"] = f"token-{host}-{value}"
    cookie["session"]["path"] = "/"
    cookie["session"]["max-age"] = "3600"
    cookie["consent"] = "yes"
    jars.update_cookies(cookie, URL(f"http://host{host}.example/"))


def _ms(step: object) -> float:
    assert callable(step)
    started = time.perf_counter()
    step()
    return (time.perf_counter() - started) * 1000


async def _round(hosts: int) -> tuple[float, float, float, int]:
    jars = HostJars()
    for host in range(hosts):
        _set(jars, host, "x" * 40)
    first = _ms(jars.dumps)
    _set(jars, 0, "y" * 40)
    again = _ms(jars.dumps)
    exported = _ms(jars.export)
    return first, again, exported, len(jars.dumps())


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    rounds = [await _round(args.hosts) for _ in range(args.repeat)]
    first, again, exported = (statistics.median(r[i] for r in rounds) for i in range(3))
    print(
        f"{args.hosts:,} hosts x 2 cookies ({rounds[0][3] / 1e6:.1f} MB): first save "
        f"{first:.0f} ms, a save after one host changed {again:.1f} ms, export {exported:.0f} ms "
        f"(median of {args.repeat})"
    )


if __name__ == "__main__":
    asyncio.run(main())
