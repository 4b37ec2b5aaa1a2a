"""The end-of-run summary: every figure, where the results are, how to query and resume."""

from __future__ import annotations

import json
import shlex
import shutil
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest

from corral.http.report._human import human_latency
from corral.http.report._stats import FetchStatistics, RunCounters
from corral.http.report._summary import StoreKind, render_summary


def finished_run(output: str = "out.db", elapsed: float = 10.0, **fields: Any) -> FetchStatistics:
    """Return the statistics of a run that took ``elapsed`` seconds, from real counters."""
    counters = RunCounters(output=output, started=0.0, clock=lambda: elapsed, **fields)
    return counters.snapshot()


def busy_run() -> FetchStatistics:
    """Return an interrupted run with a bit of everything."""
    counters = RunCounters(
        output="out.db",
        started=0.0,
        clock=lambda: 10.0,
        total=25_000,
        done=15_000,
        ok=14_950,
        skipped=5_000,
        duplicates=120,
        retries=57,
        bytes=3_400_000,
    )
    counters.by_status.update({200: 14_900, 204: 50, 404: 40, 503: 5})
    counters.by_error.update({"timeout": 5, "http_status": 45})
    for _ in range(90):
        counters.latency.add(0.012)
    for _ in range(10):
        counters.latency.add(0.31)
    return counters.snapshot()


def test_summary_shows_every_figure() -> None:
    """Counts, throughput, bytes, latency percentiles, statuses, errors, store, resume."""
    stats = busy_run()
    p50, p90, p99 = (human_latency(p) for p in (stats.p50, stats.p90, stats.p99))
    summary = render_summary(stats, store_kind="sqlite", resume_command="corral fetch u.txt")
    assert summary == "\n".join(
        [
            "corral: interrupted after 10s",
            "  URLs        20,000 of 25,000 done (80.0%)",
            "  ok          14,950",
            "  failed          50",
            "  resumed      5,000  (done by an earlier run, not fetched again)",
            "  duplicates     120  (repeated in the input, fetched once)",
            "  retries         57",
            "  throughput  1,500 URLs/s, 340.0 kB/s",
            "  received    3.4 MB",
            f"  latency     p50 {p50}, p90 {p90}, p99 {p99}",
            "  by status   200: 14,900, 204: 50, 404: 40, 503: 5",
            "  by error    http_status: 45, timeout: 5",
            "",
            "results: out.db (SQLite, table results)",
            '  shell:   sqlite3 out.db "select status, count(*) from results group by status"',
            (
                "  pandas:  import sqlite3, pandas as pd; "
                'df = pd.read_sql("select * from results", sqlite3.connect("out.db"))'
            ),
            "  report:  corral report out.db",
            "",
            "interrupted with 5,000 of 25,000 URLs left. To resume, run the same command again",
            "(URLs already done are not fetched again):",
            "  corral fetch u.txt",
        ]
    )


@pytest.mark.parametrize(
    ("store_kind", "output", "lines"),
    [
        pytest.param(
            "sqlite",
            "out.db",
            [
                "results: out.db (SQLite, table results)",
                '  shell:   sqlite3 out.db "select status, count(*) from results group by status"',
            ],
            id="sqlite",
        ),
        pytest.param(
            "jsonl",
            "out.jsonl",
            [
                "results: out.jsonl (JSON lines, one record per URL)",
                "  shell:   jq -r .status out.jsonl | sort | uniq -c",
                '  pandas:  import pandas as pd; df = pd.read_json("out.jsonl", lines=True)',
            ],
            id="jsonl",
        ),
        pytest.param(
            "stdout",
            "-",
            [
                "results: written to standard output, as JSON lines (one record per URL)",
                "  shell:   ... | jq -r .status | sort | uniq -c",
            ],
            id="stdout",
        ),
    ],
)
def test_query_line_for_each_store_kind(
    store_kind: StoreKind, output: str, lines: list[str]
) -> None:
    """Each store kind says where the results are and gives a query to paste."""
    summary = render_summary(finished_run(output), store_kind=store_kind)
    for line in lines:
        assert line in summary.splitlines()


