"""The result wire format: every field of a record survives the trip through Redis."""

from __future__ import annotations

import hashlib

import pytest

from corral._retry import Backoff
from corral.http.engine._config import FetchConfig
from corral.http.engine._result import ERROR_KINDS, FetchResult
from corral.http.scale._wire import (
    config_from_json,
    config_to_json,
    decode_outcome,
    decode_result,
    encode_result,
)

BODY = bytes(range(256)) * 3  # every byte value, NUL and invalid UTF-8 included

RECORDS = [
    pytest.param(FetchResult(url="http://a.test/"), id="defaults"),
    pytest.param(
        FetchResult(
            url="http://a.test/r",
            final_url="https://b.test/ü?q=1",
            status=200,
            ok=True,
            attempts=3,
            elapsed_ms=12.345,
            fetched_at="2026-12-03T18:48:40.123+00:00",
            bytes=len(BODY),
            content_type="application/octet-stream",
            headers={"Content-Type": "application/octet-stream", "Set-Cookie": "a=1, b=2"},
            sha256=hashlib.sha256(BODY).hexdigest(),
            body=BODY,
            body_path="/tmp/bodies/ab/cd",
            method="POST",
            depth=4,
            found_on="http://a.test/",
        ),
        id="redirected-with-body",
    ),
    pytest.param(FetchResult(url="http://a.test/", body=b"", bytes=0), id="empty-body"),
    *(
        pytest.param(
            FetchResult(url="http://a.test/e", error_kind=kind, error=f'{kind}: "x"\n'),
            id=f"error-{kind}",
        )
        for kind in ERROR_KINDS
    ),
    pytest.param(
        FetchResult(url="http://a.test/", status=429, error_kind="http_status", headers={}),
        id="empty-headers",
    ),
]


@pytest.mark.parametrize("record", RECORDS)
async def test_a_record_round_trips_field_for_field(record: FetchResult) -> None:
    """``decode_result(*encode_result(r)) == r`` for every field, the body apart and raw."""
    data, body = encode_result(record)
    assert body is record.body
    assert b"body" not in data.replace(b"body_path", b"")  # the body never goes in the JSON
    assert decode_result(data, body) == record


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"\x80\x04\x95", id="pickle"),
        pytest.param(b'{"url": "http://a.test/"}', id="not-an-array"),
        pytest.param(b'["http://a.test/", null, 200]', id="fields-missing"),
    ],
)
async def test_anything_else_is_refused(data: bytes) -> None:
    """What is not a record's JSON raises ValueError (never unpickled, never half-read)."""
    with pytest.raises(ValueError, match="not a corral result"):
        decode_result(data, None)


@pytest.mark.parametrize(
    "config",
    [
        pytest.param(FetchConfig(), id="defaults"),
        pytest.param(
            FetchConfig(
                concurrency=7,
                per_host=2,
                rate="5/s",
                retries=0,
                headers={"X-Job": "prices"},
                save_bodies="store",
                retry_statuses=frozenset({503}),
                retry_errors=frozenset({"timeout"}),
                backoff=Backoff(initial=0.25, multiplier=3.0, max=9.0, jitter=0.5),
                adaptive=False,
            ),
            id="every-option",
        ),
    ],
)
async def test_a_fetch_config_round_trips(config: FetchConfig) -> None:
    """The job's configuration reaches every worker as it was given."""
    assert config_from_json(config_to_json(config)) == config


@pytest.mark.parametrize(
    ("extra", "proxies"),
    [
        (None, None),
        ({"links": [["http://a.test/x", 1]]}, None),
        (None, {"http://127.0.0.1:3128": (4, 1, 0)}),
        ({"links": []}, {"http://127.0.0.1:3128": (4, 1, 1)}),
    ],
)
async def test_the_extra_and_the_proxy_figures_travel_with_the_record(
    extra: object, proxies: dict[str, tuple[int, int, int]] | None
) -> None:
    """A crawl's examination and a worker's per-proxy counts come back as sent, each
    whether or not the other is there."""
    record = FetchResult(url="http://a.test/", status=200, ok=True, attempts=1)
    assert decode_outcome(*encode_result(record, extra, proxies)) == (record, extra, proxies)
