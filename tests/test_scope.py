"""open_scope: children are awaited, failures cancel siblings, nothing is left behind."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import corral

SRC = Path(__file__).resolve().parents[1] / "src"


async def _sleep_then(seconds: float, value: object = None) -> object:
    await asyncio.sleep(seconds)
    return value


async def _fail_after_sleep(seconds: float, error: Exception) -> None:
    await asyncio.sleep(seconds)
    raise error


@pytest.mark.virtual_time
async def test_scope_waits_for_every_child() -> None:
    """Leaving the block waits until all children are done; their tasks hold the results."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    async with corral.open_scope() as scope:
        tasks = [await scope.spawn(_sleep_then, s, s) for s in (3, 1, 2)]
    assert loop.time() - start == pytest.approx(3)
    assert [t.result() for t in tasks] == [3, 1, 2]


@pytest.mark.virtual_time
async def test_child_failure_cancels_siblings_and_body_and_raises_itself() -> None:
    """A failing child cancels the others and the body; its exception comes out unwrapped."""
    error = ValueError("child")
    body_reached_end = False
    with pytest.raises(ValueError, match="child") as info:
        async with corral.open_scope() as scope:
            sibling = await scope.spawn(_sleep_then, 100)
            await scope.spawn(_fail_after_sleep, 1, error)
            await asyncio.sleep(100)
            body_reached_end = True
    assert info.value is error
    assert not isinstance(info.value, BaseExceptionGroup)
    assert sibling.cancelled()
    assert not body_reached_end


@pytest.mark.virtual_time
async def test_several_failures_raise_the_first_and_note_the_rest() -> None:
    """Two children failing at once: the first is raised, the other named in a note."""
    first, second = KeyError("a"), IndexError("b")
    with pytest.raises(KeyError) as info:
        async with corral.open_scope() as scope:
            await scope.spawn(_fail_after_sleep, 1, first)
            await scope.spawn(_fail_after_sleep, 1, second)
    assert info.value is first
    assert any("IndexError" in note for note in info.value.__notes__)
    assert scope.errors == (first, second)


@pytest.mark.virtual_time
async def test_collect_mode_lets_siblings_finish() -> None:
    """on_error='collect': failures are recorded in scope.errors; siblings keep running."""
    error = RuntimeError("lonely failure")
    async with corral.open_scope(on_error="collect") as scope:
        ok = await scope.spawn(_sleep_then, 5, "done")
        bad = await scope.spawn(_fail_after_sleep, 1, error)
    assert ok.result() == "done"
    assert bad.exception() is error
    assert scope.errors == (error,)


@pytest.mark.virtual_time
async def test_limit_gives_backpressure_and_creates_coroutines_late() -> None:
    """With limit=3, spawn waits for a slot and the child function is called only then."""
    calls = 0
    running = peak = 0

    async def child() -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(1)
        running -= 1

    def make_child() -> object:
        nonlocal calls
        calls += 1
        return child()

    loop = asyncio.get_running_loop()
    start = loop.time()
    async with corral.open_scope(limit=3) as scope:
        for i in range(9):
            await scope.spawn(make_child)  # type: ignore[arg-type]
            assert calls == i + 1
            # three slots free up each second: no coroutine is made ahead of its slot
            assert calls <= 3 * (round(loop.time() - start) + 1)
    assert peak == 3
    assert loop.time() - start == pytest.approx(3)


