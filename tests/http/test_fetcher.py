"""The fetcher's Python API against corral's test site: one honest record per URL."""

from __future__ import annotations

import concurrent.futures
import json
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from functools import partial

import pytest

import corral
from corral.http import FetchConfig, FetchResult, open_fetcher
from corral.testing import Site, SiteStatistics, open_site

FAST_RETRY = corral.Backoff(initial=0.01, max=0.05)


@pytest.fixture
async def site() -> AsyncIterator[Site]:
    async with open_site() as running:
        yield running


async def _fetch_all(urls: list[str], **options: object) -> dict[str, FetchResult]:
    async with open_fetcher(backoff=FAST_RETRY, **options) as fetcher:  # type: ignore[arg-type]
        return {r.url: r async for r in fetcher.fetch_all(urls)}


async def test_one_record_per_url_with_the_response_fields(site: Site) -> None:
    """Every URL gets one record carrying status, bytes, digest, headers and timing."""
    urls = [site.url(f"/page/{i}") for i in range(50)]
    results = await _fetch_all(urls)
    assert sorted(results) == sorted(urls)
    record = results[urls[7]]
    assert record.ok
    assert record.status == 200
    assert record.error_kind is None
    assert record.attempts == 1
    assert record.bytes > 0
    assert record.sha256 is not None
    assert len(record.sha256) == 64
    assert record.content_type is not None
    assert record.content_type.startswith("text/html")
    assert record.headers is not None
    assert record.fetched_at.endswith("+00:00")
    assert record.final_url == urls[7]


async def test_malformed_urls_are_recorded_and_the_run_goes_on(site: Site) -> None:
    """A malformed or non-http URL becomes an invalid_url record; the rest are fetched."""
    urls = ["not a url", "ftp://example.org/file", site.url("/page/1"), "http://"]
    results = await _fetch_all(urls)
    assert results[site.url("/page/1")].ok
    for bad in ("not a url", "ftp://example.org/file", "http://"):
        assert results[bad].error_kind == "invalid_url"
        assert results[bad].attempts == 0
        assert results[bad].error


async def test_4xx_is_final_and_never_retried(site: Site) -> None:
    """A 404 is recorded as http_status after exactly one attempt."""
    results = await _fetch_all([site.url("/status/404")], retries=5)
    record = results[site.url("/status/404")]
    assert (record.ok, record.status, record.error_kind, record.attempts) == (
        False,
        404,
        "http_status",
        1,
    )


async def test_5xx_is_retried_until_it_succeeds(site: Site) -> None:
    """A URL that answers 503 twice and then 200 ends ok after three attempts."""
    url = site.url("/flaky/2/five-hundred")
    record = (await _fetch_all([url], retries=3))[url]
    assert (record.ok, record.status, record.attempts) == (True, 200, 3)
    assert site.statistics().flaky["2/five-hundred"] == 3


async def test_retries_run_out_with_the_last_answer(site: Site) -> None:
    """When retries run out, the record carries the last status and the attempt count."""
    url = site.url("/status/500")
    record = (await _fetch_all([url], retries=2))[url]
    assert (record.status, record.error_kind, record.attempts) == (500, "http_status", 3)


async def test_retry_after_cools_one_host_and_holds_no_slot(site: Site) -> None:
    """While one host waits out its Retry-After, the only worker serves the other host."""
    waiting = site.url("/flaky/1/cool?fail=429&retry_after=1")
    others = [f"{site.other_base_url}/page/{i}" for i in range(20)]
    results = await _fetch_all([waiting, *others], concurrency=1, retries=2)
    assert results[waiting].ok
    assert results[waiting].attempts == 2
    assert results[waiting].elapsed_ms >= 1000  # it waited the server's second
    order = [r.target for r in site.statistics().recent]
    first, second = (i for i, target in enumerate(order) if target.startswith("/flaky"))
    served_meanwhile = [t for t in order[first:second] if t.startswith("/page/")]
    assert len(served_meanwhile) == 20


async def test_a_host_answering_429_is_slowed_down(site: Site) -> None:
    """After 429s a host runs below its configured concurrency; the statistics name it."""
    urls = [site.url(f"/flaky/1/slow-{i}?fail=429") for i in range(12)]
    async with open_fetcher(backoff=FAST_RETRY, per_host=8) as fetcher:
        async for _ in fetcher.fetch_all(urls):
            pass
        state = fetcher._runtime.politeness.hosts[f"{site.host}:{site.port}"]
        assert state.limit < 8
        assert fetcher.statistics().throttled == (f"{site.host}:{site.port}",)


