"""The store's lock: one holder at a time, who it is, and free again when the holder dies."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from corral.http.store._lock import Holder, LockHeld, holding, local_time, take

pytestmark = pytest.mark.corral_guard(strict=False)  # files and processes, in sync tests

STARTED = "2024-05-01T14:02:11.000+00:00"


def test_a_held_lock_refuses_another_taker_and_says_who_holds_it(tmp_path: Path) -> None:
    """A second take (even by another descriptor of the same process) fails at once with
    the holder as the lock file records it."""
    path = str(tmp_path / "s.db.lock")
    lock = take(path, pid=4121, host="x", started=STARTED, command="corral fetch")
    try:
        with pytest.raises(LockHeld) as refused:
            take(path, pid=1, host="y", started=STARTED, command="corral crawl")
        assert refused.value.holder == Holder(4121, "x", STARTED, "corral fetch")
        assert (
            str(refused.value) == f"corral fetch (pid 4121 on host x, since {local_time(STARTED)})"
        )
    finally:
        lock.release()


def test_release_removes_the_file_and_frees_the_lock(tmp_path: Path) -> None:
    """Released, the lock file is gone and the next taker gets the lock."""
    path = tmp_path / "s.db.lock"
    with holding(str(path), "corral demo"):
        assert path.exists()
    assert not path.exists()
    take(str(path), pid=1, host="h", started=STARTED, command="c").release()


_HOLDS_AND_SLEEPS = """
import sys, time
from corral.http.store._lock import holding
with holding(sys.argv[1], "corral crawl"):
    print("held", flush=True)
    time.sleep(600)
"""


def test_the_lock_of_a_killed_process_is_free(tmp_path: Path) -> None:
    """A holder killed with SIGKILL holds nothing: the kernel dropped its lock; the file it
    left behind is taken over."""
    path = tmp_path / "s.db.lock"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            _HOLDS_AND_SLEEPS,
            str(path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == "held\n"
        with pytest.raises(LockHeld) as refused:
            take(str(path), pid=1, host="h", started=STARTED, command="c")
        assert refused.value.holder is not None
        assert refused.value.holder.pid == holder.pid
        assert refused.value.holder.host == socket.gethostname()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.communicate()
    assert path.exists()  # left behind by the killed holder
    take(str(path), pid=os.getpid(), host="h", started=STARTED, command="c").release()


def test_a_lock_file_not_written_yet_names_no_one(tmp_path: Path) -> None:
    """Taken a moment ago and not yet written (or written by something else): the refusal
    says "another run" rather than inventing a holder."""
    path = tmp_path / "s.db.lock"
    lock = take(str(path), pid=1, host="h", started=STARTED, command="c")
    try:
        path.write_text("")
        with pytest.raises(LockHeld, match=r"^another run$"):
            take(str(path), pid=2, host="h", started=STARTED, command="c")
    finally:
        lock.release()


def test_local_time_gives_the_date_only_for_another_day() -> None:
    """Today's times read as a wall clock; other days' with their date."""
    now = datetime.now(UTC)
    assert len(local_time(now.isoformat())) == len("14:02:11")
    yesterday = local_time((now - timedelta(days=1)).isoformat())
    assert len(yesterday) == len("2024-05-01 14:02:11")
