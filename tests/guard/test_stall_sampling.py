"""The watchdog's sampling of the loop thread's stack at its edges."""

from __future__ import annotations

import asyncio
import os

from corral.guard._finding import Frame
from corral.guard._frames import trim
from corral.guard._stall import _idle


def test_a_loop_caught_between_callbacks_is_idle() -> None:
    """A sample taken while the loop thread is in ``Handle._run`` itself, before any callback
    frame, trims to an empty stack: nothing to blame, and no IndexError in the watchdog's
    thread (seen once under load: ``stack[-1]`` on an empty stack)."""
    events = os.path.join(os.path.dirname(asyncio.__file__), "events.py")
    stack = (
        Frame(file="/app/main.py", line=3, function="<module>"),
        Frame(file=events, line=84, function="_run"),
    )
    assert trim(stack) == ()
    assert _idle(trim(stack))
