"""Tests of ``corral lint``."""
