"""Tests of corral.testing, the local test site."""
