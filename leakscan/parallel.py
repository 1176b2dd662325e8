"""Spread batches of work over worker processes (fork), with per-worker state set once."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

_worker_state: Any = None


def default_workers() -> int:
    """One worker per available core."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def _set_state(state: Any) -> None:
    """Worker start-up: keep the state, and leave Ctrl-C to the parent (it stops the pool)."""
    global _worker_state
    _worker_state = state
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _call(task: tuple[Callable[[Any, Any], Any], Any]) -> Any:
    function, batch = task
    return function(_worker_state, batch)


def map_batches(
    function: Callable[[Any, T], R], state: Any, batches: Iterable[T], workers: int
) -> Iterator[R]:
    """Yield ``function(state, batch)`` for each batch, computed in ``workers`` forked processes.

    ``state`` reaches the workers through fork, not pickling, so it may hold compiled databases.
    Results come back in batch order. Falls back to this process when fork is unavailable.
    """
    if workers > 1:
        import multiprocessing  # only when it is used: start-up time matters

        if "fork" not in multiprocessing.get_all_start_methods():
            workers = 1
    if workers <= 1:
        for batch in batches:
            yield function(state, batch)
        return
    context = multiprocessing.get_context("fork")
    pool = context.Pool(workers, initializer=_set_state, initargs=(state,))
    try:
        yield from pool.imap(_call, ((function, batch) for batch in batches))
        pool.close()
    finally:
        pool.terminate()
        pool.join()
