"""corral.testing: tools for testing code built on corral (and corral itself)."""

from __future__ import annotations

from corral.testing._clock import VirtualTimeLoop, run_virtual

__all__ = ["VirtualTimeLoop", "run_virtual"]
