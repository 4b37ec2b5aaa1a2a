"""The rules, one per module, listed in code order as classes (no string registry)."""

from __future__ import annotations

from corral.lint._rule import Rule
from corral.lint._rules.blocking import BlockingCall
from corral.lint._rules.dropped_task import DroppedTask
from corral.lint._rules.executor import ExecutorPerCall
from corral.lint._rules.forgotten_await import ForgottenAwait
from corral.lint._rules.gather_errors import GatherLosesResults
from corral.lint._rules.loop_misuse import LoopMisuse
from corral.lint._rules.nested_loop import NestedLoop
from corral.lint._rules.queue_join import QueueNeverDone
from corral.lint._rules.retry_reuse import RetryReusesCoroutine
from corral.lint._rules.session import SessionLifetime
from corral.lint._rules.shared_state import SharedStateRace
from corral.lint._rules.unbounded import UnboundedConcurrency

ALL_RULES: tuple[type[Rule], ...] = (
    BlockingCall,
    ForgottenAwait,
    SessionLifetime,
    NestedLoop,
    UnboundedConcurrency,
    GatherLosesResults,
    SharedStateRace,
    RetryReusesCoroutine,
    DroppedTask,
    LoopMisuse,
    ExecutorPerCall,
    QueueNeverDone,
)
