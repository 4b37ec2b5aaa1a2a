"""An interrupted ``corral demo`` says it was interrupted, and gives no resume command."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path


def _results(db: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            return int(conn.execute("select count(*) from results").fetchone()[0])
    except sqlite3.Error:
        return 0


def test_an_interrupted_demo_gives_no_resume_command(tmp_path: Path) -> None:
    """Ctrl-C during ``corral demo``: exit 130 and no resume command. The demo's URLs point at
    a site that ends with it: the `corral fetch` it used to advise recorded thousands of
    connect failures as final results."""
    db = tmp_path / "demo.db"
    job = subprocess.Popen(
        [sys.executable, "-m", "corral", "demo", "-o", str(db)],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )
    try:
        assert job.stderr is not None
        line = job.stderr.readline()
        assert line.startswith("corral demo: fetching"), line
        # The child's store is the one thing this test can watch: poll it (there is no event
        # to wait for across processes) until the fetching has committed its first records.
        deadline = time.monotonic() + 60
        while _results(db) == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        job.send_signal(signal.SIGINT)
        stderr = line + job.stderr.read()
        code = job.wait(60)
    finally:
        if job.poll() is None:
            job.kill()
            job.wait()
        if job.stderr is not None:
            job.stderr.close()
    assert code == 130, stderr
    assert "corral: interrupted after" in stderr
    assert "To resume" not in stderr
    assert "corral fetch" not in stderr
