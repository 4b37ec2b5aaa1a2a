"""Numbers for people: counts, sizes, durations, latencies, rates and percentages.

The progress display and the end-of-run summary print the same figures, so they share these
helpers. Every helper returns a short string for any input a run can produce, including zero,
huge values and ``nan``/``inf`` (shown as ``-``), so a display never fails on an odd value.
"""

from __future__ import annotations

import math

# Decimal (SI) units, as `ls --si`, browsers and rich.filesize show downloads.
_SIZE_UNITS = ("kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")
_UNKNOWN = "-"


def human_count(n: int) -> str:
    """Return ``n`` with thousands separators: ``12,340``."""
    return f"{n:,}"


def human_many(n: int, noun: str) -> str:
    """Return ``n`` and its noun, in the plural unless one: ``1 URL``, ``12,340 URLs``
    ("1 URLs" in a summary, a new-user trial)."""
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


def human_percent(part: int, whole: int) -> str:
    """Return ``part / whole`` as a percentage with one decimal, rounded down.

    Rounded down so that ``100.0%`` is shown only when everything is done; nothing to do
    (``whole`` is 0) is all done.
    """
    if whole <= 0:
        return "100.0%"
    tenths = min(1000, max(0, part * 1000 // whole))
    return f"{tenths // 10}.{tenths % 10}%"


def human_size(n: int) -> str:
    """Return a byte count in decimal units: ``999 B``, ``3.4 MB``, ``1.2 GB``."""
    if n < 1000:
        return f"{n} B"
    value = float(n)
    for unit in _SIZE_UNITS:
        value /= 1000
        # Move up a unit when rounding would show 1000.0 of this one.
        if round(value, 1) < 1000 or unit == _SIZE_UNITS[-1]:
            return f"{value:,.1f} {unit}"
    raise AssertionError("unreachable")  # pragma: no cover


def human_duration(seconds: float) -> str:
    """Return a duration or an ETA: ``3.4s``, ``42s``, ``5m04s``, ``2h05m``, ``3d04h``."""
    if not math.isfinite(seconds):
        return _UNKNOWN
    seconds = max(0.0, seconds)
    if seconds < 9.95:
        return f"{seconds:.1f}s"
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days:,}d{hours:02d}h"


def human_latency(seconds: float | None) -> str:
    """Return a request latency: ``0.4 ms``, ``12 ms``, ``1.23 s``; ``-`` for None."""
    if seconds is None or not math.isfinite(seconds):
        return _UNKNOWN
    if seconds < 0.00995:
        return f"{seconds * 1000:.1f} ms"
    if seconds < 0.9995:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 59.95:
        return f"{seconds:.2f} s" if seconds < 9.995 else f"{seconds:.1f} s"
    return human_duration(seconds)


def human_rate(per_second: float, unit: str = "") -> str:
    """Return a rate: ``2,051/s``, ``12.5/s``, ``0.25/s``, ``0/s`` (``unit`` before the slash)."""
    if not math.isfinite(per_second):
        return _UNKNOWN
    if per_second <= 0:
        figure = "0"
    elif per_second >= 99.5:
        figure = f"{per_second:,.0f}"
    elif per_second >= 9.995:
        figure = f"{per_second:.1f}"
    else:
        figure = f"{per_second:.2f}"
    return f"{figure}{unit}/s"


def human_hosts(names: tuple[str, ...], shown: int = 3) -> str:
    """Return the first ``shown`` host names and how many more: ``a.org, b.org +4``."""
    listed = ", ".join(names[:shown])
    more = len(names) - shown
    return f"{listed} +{more}" if more > 0 else listed
