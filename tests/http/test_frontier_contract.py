"""The frontier contract: what every ``Frontier`` backend must do (``store/_frontier.py``).

Each test drives a backend through the protocol only, so a new backend (Redis, issue 15)
passes by adding its name to the ``frontier`` fixture's params and a branch that makes it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from corral.http._faults import StoreError
from corral.http.engine._request import InvalidLine, Request, parse_line
from corral.http.engine._result import FetchResult
from corral.http.scale._frontier import RedisFrontier
from corral.http.store._frontier import Done, Frontier, LinkRow, PendingRow
from corral.http.store._sqlite import JobKind, SQLiteFrontier

Make = Callable[[JobKind], Frontier]  # a job kind -> a frontier on the shared store, not open
T0 = "2026-11-21T00:00:00+00:00"


@pytest.fixture(params=["sqlite", "redis"])
def frontier(request: pytest.FixtureRequest, tmp_path: Path) -> Make:
    """Return a maker of frontiers that all share one store (a run, then the next run):
    one SQLite file, or one job (named for the test) on a real redis-server."""
    if request.param == "sqlite":
        return lambda kind: SQLiteFrontier(tmp_path / "frontier.db", kind=kind)
    if request.param == "redis":
        url: str = request.getfixturevalue("redis_url")
        job = re.sub(r"[^A-Za-z0-9_.-]", "-", request.node.name)[:100]
        return lambda kind: RedisFrontier(url, job, kind=kind)
    raise AssertionError(f"no frontier backend {request.param!r}")


async def opened(make: Make, kind: JobKind = "crawl") -> Frontier:
    store = make(kind)
    await store.open(["corral", kind], T0)
    return store


def link(url: str, depth: int = 0, skip: str | None = None) -> LinkRow:
    return LinkRow(url, url, urlsplit(url).hostname or "", depth, None, skip)


def fetched(row: PendingRow, *links: LinkRow, items: int = 0) -> Done:
    result = FetchResult(url=row.url, status=200, ok=True, attempts=1, fetched_at=T0)
    return Done(row.id, result, links, [{"n": n} for n in range(items)])


def lines(*texts: str) -> list[Request | InvalidLine]:
    parsed = [parse_line(text, number) for number, text in enumerate(texts, 1)]
    return [item for item in parsed if item is not None]


def urls(rows: Sequence[PendingRow]) -> list[str]:
    return [row.url for row in rows]


async def test_add_links_adds_each_key_once(frontier: Make) -> None:
    """add_links: a key the store has is ignored; new followed links are pending by host."""
    store = await opened(frontier)
    first = await store.add_links([link("http://a.test/1"), link("http://b.test/1")])
    second = await store.add_links([link("http://a.test/1"), link("http://a.test/2")])
    assert dict(first.new_by_host) == {"a.test": 1, "b.test": 1}
    assert dict(second.new_by_host) == {"a.test": 1}
    assert dict(await store.pending_by_host()) == {"a.test": 2, "b.test": 1}
    await store.finish("finished", T0, {})


async def test_a_skipped_link_is_recorded_not_pending(frontier: Make) -> None:
    """add_links: a link with a skip reason is done at once, as a record with no attempt."""
    store = await opened(frontier)
    added = await store.add_links([link("http://a.test/x", skip="out_of_scope")])
    again = await store.add_links([link("http://a.test/x", skip="out_of_scope")])
    assert (dict(added.new_by_host), dict(added.skipped)) == ({}, {"out_of_scope": 1})
    assert dict(again.skipped) == {}  # known before: not recorded twice
    assert dict(await store.pending_by_host()) == {}
    await store.finish("finished", T0, {})
    later = await opened(frontier)
    assert await later.earlier_records() == (1, 0)
    await later.finish("finished", T0, {})


async def test_claim_takes_one_hosts_rows_lowest_depth_first(frontier: Make) -> None:
    """claim: only the host asked for, lowest depth first, then in the order added."""
    store = await opened(frontier)
    await store.add_links(
        [
            link("http://a.test/deep", depth=2),
            link("http://b.test/0", depth=0),
            link("http://a.test/one", depth=1),
            link("http://a.test/zero", depth=0),
            link("http://a.test/one-later", depth=1),
        ]
    )
    rows = await store.claim("a.test", 10)
    assert urls(rows) == [
        "http://a.test/zero",
        "http://a.test/one",
        "http://a.test/one-later",
        "http://a.test/deep",
    ]
    assert [row.depth for row in rows] == [0, 1, 1, 2]
    assert all(row.host == "a.test" for row in rows)
    await store.finish("finished", T0, {})


async def test_claim_is_bounded_and_per_host(frontier: Make) -> None:
    """claim: at most ``limit`` rows; claiming one host leaves the others' rows pending."""
    store = await opened(frontier)
    await store.add_links([link(f"http://a.test/{n}") for n in range(5)] + [link("http://b.test/")])
    assert len(await store.claim("a.test", 2)) == 2
    assert dict(await store.pending_by_host()) == {"a.test": 3, "b.test": 1}
    assert urls(await store.claim("b.test", 2)) == ["http://b.test/"]
    assert await store.claim("c.test", 2) == []
    await store.finish("finished", T0, {})


