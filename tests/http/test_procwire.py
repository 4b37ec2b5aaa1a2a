"""The frames between ``corral fetch --workers N`` and its workers: records, requests and the
configuration come back as they went; a host's partition is stable (issue 15, part P)."""

from __future__ import annotations

import asyncio
import zlib

import pytest

from corral._retry import Backoff
from corral.http.engine._config import FetchConfig
from corral.http.engine._request import Request
from corral.http.engine._result import FetchResult
from corral.http.report._stats import LatencyHistogram
from corral.http.scale._processes import HostRouter, child_config
from corral.http.scale._procwire import (
    decode_request,
    decode_result,
    encode_request,
    encode_result,
    frame,
    read_frame,
)
from corral.http.scale._wire import config_from_json, config_to_json


def test_a_record_comes_back_as_it_went() -> None:
    """Every field of a record survives the wire, its body (bytes) and headers too."""
    record = FetchResult(
        url="http://a.test/x",
        final_url="http://a.test/y",
        status=200,
        ok=True,
        attempts=2,
        elapsed_ms=12.5,
        fetched_at="2026-01-01T00:00:00.000+00:00",
        bytes=3,
        content_type="text/plain",
        headers={"Content-Type": "text/plain", "X-A": "1, 2"},
        sha256="ab" * 32,
        body=b"\x00\xffz",
        method="POST",
        depth=1,
        found_on="http://a.test/",
    )
    assert decode_result(encode_result(record)) == record


def test_a_request_comes_back_as_it_went() -> None:
    """A request with a method, headers and a JSON body survives the wire."""
    request = Request(
        url="http://a.test:8080/x", host="a.test:8080", method="PUT", headers={"A": "b"}, json=[1]
    )
    assert decode_request(encode_request(7, request)) == (7, request)


def test_the_configuration_comes_back_as_it_went() -> None:
    """Every field of a ``FetchConfig`` (sets, the backoff, headers) survives the JSON."""
    config = FetchConfig(
        concurrency=7,
        rate="5/s",
        headers={"X": "y"},
        retry_statuses=frozenset({503}),
        backoff=Backoff(initial=0.2, jitter=0.5),
        adaptive=False,
    )
    assert config_from_json(config_to_json(config)) == config


async def test_frames_are_read_one_at_a_time_to_the_end() -> None:
    """Frames written back to back are read one by one; the end is None; a cut frame is an
    error, not a record."""
    reader = asyncio.StreamReader()
    reader.feed_data(frame({"a": 1}) + frame([2]))
    reader.feed_eof()
    assert [await read_frame(reader), await read_frame(reader)] == [{"a": 1}, [2]]
    assert await read_frame(reader) is None
    cut = asyncio.StreamReader()
    cut.feed_data(frame({"a": 1})[:-1])
    cut.feed_eof()
    with pytest.raises(ValueError, match="ended inside a frame"):
        await read_frame(cut)


def test_a_host_keeps_its_worker_and_new_hosts_go_to_the_least_busy() -> None:
    """A host keeps the worker process it was first given; a new host goes to the one with
    the fewest hosts (four hosts over two workers: two each); past the remembered count,
    by crc32, the same every time."""
    route = HostRouter(2, remembered=4)
    first = [route(f"h{i}.test") for i in range(4)]
    assert sorted(first) == [0, 0, 1, 1]
    assert [route(f"h{i}.test") for i in range(4)] == first
    assert route("late.test") == zlib.crc32(b"late.test") % 2 == route("late.test")


def test_the_run_concurrency_is_shared_over_the_workers() -> None:
    """``--concurrency`` is shared over the workers, each getting at least what one host
    may have in flight (``--per-host``, within ``--concurrency``): with ``--workers 64``
    a worker's host crawled one request at a time though 8 were allowed."""
    assert child_config(FetchConfig(concurrency=100), 4).concurrency == 25
    assert child_config(FetchConfig(concurrency=100), 64).concurrency == 8
    assert child_config(FetchConfig(concurrency=100, per_host=50), 8).concurrency == 50
    assert child_config(FetchConfig(concurrency=2), 4).concurrency == 2


def test_latencies_merge_as_if_recorded_in_one_histogram() -> None:
    """A worker's latencies added by bucket give the percentiles of one histogram."""
    one, a, b = LatencyHistogram(), LatencyHistogram(), LatencyHistogram()
    for i, seconds in enumerate([0.001, 0.02, 0.3, 0.004, 1.5, 0.05]):
        one.add(seconds)
        (a if i % 2 else b).add(seconds)
    merged = LatencyHistogram()
    for part in (a, b):
        merged.merge(part.buckets(), part.longest)
    assert merged.count == one.count
    assert [merged.percentile(q) for q in (0.5, 0.9, 0.99)] == [
        one.percentile(q) for q in (0.5, 0.9, 0.99)
    ]
