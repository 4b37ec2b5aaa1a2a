"""The number formats the progress display and the summary share."""

from __future__ import annotations

import math

import pytest

from corral.http.report._human import (
    human_count,
    human_duration,
    human_hosts,
    human_latency,
    human_percent,
    human_rate,
    human_size,
)


@pytest.mark.parametrize(
    ("n", "shown"),
    [
        pytest.param(0, "0", id="zero"),
        pytest.param(12_340, "12,340", id="thousands"),
        pytest.param(10**15, "1,000,000,000,000,000", id="huge"),
    ],
)
def test_count(n: int, shown: str) -> None:
    """Counts get thousands separators."""
    assert human_count(n) == shown


@pytest.mark.parametrize(
    ("part", "whole", "shown"),
    [
        pytest.param(0, 20_000, "0.0%", id="none"),
        pytest.param(12_340, 20_000, "61.7%", id="some"),
        pytest.param(2, 3, "66.6%", id="rounded-down"),
        pytest.param(19_999, 20_000, "99.9%", id="never-100-before-the-end"),
        pytest.param(20_000, 20_000, "100.0%", id="all"),
        pytest.param(0, 0, "100.0%", id="nothing-to-do"),
        pytest.param(25_000, 20_000, "100.0%", id="capped"),
    ],
)
def test_percent(part: int, whole: int, shown: str) -> None:
    """Percentages are rounded down, so 100.0% means everything is done."""
    assert human_percent(part, whole) == shown


@pytest.mark.parametrize(
    ("n", "shown"),
    [
        pytest.param(0, "0 B", id="zero"),
        pytest.param(999, "999 B", id="bytes"),
        pytest.param(1000, "1.0 kB", id="kilo"),
        pytest.param(999_949, "999.9 kB", id="just-under-mega"),
        pytest.param(999_950, "1.0 MB", id="rounds-up-a-unit"),
        pytest.param(3_400_000, "3.4 MB", id="mega"),
        pytest.param(10**18, "1.0 EB", id="exa"),
        pytest.param(10**27, "1,000.0 YB", id="past-the-last-unit"),
    ],
)
def test_size(n: int, shown: str) -> None:
    """Sizes use decimal units and never show 1000.0 of a unit."""
    assert human_size(n) == shown


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        pytest.param(0.0, "0.0s", id="zero"),
        pytest.param(3.44, "3.4s", id="seconds-with-tenths"),
        pytest.param(9.96, "10s", id="tenths-round-up"),
        pytest.param(42.4, "42s", id="seconds"),
        pytest.param(59.6, "1m00s", id="rounds-to-a-minute"),
        pytest.param(304, "5m04s", id="minutes"),
        pytest.param(7_500, "2h05m", id="hours"),
        pytest.param(3 * 86_400 + 4 * 3_600, "3d04h", id="days"),
        pytest.param(10**7, "115d17h", id="months"),
        pytest.param(-1.0, "0.0s", id="negative-clamped"),
        pytest.param(math.inf, "-", id="inf"),
        pytest.param(math.nan, "-", id="nan"),
    ],
)
def test_duration(seconds: float, shown: str) -> None:
    """Durations read like a clock, coarser as they grow."""
    assert human_duration(seconds) == shown


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        pytest.param(None, "-", id="none"),
        pytest.param(0.0004, "0.4 ms", id="sub-millisecond"),
        pytest.param(0.012, "12 ms", id="milliseconds"),
        pytest.param(0.3104, "310 ms", id="hundreds-of-ms"),
        pytest.param(0.9996, "1.00 s", id="rounds-to-a-second"),
        pytest.param(1.234, "1.23 s", id="seconds"),
        pytest.param(12.34, "12.3 s", id="tens-of-seconds"),
        pytest.param(75.0, "1m15s", id="minutes"),
    ],
)
def test_latency(seconds: float | None, shown: str) -> None:
    """Latencies are in milliseconds below a second, in seconds above."""
    assert human_latency(seconds) == shown


@pytest.mark.parametrize(
    ("per_second", "unit", "shown"),
    [
        pytest.param(0.0, "", "0/s", id="zero"),
        pytest.param(0.25, "", "0.25/s", id="slow"),
        pytest.param(12.5, "", "12.5/s", id="tens"),
        pytest.param(99.4, "", "99.4/s", id="just-under-100"),
        pytest.param(2_051.4, "", "2,051/s", id="thousands"),
        pytest.param(1_500.0, " URLs", "1,500 URLs/s", id="with-a-unit"),
        pytest.param(math.inf, "", "-", id="inf"),
    ],
)
def test_rate(per_second: float, unit: str, shown: str) -> None:
    """Rates keep about three significant figures."""
    assert human_rate(per_second, unit) == shown


@pytest.mark.parametrize(
    ("names", "shown"),
    [
        pytest.param((), "", id="none"),
        pytest.param(("a.example",), "a.example", id="one"),
        pytest.param(("a", "b", "c"), "a, b, c", id="three"),
        pytest.param(("a", "b", "c", "d", "e"), "a, b, c +2", id="more"),
    ],
)
def test_hosts(names: tuple[str, ...], shown: str) -> None:
    """A few host names are listed, then how many more there are."""
    assert human_hosts(names) == shown