@pytest.mark.skipif(shutil.which("sqlite3") is None, reason="needs the sqlite3 command")
def test_sqlite_query_line_runs_as_pasted(tmp_path: Path) -> None:
    """The sqlite3 line, pasted into a shell, runs on a path with spaces and counts statuses."""
    store = tmp_path / "my results.db"
    with sqlite3.connect(store) as db:
        db.execute("create table results (url text, status integer)")
        db.executemany("insert into results values (?, ?)", [("a", 200), ("b", 200), ("c", 404)])
    db.close()
    summary = render_summary(finished_run(str(store)), store_kind="sqlite")
    shell = next(line for line in summary.splitlines() if "sqlite3 " in line)
    command = shell.removeprefix("  shell:   ")
    assert shlex.split(command)[1] == str(store)
    run = subprocess.run(command, shell=True, capture_output=True, text=True, check=True)
    assert run.stdout.split() == ["200|2", "404|1"]


@pytest.mark.skipif(shutil.which("jq") is None, reason="needs the jq command")
def test_jq_line_runs_as_pasted(tmp_path: Path) -> None:
    """The jq line, pasted into a shell, counts the statuses of a JSON lines file."""
    store = tmp_path / "out put.jsonl"
    store.write_text("".join(json.dumps({"status": s}) + "\n" for s in (200, 404, 200)))
    summary = render_summary(finished_run(str(store)), store_kind="jsonl")
    shell = next(line for line in summary.splitlines() if "jq " in line)
    command = shell.removeprefix("  shell:   ")
    run = subprocess.run(command, shell=True, capture_output=True, text=True, check=True)
    assert run.stdout.split() == ["2", "200", "1", "404"]


def test_pandas_line_is_python_naming_the_path() -> None:
    """The pandas one-liner is valid Python whose string literal is the store's path."""
    path = 'runs/"odd" name\\x.db'
    summary = render_summary(finished_run(path), store_kind="sqlite")
    line = next(line for line in summary.splitlines() if "pandas:" in line)
    code = line.removeprefix("  pandas:  ")
    compile(code, "<summary>", "exec")
    assert f"sqlite3.connect({json.dumps(path)})" in code


def test_other_table_is_queried() -> None:
    """A crawl's items table gets a count query and a pandas read of that table."""
    summary = render_summary(finished_run(), store_kind="sqlite", table="items")
    assert '  shell:   sqlite3 out.db "select count(*) from items"' in summary
    assert 'pd.read_sql("select * from items"' in summary
    assert "results: out.db (SQLite, table items)" in summary


def test_unknown_total() -> None:
    """With no known total, the summary counts what is done, with no share and no remainder."""
    stats = finished_run(done=12_340, ok=12_340)
    summary = render_summary(stats, store_kind="sqlite", resume_command="corral crawl x")
    assert "  URLs        12,340 done" in summary.splitlines()
    assert "%" not in summary
    assert "interrupted. To resume, run the same command again" in summary


def test_zero_done() -> None:
    """A run that finished nothing divides by nothing and says there were no responses."""
    stats = finished_run(elapsed=0.0, total=0)
    summary = render_summary(stats, store_kind="jsonl")
    lines = summary.splitlines()
    assert lines[0] == "corral: done in 0.0s"
    assert "  URLs        0 of 0 done (100.0%)" in lines
    assert "  ok          0" in lines
    assert "  throughput  0 URLs/s, 0 B/s" in lines
    assert "  received    0 B" in lines
    assert "  latency     no responses" in lines
    assert "  by status   none" in lines
    assert "  by error    none" in lines