@pytest.mark.virtual_time
async def test_outer_cancel_cancels_children_and_propagates() -> None:
    """Cancelling the task that owns the scope cancels every child and re-raises."""
    children: list[asyncio.Task[object]] = []

    async def owner() -> None:
        async with corral.open_scope() as scope:
            for _ in range(3):
                children.append(await scope.spawn(_sleep_then, 100))
            await asyncio.sleep(100)

    task = asyncio.get_running_loop().create_task(owner())
    await asyncio.sleep(1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert all(child.cancelled() for child in children)


@pytest.mark.virtual_time
async def test_outer_timeout_wins_over_a_failing_scope() -> None:
    """An asyncio.timeout around a scope fires as TimeoutError and the children end."""
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(2):
            async with corral.open_scope() as scope:
                child = await scope.spawn(_sleep_then, 100)
    assert child.cancelled()


@pytest.mark.virtual_time
async def test_cancel_method_exits_quietly() -> None:
    """scope.cancel() stops the children and the body; the scope exits without an error."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    async with corral.open_scope() as scope:
        child = await scope.spawn(_sleep_then, 100)
        loop.call_later(1, scope.cancel)
        await asyncio.sleep(100)
    assert child.cancelled()
    assert loop.time() - start == pytest.approx(1)


@pytest.mark.virtual_time
async def test_body_error_cancels_children_and_propagates() -> None:
    """An exception in the body cancels the children and is raised as itself."""
    with pytest.raises(ZeroDivisionError):
        async with corral.open_scope() as scope:
            child = await scope.spawn(_sleep_then, 100)
            raise ZeroDivisionError
    assert child.cancelled()


@pytest.mark.virtual_time
async def test_cleanups_run_last_first_after_children_even_when_cancelled() -> None:
    """on_exit callbacks run after the children, in reverse order, shielded from a cancel."""
    events: list[str] = []

    async def async_cleanup(name: str) -> None:
        await asyncio.sleep(1)
        events.append(name)

    async def owner() -> None:
        async with corral.open_scope() as scope:
            scope.on_exit(events.append, "sync-first-registered")
            scope.on_exit(async_cleanup, "async-second")
            await scope.spawn(_sleep_then, 100)
            await asyncio.sleep(100)

    task = asyncio.get_running_loop().create_task(owner())
    await asyncio.sleep(1)
    task.cancel()
    await asyncio.sleep(0.5)
    task.cancel()  # a second cancel during clean-up does not cut it short
    with pytest.raises(asyncio.CancelledError):
        await task
    assert events == ["async-second", "sync-first-registered"]


@pytest.mark.virtual_time
async def test_a_hanging_cleanup_is_cut_at_its_timeout() -> None:
    """A cleanup that never ends is stopped after cleanup_timeout and reported."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    with pytest.raises(TimeoutError):
        async with corral.open_scope(cleanup_timeout=2) as scope:
            scope.on_exit(asyncio.sleep, 1000)
    assert loop.time() - start == pytest.approx(2)


async def test_spawn_refuses_when_not_open_or_given_a_coroutine() -> None:
    """Spawning before entering, after leaving, or with a coroutine object is refused."""
    scope = corral.open_scope()
    with pytest.raises(corral.ScopeClosed, match="enter"):
        await scope.spawn(_sleep_then, 0)
    async with scope:
        coro = _sleep_then(0)
        with pytest.raises(TypeError, match="coroutine object"):
            await scope.spawn(coro)  # type: ignore[arg-type]
    with pytest.raises(corral.ScopeClosed, match="finishing"):
        await scope.spawn(_sleep_then, 0)


async def test_start_soon_starts_a_child_without_awaiting() -> None:
    """start_soon is a plain call: the child is started and its task returned at once."""
    async with corral.open_scope() as scope:
        task = scope.start_soon(_sleep_then, 0, "done")
        assert scope.running == 1
    assert task.result() == "done"


@pytest.mark.virtual_time
async def test_start_soon_with_a_limit_queues_children_in_order() -> None:
    """Past the limit, start_soon never waits: its children queue and call fn only with a slot."""
    started: list[int] = []
    running = peak = 0

    async def child(i: int) -> None:
        nonlocal running, peak
        started.append(i)
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(1)
        running -= 1

    loop = asyncio.get_running_loop()
    start = loop.time()
    async with corral.open_scope(limit=2) as scope:
        for i in range(6):
            scope.start_soon(child, i)
        assert loop.time() == start  # nothing waited
        await asyncio.sleep(0)
        assert started == [0, 1]  # the rest hold no coroutine yet
    assert started == [0, 1, 2, 3, 4, 5]
    assert peak == 2
    assert loop.time() - start == pytest.approx(3)


@pytest.mark.virtual_time
async def test_start_soon_queued_children_are_cancelled_uncalled_when_a_sibling_fails() -> None:
    """A failure cancels children still queued for a slot; their function is never called."""
    called: list[int] = []

    async def child(i: int) -> None:
        called.append(i)
        await asyncio.sleep(10)

    error = ValueError("first")
    with pytest.raises(ValueError, match="first"):
        async with corral.open_scope(limit=1) as scope:
            scope.start_soon(_fail_after_sleep, 1, error)
            queued = [scope.start_soon(child, i) for i in range(3)]
    assert called == []
    assert all(task.cancelled() for task in queued)


async def test_start_soon_refuses_when_not_open_or_given_a_coroutine() -> None:
    """start_soon before entering, after leaving, or with a coroutine object is refused."""
    scope = corral.open_scope(limit=1)
    with pytest.raises(corral.ScopeClosed, match="enter"):
        scope.start_soon(_sleep_then, 0)
    async with scope:
        coro = _sleep_then(0)
        with pytest.raises(TypeError, match="coroutine object"):
            scope.start_soon(coro)  # type: ignore[arg-type]
    with pytest.raises(corral.ScopeClosed, match="finishing"):
        scope.start_soon(_sleep_then, 0)


async def test_start_soon_without_a_limit_checks_fn_returns_a_coroutine() -> None:
    """Without a limit fn is called at once, so a sync function is a TypeError right there."""
    async with corral.open_scope() as scope:
        with pytest.raises(TypeError, match="async function"):
            scope.start_soon(len, "abc")  # type: ignore[arg-type]


@pytest.mark.virtual_time
async def test_on_error_raise_is_the_default_and_cancel_is_a_deprecated_spelling() -> None:
    """on_error="raise" (map's word) is the default; "cancel" still works but warns."""
    error = ValueError("child")
    with pytest.raises(ValueError, match="child"):
        async with corral.open_scope(on_error="raise") as scope:
            sibling = await scope.spawn(_sleep_then, 100)
            await scope.spawn(_fail_after_sleep, 1, error)
    assert sibling.cancelled()
    with pytest.warns(DeprecationWarning, match='on_error="raise"') as warned:
        old = corral.open_scope(on_error="cancel")  # type: ignore[arg-type]
    assert warned[0].filename == __file__
    with pytest.raises(ValueError, match="child"):
        async with old as scope:
            sibling = await scope.spawn(_sleep_then, 100)
            await scope.spawn(_fail_after_sleep, 1, error)
    assert sibling.cancelled()
    with pytest.raises(ValueError, match="'raise' or 'collect'"):
        corral.open_scope(on_error="ignore")  # type: ignore[arg-type]


@pytest.mark.virtual_time
async def test_children_may_spawn_while_the_scope_waits() -> None:
    """A child can spawn a grandchild into the scope after the body has finished."""
    done: list[str] = []

    async def parent(scope: corral.Scope) -> None:
        await asyncio.sleep(1)
        await scope.spawn(grandchild)

    async def grandchild() -> None:
        await asyncio.sleep(1)
        done.append("grandchild")

    async with corral.open_scope() as scope:
        await scope.spawn(parent, scope)
    assert done == ["grandchild"]


SCENARIOS = textwrap.dedent(
    """
    import asyncio, gc, corral

    async def sleeper(s):
        await asyncio.sleep(s)

    async def boom():
        await asyncio.sleep(0.01)
        raise ValueError("boom")

    async def scenario_child_failure():
        try:
            async with corral.open_scope(limit=2) as scope:
                await scope.spawn(boom)
                for _ in range(5):
                    await scope.spawn(sleeper, 10)  # waits for a slot while the failure lands
        except ValueError:
            pass

    async def scenario_cancel_while_spawn_waits():
        async def owner():
            async with corral.open_scope(limit=1) as scope:
                await scope.spawn(sleeper, 10)
                await scope.spawn(sleeper, 10)
        task = asyncio.ensure_future(owner())
        await asyncio.sleep(0.01)
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass

    async def scenario_timeout():
        try:
            async with asyncio.timeout(0.01):
                async with corral.open_scope() as scope:
                    await scope.spawn(sleeper, 10)
                    await scope.spawn(boom)
        except (TimeoutError, ValueError):
            pass

    async def main():
        await scenario_child_failure()
        await scenario_cancel_while_spawn_waits()
        await scenario_timeout()
        gc.collect()
        print("ok")

    asyncio.run(main(), debug=True)
    gc.collect()
    """
)


def _interpreters() -> list[pytest.ParameterSet]:
    found = [pytest.param(sys.executable, id=f"py{sys.version_info[0]}{sys.version_info[1]}")]
    for version in ("3.13", "3.12"):
        candidate = Path(f"/root/.pyenv/versions/{version}.0/bin/python")
        if candidate.exists() and version != f"{sys.version_info[0]}.{sys.version_info[1]}":
            found.append(pytest.param(str(candidate), id=f"py{version.replace('.', '')}"))
    return found


@pytest.mark.parametrize("python", _interpreters())
def test_no_path_leaves_pending_tasks_or_unawaited_coroutines(python: str) -> None:
    """Failure, cancellation while spawn waits, and timeout leave no asyncio warnings behind."""
    env = {**os.environ, "PYTHONPATH": str(SRC), "PYTHONWARNINGS": "error"}
    run = subprocess.run(
        [python, "-X", "dev", "-c", SCENARIOS],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "ok"
    for warning in ("was never awaited", "Task was destroyed", "exception was never retrieved"):
        assert warning not in run.stderr