async def test_a_leased_row_is_not_claimed_twice(frontier: Make) -> None:
    """claim: a leased row is not handed out again, whatever the limit."""
    store = await opened(frontier)
    await store.add_links([link(f"http://a.test/{n}") for n in range(3)])
    first = await store.claim("a.test", 2)
    second = await store.claim("a.test", 10)
    assert len(first) == 2
    assert len(second) == 1
    assert not {row.id for row in first} & {row.id for row in second}
    assert await store.claim("a.test", 10) == []
    await store.finish("finished", T0, {})


async def test_commit_stores_links_and_items_and_ends_the_lease(frontier: Make) -> None:
    """commit: the record, links found (new ones pending, skipped ones recorded) and items
    go in together; a committed row is never claimed again, in this run or a later one."""
    store = await opened(frontier)
    await store.add_links([link("http://a.test/")])
    (row,) = await store.claim("a.test", 1)
    found = (link("http://a.test/next", 1), link("http://c.test/", 1, skip="out_of_scope"))
    committed = await store.commit([fetched(row, *found, items=2)])
    assert dict(committed.new_by_host) == {"a.test": 1}
    assert dict(committed.skipped) == {"out_of_scope": 1}
    assert committed.items == 2
    assert urls(await store.claim("a.test", 10)) == ["http://a.test/next"]
    await store.finish("interrupted", T0, {})
    later = await opened(frontier)
    assert urls(await later.claim("a.test", 10)) == ["http://a.test/next"]  # reaped, not /
    assert await later.earlier_records() == (2, 1)  # the page fetched, the link skipped
    await later.finish("finished", T0, {})


async def test_a_failed_commit_keeps_nothing_of_its_batch(frontier: Make) -> None:
    """commit: all or none. A batch holding a row committed before raises StoreError, and
    the other rows of the batch, and the links found on them, are not committed."""
    store = await opened(frontier)
    await store.add_links([link("http://a.test/1"), link("http://a.test/2")])
    one, two = await store.claim("a.test", 2)
    await store.commit([fetched(one)])
    with pytest.raises(StoreError):
        await store.commit([fetched(two, link("http://b.test/", 1)), fetched(one)])
    assert dict(await store.pending_by_host()) == {}  # b.test was not added
    await store.finish("interrupted", T0, {})
    later = await opened(frontier)
    assert urls(await later.claim("a.test", 10)) == ["http://a.test/2"]  # not committed
    await later.finish("finished", T0, {})


