"""Correct asyncio code runs under the guard, strict mode included, without a single finding."""

from __future__ import annotations

from guard.support import RunScript

CORRECT = """
import asyncio, logging, time
import aiohttp
from aiohttp import web
import corral

logging.basicConfig(filename="app.log", level=logging.INFO)
log = logging.getLogger("app")


async def hello(request):
    await asyncio.sleep(0.01)
    return web.Response(text="hi")


def blocking_work(n):
    time.sleep(0.2)  # fine: it runs in a worker thread
    with open("data.txt", "w") as out:
        out.write(str(n))
    return n


async def main():
    app = web.Application()
    app.router.add_get("/", hello)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        async with aiohttp.ClientSession() as session:
            async def get():
                async with session.get(f"http://127.0.0.1:{port}/") as response:
                    return await response.text()

            tasks = [asyncio.create_task(get()) for _ in range(20)]
            texts = await asyncio.gather(*tasks)
        work = lambda n: corral.to_thread(blocking_work, n)  # noqa: E731
        offloaded = await corral.map(work, range(4), limit=4)
        import json  # an import inside a coroutine is allowed
        log.info("done %s %s", json.dumps(texts[:1]), offloaded)
        background = asyncio.create_task(asyncio.sleep(0.01))
        await background
    finally:
        await runner.cleanup()
    print(len(texts), sum(offloaded))


asyncio.run(main())
"""


async def test_offloaded_work_closed_sessions_and_kept_tasks_give_no_finding(
    run_script: RunScript,
) -> None:
    """Work in threads, a session closed by ``async with``, tasks awaited: strict mode is quiet."""
    run = await run_script(CORRECT, "--strict")
    assert run.findings == [], run.findings
    assert run.stdout.split() == ["20", "6"]
    assert run.exit_code == 0


async def test_script_exit_code_and_arguments_pass_through(run_script: RunScript) -> None:
    """The script sees its own argv and its exit code is the run's when nothing was found."""
    run = await run_script("import sys\nprint(sys.argv[1:])\nsys.exit(3)\n", args=("a", "--flag"))
    assert run.stdout.strip() == "['a', '--flag']"
    assert (run.exit_code, run.findings) == (3, [])
