"""The pytest plugin: fail a test that stalls the loop, blocks it, or leaks asyncio objects.

Switched on with ``--corral-guard`` or ``corral_guard = true`` in the ini file; registered
through the ``pytest11`` entry point, so this module is imported by every pytest run in an
environment with corral: it starts nothing (no thread, no hook) until it is switched on.

Each test runs under a guard of its own (nested in a session-wide one). After each phase
(setup, call, teardown) the findings of that phase fail it; teardown first collects garbage so
that coroutines, tasks and sessions dropped by the test are reported in that test. A finding
about an object created by an earlier test (found by its creation stack) is not charged to
the test running when it surfaced: it is reported at the end of the session, naming the test
that created it, and fails the run.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from corral.guard import Finding, Frame, Guard, GuardConfig

_MARKER = (
    "corral_guard(enabled=True, *, strict=None, threshold=None): configure the corral guard "
    "for this test (threshold in milliseconds); corral_guard(False) switches it off"
)
# Frames of these packages run on the loop thread in every async test; their IO is theirs.
_PYTEST_ALLOW = ("_pytest", "pytest", "pluggy", "pytest_asyncio", "pytest_timeout")


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add the command-line flags and ini options."""
    group = parser.getgroup("corral-guard", "corral guard: fail tests that misuse asyncio")
    group.addoption(
        "--corral-guard",
        action="store_true",
        dest="corral_guard",
        default=None,
        help="fail tests that stall or block the event loop or leak coroutines, tasks or "
        "aiohttp sessions",
    )
    group.addoption(
        "--no-corral-guard",
        action="store_false",
        dest="corral_guard",
        help="switch the corral guard off even if the ini file switches it on",
    )
    parser.addini("corral_guard", "switch the corral guard on", type="bool", default=False)
    parser.addini(
        "corral_guard_strict",
        "fail tests on any blocking call on the event loop's thread",
        type="bool",
        default=True,
    )
    parser.addini(
        "corral_guard_threshold",
        "milliseconds the loop may stay unresponsive before a test fails for a stall",
        default="100",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker; switch the guard on when asked."""
    config.addinivalue_line("markers", _MARKER)
    enabled = config.getoption("corral_guard")
    if enabled is None:
        enabled = config.getini("corral_guard")
    if enabled:
        config.pluginmanager.register(GuardPlugin(config), "corral-guard")


def _base_config(config: pytest.Config) -> GuardConfig:
    from corral.guard import GuardConfig

    raw = str(config.getini("corral_guard_threshold"))
    try:
        threshold = float(raw) / 1000
    except ValueError:
        raise pytest.UsageError(f"corral_guard_threshold: not a number of ms: {raw!r}") from None
    # faulthandler has one timer: leave it to pytest when faulthandler_timeout uses it.
    uses_faulthandler = float(config.getini("faulthandler_timeout") or 0) > 0
    return GuardConfig(
        strict=bool(config.getini("corral_guard_strict")),
        threshold=threshold,
        allow=_PYTEST_ALLOW,
        origin_depth=16,
        gil_fallback=not uses_faulthandler,
    )


class GuardPlugin:
    """Run each test under a guard and turn its findings into failures."""

    def __init__(self, config: pytest.Config) -> None:
        from corral.guard import Guard

        self.base = _base_config(config)
        self.session_guard = Guard(self.base)
        self._test: Guard | None = None
        self._seen = 0
        self._current: str | None = None
        self._order: dict[str, int] = {}
        self._functions: dict[tuple[str, str], list[str]] = {}
        self.late: list[Finding] = []

    # -- TestContext: name tests for the hooks -----------------------------------------------

    def current(self) -> str | None:
        """Return the node id of the running test."""
        return self._current

    def owner(self, origin: tuple[Frame, ...]) -> str | None:
        """Return the test whose function appears innermost in a creation stack."""
        for frame in reversed(origin):
            candidates = self._functions.get((frame.file, frame.function))
            if candidates:
                if self._current in candidates:
                    return self._current
                return max(candidates, key=lambda nodeid: self._order.get(nodeid, -1))
        return None

    # -- session ---------------------------------------------------------------------------

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        from corral.guard._hooks import HOOKS

        HOOKS.tests = self
        self.session_guard.start()

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            function = getattr(item, "function", None)
            code = getattr(getattr(function, "__wrapped__", function), "__code__", None)
            if code is None:
                continue
            for name in {code.co_name, code.co_qualname}:
                self._functions.setdefault((code.co_filename, name), []).append(item.nodeid)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        from corral.guard._hooks import HOOKS

        self.session_guard.stop()
        HOOKS.tests = None
        self.late.extend(self.session_guard.findings)
        if self.late and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.late:
            return
        from corral.guard._report import group_findings

        terminalreporter.section("corral guard: findings outside the test that caused them")
        for group in group_findings(self.late):  # alike ones once, with their count
            test = group.first.test
            terminalreporter.write_line(f"[created in {test}]" if test else "[outside any test]")
            terminalreporter.write_line(group.format())

    # -- each test -------------------------------------------------------------------------

    def _config_for(self, item: pytest.Item) -> GuardConfig | None:
        marker = item.get_closest_marker("corral_guard")
        if marker is None:
            return self.base
        if (marker.args and not marker.args[0]) or not marker.kwargs.get("enabled", True):
            return None
        changes: dict[str, Any] = {}
        if marker.kwargs.get("strict") is not None:
            changes["strict"] = bool(marker.kwargs["strict"])
        if marker.kwargs.get("threshold") is not None:
            changes["threshold"] = float(marker.kwargs["threshold"]) / 1000
        return dataclasses.replace(self.base, **changes)

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> Generator[None, object, object]:
        from corral.guard import Guard, GuardConfig

        self._current = item.nodeid
        self._order[item.nodeid] = len(self._order)
        config = self._config_for(item)
        # A switched-off test still gets a guard, detecting nothing: it keeps the test's
        # objects from being charged to the session.
        self._test = Guard(config or GuardConfig(detect=frozenset())).start()
        self._seen = 0
        try:
            result = yield
        except BaseException:
            self._note(item, "setup")
            raise
        return self._phase(item, "setup", result)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, object, object]:
        try:
            result = yield
        except BaseException:
            self._note(item, "call")
            raise
        return self._phase(item, "call", result)

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> Generator[None, object, object]:
        try:
            result = yield
        except BaseException:
            self._end_test()
            self._note(item, "teardown")
            raise
        finally:
            self._current = None
        self._end_test()
        try:
            return self._phase(item, "teardown", result)
        finally:
            self._test = None

    def _end_test(self) -> None:
        if self._test is not None:
            self._test.stop()  # collects garbage first: the test's dropped objects report now

    def _phase(self, item: pytest.Item, when: str, result: object) -> object:
        mine = self._take(item)
        if mine:
            from corral.guard._report import group_findings

            noun = "finding" if len(mine) == 1 else "findings"
            body = "\n".join(group.format() for group in group_findings(mine))
            pytest.fail(f"corral guard: {len(mine):,} {noun} in {when}\n{body}", False)
        return result

    def _note(self, item: pytest.Item, when: str) -> None:
        # The phase failed already: show the findings beside its error, do not fail it twice.
        mine = self._take(item)
        if mine:
            from corral.guard import format_text

            item.add_report_section(when, "corral guard", format_text(mine))

    def _take(self, item: pytest.Item) -> list[Finding]:
        if self._test is None:
            return []
        findings = self._test.findings
        new, self._seen = findings[self._seen :], len(findings)
        mine = []
        for finding in new:
            if finding.test in (None, item.nodeid) or finding.test not in self._order:
                mine.append(finding)
            else:
                self.late.append(finding)
        return mine