async def test_open_reaps_the_leases_of_an_earlier_run(frontier: Make) -> None:
    """open: leases of runs that are gone go back to pending, and their count is returned."""
    store = await opened(frontier)
    await store.add_links([link(f"http://a.test/{n}") for n in range(4)])
    claimed = await store.claim("a.test", 3)
    await store.finish("interrupted", T0, {})
    later = frontier("crawl")
    assert await later.open(["corral", "crawl"], T0) == 3
    assert dict(await later.pending_by_host()) == {"a.test": 4}
    again = await later.claim("a.test", 10)
    assert {row.id for row in claimed} <= {row.id for row in again}
    await later.finish("finished", T0, {})


async def test_reap_leaves_this_runs_leases(frontier: Make) -> None:
    """reap: a lease this run holds (and renews) is not expired: nothing goes back."""
    store = await opened(frontier)
    await store.add_links([link(f"http://a.test/{n}") for n in range(2)])
    rows = await store.claim("a.test", 2)
    await store.renew([row.id for row in rows])
    assert await store.reap() == 0
    assert await store.claim("a.test", 10) == []
    await store.finish("finished", T0, {})


async def test_a_renewed_lease_is_still_committed(frontier: Make) -> None:
    """renew: the rows stay this run's, neither claimable nor pending, and commit as usual."""
    store = await opened(frontier)
    await store.add_links([link("http://a.test/")])
    rows = await store.claim("a.test", 1)
    await store.renew([row.id for row in rows])
    assert dict(await store.pending_by_host()) == {}
    await store.commit([fetched(row) for row in rows])
    await store.finish("finished", T0, {})
    later = await opened(frontier)
    assert await later.earlier_records() == (1, 1)
    await later.finish("finished", T0, {})


async def test_skip_rest_records_pending_and_leased_rows(frontier: Make) -> None:
    """skip_rest: every pending row and every row this run leased is recorded as not
    fetched for the reason; nothing is left to claim."""
    store = await opened(frontier)
    await store.add_links([link(f"http://a.test/{n}") for n in range(3)] + [link("http://b.test/")])
    (done, _leased) = await store.claim("a.test", 2)
    await store.commit([fetched(done)])
    assert await store.skip_rest("max_pages") == 3  # a leased, an a.test pending, b.test
    assert dict(await store.pending_by_host()) == {}
    assert await store.claim("a.test", 10) == []
    await store.finish("finished", T0, {})
    later = await opened(frontier)
    assert await later.earlier_records() == (4, 1)
    assert await later.claim("a.test", 10) == []  # skipped rows are done: not reaped
    await later.finish("finished", T0, {})


async def test_parked_bodies_come_back_until_unparked(frontier: Make) -> None:
    """commit parks a body; unpark hands it out (oldest first) until unparked drops it and
    adds the links found in it."""
    store = await opened(frontier)
    await store.add_links([link("http://a.test/")])
    (row,) = await store.claim("a.test", 1)
    result = FetchResult(url=row.url, status=200, ok=True, attempts=1, fetched_at=T0)
    await store.commit([Done(row.id, result, parked=("text/html", b"<a href=x>"))])
    (parked,) = await store.unpark(10)
    assert (parked.id, parked.url, parked.content_type, parked.body) == (
        row.id,
        row.url,
        "text/html",
        b"<a href=x>",
    )
    assert await store.unpark(10) == [parked]  # still there until unparked
    added = await store.unparked([parked.id], [link("http://a.test/x", 1)])
    assert dict(added.new_by_host) == {"a.test": 1}
    assert await store.unpark(10) == []
    await store.finish("finished", T0, {})


