"""Print the results of a benchmark as tables, with ratios, and write them as JSON."""

from __future__ import annotations

import json
import os
import platform
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path

from _harness import Measurement

_PACKAGES = ("aiohttp", "scrapy", "crawlee", "selectolax", "twisted", "impit", "corral")


@dataclass(frozen=True, slots=True, kw_only=True)
class Summary:
    """The median of a runner's repeated runs, and the spread of its rate."""

    runner: str
    role: str
    runs: int
    verified: bool
    ok: str
    rate: float
    rate_min: float
    rate_max: float
    wall_s: float
    cpu_s: float
    per_cpu_s: float
    peak_rss_mb: float
    served: int
    server_cpu_s: float


def summarise(measurements: Sequence[Measurement]) -> list[Summary]:
    """Group runs by runner (in first-seen order) and take medians."""
    names = list(dict.fromkeys(m.runner for m in measurements))
    summaries = []
    for name in names:
        runs = [m for m in measurements if m.runner == name]
        rates = [m.rate for m in runs]
        summaries.append(
            Summary(
                runner=name,
                role=runs[0].role,
                runs=len(runs),
                verified=all(m.verified for m in runs),
                ok=" ".join(sorted({f"{m.ok}/{m.n}" for m in runs})),
                rate=statistics.median(rates),
                rate_min=min(rates),
                rate_max=max(rates),
                wall_s=statistics.median(m.wall_s for m in runs),
                cpu_s=statistics.median(m.cpu_s for m in runs),
                per_cpu_s=statistics.median(m.rate_per_cpu for m in runs),
                peak_rss_mb=statistics.median(m.peak_rss_mb for m in runs),
                served=max(m.served for m in runs),
                server_cpu_s=statistics.median(m.server_cpu_s for m in runs),
            )
        )
    return summaries


def print_tables(title: str, unit: str, summaries: Sequence[Summary]) -> None:
    """Print the main table and the matrix of rate ratios (row divided by column)."""
    floor = next((s for s in summaries if s.role == "floor"), None)
    print(f"\n## {title}\n")
    print(
        f"| runner | ok | nginx served | {unit} (median) | spread | wall s | CPU s "
        f"| {unit.split('/')[0]}/CPU-s | peak RSS MB | x floor | x floor (CPU) | nginx CPU s |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for s in summaries:
        ok = s.ok if s.verified else f"{s.ok} NOT VERIFIED"
        ratio = f"{s.rate / floor.rate:.2f}" if floor and floor.rate else "-"
        cpu_ratio = f"{s.per_cpu_s / floor.per_cpu_s:.2f}" if floor and floor.per_cpu_s else "-"
        print(
            f"| {s.runner} | {ok} | {s.served} | {s.rate:,.0f} "
            f"| {s.rate_min:,.0f}-{s.rate_max:,.0f} | {s.wall_s:.2f} | {s.cpu_s:.2f} "
            f"| {s.per_cpu_s:,.0f} | {s.peak_rss_mb:.0f} | {ratio} | {cpu_ratio} "
            f"| {s.server_cpu_s:.2f} |"
        )
    print(f"\n{unit} ratio, row / column:\n")
    print("| | " + " | ".join(s.runner for s in summaries) + " |")
    print("|---|" + "---:|" * len(summaries))
    for row in summaries:
        cells = [f"{row.rate / col.rate:.2f}" if col.rate else "-" for col in summaries]
        print(f"| {row.runner} | " + " | ".join(cells) + " |")


def report(
    measurements: Sequence[Measurement],
    *,
    benchmark: str,
    title: str,
    unit: str,
    settings: Mapping[str, object],
    json_path: Path | None,
) -> int:
    """Print the tables, write the JSON when asked; return 1 if any runner is not verified."""
    summaries = summarise(measurements)
    print_tables(title, unit, summaries)
    if json_path:
        write_json(json_path, benchmark=benchmark, settings=settings, measurements=measurements)
    return 0 if all(s.verified for s in summaries) else 1


def versions() -> dict[str, str]:
    """Return the versions of Python and of the measured packages that are installed."""
    found = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def write_json(
    path: Path,
    *,
    benchmark: str,
    settings: Mapping[str, object],
    measurements: Sequence[Measurement],
) -> None:
    """Write every run, the medians and the environment as one JSON document."""
    document = {
        "benchmark": benchmark,
        "settings": dict(settings),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "versions": versions(),
        "runs": [
            {**asdict(m), "rate": m.rate, "rate_per_cpu": m.rate_per_cpu, "verified": m.verified}
            for m in measurements
        ],
        "summary": [asdict(s) for s in summarise(measurements)],
    }
    path.write_text(json.dumps(document, indent=2) + "\n")
    print(f"\nbench: wrote {path}")