def test_huge_numbers() -> None:
    """A trillion URLs, an exabyte and four months fit the same layout."""
    stats = finished_run(
        elapsed=1e7,
        total=10**12,
        done=10**12,
        ok=10**12 - 1,
        bytes=10**18,
        retries=3 * 10**11,
    )
    lines = render_summary(stats, store_kind="sqlite").splitlines()
    assert lines[0] == "corral: done in 115d17h"
    assert "  URLs        1,000,000,000,000 of 1,000,000,000,000 done (100.0%)" in lines
    assert "  ok          999,999,999,999" in lines
    assert "  failed                    1" in lines
    assert "  retries     300,000,000,000" in lines
    assert "  throughput  100,000 URLs/s, 100.0 GB/s" in lines
    assert "  received    1.0 EB" in lines


def test_long_tallies_wrap_between_items() -> None:
    """Many statuses wrap at 100 columns, never inside a 'status: count' pair."""
    by_status = {code: 1_000 + code for code in range(200, 600, 7)}
    counters = RunCounters(output="out.db", started=0.0, clock=lambda: 1.0)
    counters.by_status.update(by_status)
    summary = render_summary(counters.snapshot(), store_kind="stdout")
    figures = summary.split("\n\n")[0].splitlines()
    assert all(len(line) <= 100 for line in figures)
    tally = " ".join(line.strip() for line in figures if line.startswith(("  by status", "   ")))
    pairs = tally.removeprefix("by status").strip().split(", ")
    assert pairs == [f"{code}: {n:,}" for code, n in sorted(by_status.items())]


def test_frontier_is_shown_when_a_crawl_has_one() -> None:
    """An interrupted crawl says how many discovered URLs wait in the frontier."""
    stats = finished_run(frontier=5_120, done=40, ok=40)
    assert (
        "  frontier    5,120  (discovered, not fetched yet)"
        in render_summary(stats, store_kind="sqlite").splitlines()
    )
    assert "frontier" not in render_summary(finished_run(), store_kind="sqlite")


def test_finished_run_has_no_resume_line() -> None:
    """Without a resume command the run is reported done, with no resume instructions."""
    summary = render_summary(finished_run(total=3, done=3, ok=3), store_kind="sqlite")
    assert summary.startswith("corral: done in 10s\n")
    assert "interrupted" not in summary
    assert "resume" not in summary.replace("resumed", "")


def test_an_interrupted_run_without_a_resume_command_is_not_reported_done() -> None:
    """``interrupted=True`` with no resume command (stdout, the demo): the head says
    interrupted, and no resume instructions follow."""
    summary = render_summary(
        finished_run(total=3, done=1, ok=1), store_kind="stdout", interrupted=True
    )
    assert summary.startswith("corral: interrupted after 10s\n")
    assert "To resume" not in summary


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"store_kind": "csv"}, "store kind must be one of", id="store-kind"),
        pytest.param(
            {"store_kind": "sqlite", "table": "results; drop"}, "plain SQL identifier", id="table"
        ),
    ],
)
def test_bad_arguments_are_refused(kwargs: dict[str, Any], message: str) -> None:
    """An unknown store kind or a table name that is not an identifier raises ValueError."""
    with pytest.raises(ValueError, match=message):
        render_summary(finished_run(), **kwargs)


@pytest.mark.parametrize(
    ("fields", "line"),
    [
        pytest.param({"total": 1}, "interrupted with 1 of 1 URL left.", id="fetch-one-left"),
        pytest.param({"total": 2, "done": 1}, "interrupted with 1 of 2 URLs left.", id="fetch"),
        pytest.param(
            {"frontier": 1},
            "interrupted with 1 URL discovered and not fetched yet.",
            id="crawl-one-left",
        ),
    ],
)
def test_the_resume_line_says_one_url_in_the_singular(fields: dict[str, Any], line: str) -> None:
    """ "1 URLs" nowhere (a new-user trial): the count of URLs left agrees with its noun."""
    summary = render_summary(finished_run(**fields), store_kind="sqlite", resume_command="c")
    assert f"{line} To resume, run the same command again" in summary