async def test_per_host_concurrency_is_respected(site: Site) -> None:
    """The site never sees more requests at once than per_host allows."""
    urls = [site.url(f"/delay/{20 + i % 5}?n={i}") for i in range(40)]
    await _fetch_all(urls, per_host=3, concurrency=50)
    assert site.statistics().peak_in_flight == 3


@pytest.mark.parametrize(
    ("path", "options", "kind"),
    [
        pytest.param("/bytes/3000000", {"max_bytes": 1_000_000}, "too_large", id="declared"),
        pytest.param(
            "/bytes/3000000?chunked=1", {"max_bytes": 1_000_000}, "too_large", id="streamed"
        ),
        pytest.param("/gzip-bomb", {"max_bytes": 1_000_000}, "too_large", id="gzip-bomb"),
        pytest.param("/redirect-loop/3", {}, "too_many_redirects", id="redirect-loop"),
        pytest.param("/redirect/5", {"max_redirects": 2}, "too_many_redirects", id="too-many"),
        pytest.param("/delay/3000", {"timeout": 0.2, "retries": 0}, "timeout", id="timeout"),
        pytest.param("/stall", {"timeout": 0.2, "retries": 0}, "timeout", id="stalled-body"),
        pytest.param("/reset", {"retries": 0}, "reset", id="reset"),
        pytest.param("/drop", {"retries": 0}, "reset", id="dropped"),
        pytest.param("/truncated/4096", {"retries": 0}, "protocol", id="truncated"),
    ],
)
async def test_failures_are_classified(
    site: Site, path: str, options: dict[str, object], kind: str
) -> None:
    """Each kind of trouble ends as a record with its error kind and a message."""
    record = (await _fetch_all([site.url(path)], **options))[site.url(path)]
    assert not record.ok
    assert record.error_kind == kind
    assert record.error


async def test_connection_refused_is_connect(site: Site) -> None:
    """A closed port is a connect error, retried, then recorded."""
    url = "http://127.0.0.1:9/nothing-listens-here"
    record = (await _fetch_all([url], retries=1))[url]
    assert (record.error_kind, record.attempts, record.status) == ("connect", 2, None)


async def test_redirects_are_followed_to_the_final_url(site: Site) -> None:
    """A redirect chain ends at its target, recorded as final_url."""
    url = site.url("/redirect/3")
    record = (await _fetch_all([url]))[url]
    assert record.ok
    assert record.final_url == site.url("/redirect/0")


async def test_request_objects_and_headers_reach_the_server(site: Site) -> None:
    """Method, per-request and per-job headers, the User-Agent and a JSON body are sent."""
    request = corral.http.request_for(
        site.url("/echo"), method="POST", headers={"X-One": "1"}, json={"a": [1, 2]}
    )
    async with open_fetcher(
        headers={"X-Job": "job"}, user_agent="tester/1", save_bodies="store"
    ) as fetcher:
        record = await fetcher.fetch(request)
    assert record.body is not None
    echo = json.loads(record.body)
    assert echo["method"] == "POST"
    assert echo["json"] == {"a": [1, 2]}
    assert echo["headers"]["X-One"] == "1"
    assert echo["headers"]["X-Job"] == "job"
    assert echo["headers"]["User-Agent"] == "tester/1"


async def test_fetch_all_reads_its_input_lazily(site: Site) -> None:
    """An endless async input is read only as far as the work goes."""
    pulled = 0

    async def endless() -> AsyncIterator[str]:
        nonlocal pulled
        i = 0
        while True:
            pulled += 1
            yield site.url(f"/page/{i}")
            i += 1

    async with open_fetcher(concurrency=4, per_host=4) as fetcher:
        run = fetcher.fetch_all(endless())
        got = [await anext(run) for _ in range(10)]
        await run.aclose()
    assert len(got) == 10
    assert pulled < 10 + 300  # bounded by the engine's buffers, not the input


@pytest.fixture
def site_process() -> Iterator[str]:
    """Serve the test site from its own process (a loop the test does not block)."""
    server = subprocess.Popen(
        [sys.executable, "-m", "corral.testing", "--port", "0"], stdout=subprocess.PIPE, text=True
    )
    assert server.stdout is not None
    try:
        yield server.stdout.readline().strip()
    finally:
        server.terminate()
        server.wait(timeout=30)
        server.stdout.close()


