"""The one store opening of fetch and crawl: check the output, open it, note an earlier run."""

from __future__ import annotations

import functools
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Literal, TypeVar

from corral import to_thread
from corral._clierrors import OutputError
from corral.http._faults import StoreError
from corral.http.store._frontier import Frontier
from corral.http.store._output import prepare_output

S = TypeVar("S", bound=Frontier)
OutputKind = Literal["sqlite", "jsonl", "stdout"]


async def open_store(
    output: str,
    kind: OutputKind,
    opening: Callable[[], Awaitable[S]],
    *,
    overwrite: bool,
    quiet: bool,
    notes: Sequence[str] = (),
    keep_jar: bool = False,
) -> S:
    """Check that the job may write ``output``, open its store with ``opening()``, and say
    on stderr (unless ``quiet``) that an earlier run did not finish; then print ``notes``
    (the run is accepted now: a note before a refusal misled, issue 17). ``keep_jar``:
    ``overwrite`` leaves the cookie jar beside the output (``prepare_output``).

    Raises:
        OutputError: the output cannot be used (nothing ran: its one line, no summary).
    """
    await to_thread(
        functools.partial(prepare_output, output, kind, overwrite=overwrite, keep_jar=keep_jar)
    )
    try:
        store = await opening()
    except StoreError as exc:
        raise OutputError(str(exc)) from None
    if store.earlier is not None and not quiet:
        print(f"corral: {store.earlier.note()}", file=sys.stderr)
    for note in notes:
        print(note, file=sys.stderr)
    return store
