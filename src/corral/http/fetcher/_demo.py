"""``corral demo``: the fetcher on corral's local test site, start to finish, in seconds.

The URL list mixes what a real bulk job meets: mostly ordinary pages, plus duplicates, a
malformed line, 404s, flaky URLs that fail twice and then answer, slow answers, redirects,
a Retry-After, a dropped connection and a gzip bomb. The summary shows each being handled.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path

from corral import to_thread
from corral._clierrors import OutputError
from corral.http.engine._config import FetchConfig
from corral.http.fetcher._job import FetchJob, run_fetch_job
from corral.http.store._lock import LockHeld, holding
from corral.http.store._output import earlier_commands, prepare_output
from corral.testing import open_site


def demo_lines(base: str, count: int) -> list[str]:
    """Return the demo's input lines for a site at ``base``: ``count`` URLs and a few extras."""
    specials = [
        "# the demo input: one URL a line; this comment is skipped",
        "this is not a URL",
        f"{base}/status/404",
        f"{base}/status/410",
        f"{base}/retry-after/1",
        f"{base}/drop",
        f"{base}/gzip-bomb",
        f"{base}/redirect/3",
        f"{base}/redirect-loop/2",
        f"{base}/page/1",  # a duplicate
        f"{base}/page/1#fragment",  # the same URL once normalised
    ]
    pages = [f"{base}/page/{i}" for i in range(count - len(specials) - 30)]
    flaky = [f"{base}/flaky/2/demo-{i}" for i in range(20)]
    slow = [f"{base}/delay/{200 + 50 * i}" for i in range(10)]
    return [*specials[:2], *pages[:100], *specials[2:], *flaky, *slow, *pages[100:]]


async def run_demo(output: str, count: int, *, overwrite: bool = False) -> int:
    """Serve the test site, fetch ``count`` URLs from it into ``output``, print the summary.

    Raises:
        OutputError: ``output`` holds something the demo did not write (and not ``overwrite``).
    """
    source = Path(output).with_suffix(".urls.txt")
    argv = ["corral", "fetch", str(source), "-o", output, "--per-host", "64"]
    # A demo starts afresh (resuming would fetch nothing) over its own earlier store only: it
    # used to delete whatever was at the path.
    await to_thread(_not_in_use, output)
    ours = await to_thread(earlier_commands, output)
    ours_only = ours is not None and all(command == argv for command in ours)
    if ours is not None and not ours_only and not overwrite:  # another job's results
        raise OutputError(
            f"{output} holds the results of another corral job; to replace it, add "
            "--overwrite, or give another -o"
        )
    replace = overwrite or ours_only
    # (the removal holds the store's run lock: a store in use by another run is left alone)
    await to_thread(functools.partial(prepare_output, overwrite=replace), output, "sqlite")
    async with open_site() as site:
        lines = demo_lines(site.base_url, count)
        source.write_text("\n".join(lines) + "\n", encoding="utf-8")
        print(f"corral demo: fetching {len(lines)} lines from {site.base_url}", file=sys.stderr)
        config = FetchConfig(concurrency=64, per_host=64, max_bytes=1024**2, retries=3)
        # No resume hint: the site the URLs point at ends with the demo (its resume command
        # recorded thousands of connect failures); a demo run again starts afresh.
        job = FetchJob(input=str(source), output=output, config=config, argv=argv, resumable=False)
        code = await run_fetch_job(job)
    print(
        f'\nTry: sqlite3 {output} "select error_kind, count(*) from results group by 1"',
        file=sys.stderr,
    )
    return code


def _not_in_use(output: str) -> None:
    """Refuse a store another run is using, before anything is written beside it."""
    try:
        with holding(f"{output}.lock", "corral demo"):
            pass
    except LockHeld as held:
        raise OutputError(f"{output} is in use by {held}; wait for it or use another -o") from None
    except OSError:
        return  # no lock file can be made there: prepare_output says why