async def test_finish_then_reopen_resumes_the_run(frontier: Make) -> None:
    """finish records how the run ended; the next open says so (``earlier``), starts a later
    run, and goes on where the last one stopped."""
    store = await opened(frontier)
    await store.add_links([link(f"http://a.test/{n}") for n in range(3)])
    (row,) = await store.claim("a.test", 1)
    await store.commit([fetched(row)])
    await store.finish("interrupted", T0, {"done": 1})
    later = await opened(frontier)
    assert later.earlier is not None
    assert later.earlier.status == "interrupted"
    assert later.run > store.run
    assert dict(await later.pending_by_host()) == {"a.test": 2}
    assert row.id not in {r.id for r in await later.claim("a.test", 10)}
    await later.finish("finished", T0, {})
    last = await opened(frontier)
    assert last.earlier is None  # the run before finished
    await last.finish("finished", T0, {})


async def test_a_store_serves_one_kind_of_job(frontier: Make) -> None:
    """open: a store made by a crawl refuses a fetch (StoreError), and the other way round."""
    store = await opened(frontier, "crawl")
    await store.add_links([link("http://a.test/")])
    await store.finish("finished", T0, {})
    with pytest.raises(StoreError):
        await opened(frontier, "fetch")


async def test_add_dedups_input_lines_and_hands_back_the_new(frontier: Make) -> None:
    """add: one row a key (the first line wins); repeats in a batch or across batches of the
    run are duplicates; the new rows come back, in input order, to fetch now."""
    store = await opened(frontier, "fetch")
    first, new = await store.add(lines("http://a.test/1", "http://a.test/2", "http://a.test/1"))
    second, more = await store.add(lines("http://a.test/2", "http://a.test/3", "not a url"))
    assert (first.new, first.duplicates) == (2, 1)
    assert (second.new, second.duplicates) == (2, 1)
    handed = [item.url if isinstance(item, Request) else item.text for _, item in new + more]
    assert handed == ["http://a.test/1", "http://a.test/2", "http://a.test/3", "not a url"]
    assert len({ident for ident, _ in new + more}) == 4
    await store.finish("finished", T0, {})


async def test_add_in_a_later_run_resumes_what_was_left(frontier: Make) -> None:
    """add in a later run: a key recorded before is not fetched again (earlier_done); one
    left unfinished is handed back (earlier_pending) under its old id."""
    store = await opened(frontier, "fetch")
    _, new = await store.add(lines("http://a.test/1", "http://a.test/2"))
    (done_id, done_item), (left_id, _) = new
    assert isinstance(done_item, Request)
    result = FetchResult(url=done_item.url, status=200, ok=True, attempts=1, fetched_at=T0)
    await store.commit([Done(done_id, result)])
    await store.finish("interrupted", T0, {})
    later = await opened(frontier, "fetch")
    added, again = await later.add(lines("http://a.test/1", "http://a.test/2", "http://a.test/3"))
    assert (added.new, added.earlier_done, added.earlier_pending) == (1, 1, 1)
    assert next(ident for ident, _ in again) == left_id
    assert done_id not in {ident for ident, _ in again}
    assert await later.leftovers(0, 10) == []  # taken over through add
    await later.finish("finished", T0, {})


async def test_leftovers_pages_through_earlier_runs_rows(frontier: Make) -> None:
    """leftovers: the rows earlier runs left unfinished that this run's input did not
    have, by id, each once when paging with ``after``; committed rows are not among them."""
    store = await opened(frontier, "fetch")
    _, new = await store.add(lines(*(f"http://a.test/{n}" for n in range(5))))
    first_id, first_item = new[0]
    assert isinstance(first_item, Request)
    result = FetchResult(url=first_item.url, status=200, ok=True, attempts=1, fetched_at=T0)
    await store.commit([Done(first_id, result)])
    await store.finish("interrupted", T0, {})
    later = await opened(frontier, "fetch")
    await later.add(lines("http://a.test/4"))  # this run's input has one of them
    page = await later.leftovers(0, 2)
    rest = await later.leftovers(page[-1].id, 10)
    assert urls(page + rest) == ["http://a.test/1", "http://a.test/2", "http://a.test/3"]
    assert await later.leftovers(rest[-1].id, 10) == []
    await later.finish("finished", T0, {})
