"""The live bar's two lines, rendered by rich as a 120-column terminal shows them."""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console

from corral.http.report._bar import render_bar
from corral.http.report._stats import FetchStatistics, RunCounters


def screen_text(output: str) -> str:
    """Return what the terminal output says, without escape codes."""
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", output)


def render(stats: FetchStatistics, rate: float, eta: float | None, width: int = 120) -> str:
    """Return the bar for ``stats`` as a terminal of ``width`` columns shows it."""
    console = Console(file=io.StringIO(), force_terminal=True, width=width)
    console.print(render_bar(stats, rate, eta))
    assert isinstance(console.file, io.StringIO)
    return screen_text(console.file.getvalue())


def counters_with(**fields: object) -> RunCounters:
    """Return counters with a fixed elapsed time of 6 s."""
    counters = RunCounters(output="out.db", started=0.0, clock=lambda: 6.0)
    for name, value in fields.items():
        setattr(counters, name, value)
    return counters


def test_bar_shows_every_field() -> None:
    """The bar line has done/total, share, rate, ETA and bytes; the next line the rest."""
    counters = counters_with(
        total=20_000,
        done=12_340,
        ok=12_301,
        retries=57,
        bytes=3_400_000,
        in_flight=100,
        frontier=5_120,
        throttled=("a.example", "b.example"),
    )
    head, details = render(counters.snapshot(), 2_051.0, 3.7).splitlines()
    assert head.startswith("corral ")
    assert head.endswith(" 12,340/20,000 61.7%  2,051/s  eta 3.7s  3.4 MB")
    assert details == (
        "  ok 12,301  failed 39  retries 57  active 100  frontier 5,120  elapsed 6.0s"
        "  throttled 2 (a.example, b.example)"
    )


def test_bar_with_unknown_total_counts_without_eta() -> None:
    """With no known total the bar pulses, counts what is done and shows no ETA."""
    counters = counters_with(done=12_340, ok=12_340)
    head, _ = render(counters.snapshot(), 12.5, None).splitlines()
    assert head.endswith(" 12,340 done  12.5/s  0 B")
    assert "eta" not in head
    assert "/" not in head.removesuffix("/s  0 B")


def test_bar_counts_resumed_urls_as_done() -> None:
    """URLs done by an earlier run count towards the bar, and are shown apart."""
    counters = counters_with(total=20_000, done=100, ok=100, skipped=5_000)
    head, details = render(counters.snapshot(), 10.0, None).splitlines()
    assert " 5,100/20,000 25.5%  10.0/s  eta -  0 B" in head
    assert "  resumed 5,000  " in details


@pytest.mark.parametrize(
    ("fields", "width", "expected"),
    [
        pytest.param({"total": 0}, 120, " 0/0 100.0%  0/s  eta 0.0s  0 B", id="empty-input"),
        pytest.param(
            {"total": 10**12, "done": 10**12, "ok": 10**12, "bytes": 10**18},
            120,
            " 1,000,000,000,000/1,000,000,000,000 100.0%  166,666,666,667/s  eta 0.0s  1.0 EB",
            id="huge",
        ),
        pytest.param({"total": 100, "done": 5, "ok": 5}, 50, "corral ", id="narrow"),
    ],
)
def test_bar_fits_odd_sizes(fields: dict[str, object], width: int, expected: str) -> None:
    """An empty input, huge numbers and a narrow terminal render within the width."""
    stats = counters_with(**fields).snapshot()
    screen = render(stats, stats.rate, 0.0, width=width)
    assert expected in screen
    assert all(len(line) <= width for line in screen.splitlines())