def _sync_fetch_in_order(base: str) -> None:
    urls = [f"{base}/page/2", "nope", f"{base}/page/1", f"{base}/page/2#x"]
    results = corral.http.fetch(urls)
    assert [r.url for r in results] == [urls[0], "nope", urls[2], urls[0]]
    assert results[0] is results[3]
    assert [r.ok for r in results] == [True, False, True, True]


def test_sync_fetch_returns_input_order_and_shares_duplicates(site_process: str) -> None:
    """corral.http.fetch from plain sync code: input order; duplicates share one record.

    On a thread of its own (plain sync code too): on the main thread, after
    test_descriptors.py's 320 sites in the same process, the main thread's run_sync loop
    slept in epoll with callbacks ready (its self-pipe no longer woke it: an open defect,
    reproduced by running test_crawl_cli, _pace, _refresh, _summary, test_descriptors and
    this test, in that order; see the closing note of the stop that moved it)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(_sync_fetch_in_order, site_process).result(timeout=50)


async def test_sync_fetch_works_inside_a_running_loop(site_process: str) -> None:
    """The same sync call made under a running loop (as in Jupyter) works through the bridge."""
    _sync_fetch_in_order(site_process)


async def test_statistics_count_what_happened(site: Site) -> None:
    """The fetcher's statistics count records, statuses, errors and retries."""
    urls = [site.url("/page/1"), site.url("/status/404"), site.url("/flaky/1/stats")]
    async with open_fetcher(backoff=FAST_RETRY) as fetcher:
        async for _ in fetcher.fetch_all(urls):
            pass
        stats = fetcher.statistics()
    assert (stats.done, stats.ok, stats.failed, stats.retries) == (3, 2, 1, 1)
    assert stats.by_status == {200: 2, 404: 1}
    assert stats.by_error == {"http_status": 1}
    assert stats.p50 is not None


def test_config_refuses_nonsense() -> None:
    """FetchConfig checks its values when made."""
    with pytest.raises(ValueError, match="concurrency"):
        FetchConfig(concurrency=0)
    with pytest.raises(ValueError, match="bad rate"):
        FetchConfig(rate="often")
    with pytest.raises(ValueError, match="bodies_dir"):
        FetchConfig(save_bodies="dir")


async def test_using_a_fetcher_outside_its_block_is_an_error() -> None:
    """A fetcher not entered with async with says how to use it."""
    fetcher = open_fetcher()
    with pytest.raises(RuntimeError, match="async with"):
        await fetcher.fetch("http://127.0.0.1:9/")


async def test_a_cancelled_fetch_gives_its_host_slot_back(site: Site) -> None:
    """A fetch cancelled while its request is in flight (``asyncio.wait_for`` timing out, a
    task cancelled, a ``fetch_all`` loop left early) frees its host's slot: after more
    cancellations than ``per_host``, the host still answers. It hung forever: the slot was
    never given back (found by a new user's trial, issue 14)."""
    import asyncio
    import contextlib

    async with open_fetcher(per_host=2, retries=0) as fetcher:
        for n in range(1, 4):
            task = asyncio.ensure_future(fetcher.fetch(site.url(f"/delay/60000?n={n}")))
            await site.wait_until(partial(_delayed_at_least, n))
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        async with asyncio.timeout(20):
            record = await fetcher.fetch(site.url("/page/1"))
        assert fetcher.statistics().in_flight == 0
    assert record.status == 200


async def test_leaving_a_fetch_all_loop_early_keeps_its_host_usable(site: Site) -> None:
    """Breaking out of ``fetch_all`` and closing it (as docs/fetch.md shows) cancels the
    requests in flight, and their host takes new ones: it hung forever after such a loop."""
    import asyncio

    urls = [site.url("/page/1"), *(site.url(f"/delay/60000?i={i}") for i in range(6))]
    async with open_fetcher(per_host=2, retries=0) as fetcher:
        run = fetcher.fetch_all(urls)
        first = await anext(run)  # then leave the loop
        await run.aclose()
        async with asyncio.timeout(20):
            record = await fetcher.fetch(site.url("/page/2"))
    assert (first.status, record.status) == (200, 200)


def _delayed_at_least(n: int, stats: SiteStatistics) -> bool:
    return stats.by_prefix.get("/delay", 0) >= n
