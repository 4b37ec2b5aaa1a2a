"""Fixtures and plugins shared by the whole test suite."""

# pytester runs the guard's pytest plugin in a pytest session of its own (tests/guard).
pytest_plugins = ["pytester"]
