"""The one worker pool: batches of work spread over forked processes, results in batch order.

Every source uses it (files, git history). State reaches the workers through fork, not pickling,
so it may hold compiled databases. Each worker has one batch at a time; the next batches are made
ready while the workers run. A worker that dies (killed, out of memory) is noticed at once: its
batch comes back as ``Lost`` and no further batch is started, so the run ends with what it has,
never hangs. Ctrl-C and SIGTERM stop every worker at once (``KeyboardInterrupt`` in the caller).
"""

from __future__ import annotations

import os
import signal
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from multiprocessing.process import BaseProcess

S = TypeVar("S")
T = TypeVar("T")
R = TypeVar("R")


def default_workers() -> int:
    """One worker per available core."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True, slots=True)
class Lost(Generic[T]):
    """A batch whose worker died or failed before returning a result, and why."""

    batch: T
    reason: str


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived while workers ran: handled like Ctrl-C (partial report, workers stopped)."""


def _worker_main(conn: Connection, function: Callable[[Any, Any], Any], state: Any) -> None:
    """Worker loop: receive (index, batch), send (index, ok, result or error text) until None."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops the pool on Ctrl-C
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    while True:
        try:
            task = conn.recv()
        except EOFError:
            return
        if task is None:
            return
        index, batch = task
        try:
            reply = (index, True, function(state, batch))
        except Exception as exc:  # reported as a lost batch, the pool goes on
            reply = (index, False, f"{type(exc).__name__}: {exc}")
        conn.send(reply)


@dataclass(slots=True)
class _Worker:
    process: BaseProcess
    conn: Connection
    task: int | None = None


def map_batches(
    function: Callable[[S, T], R], state: S, batches: Iterable[T], workers: int
) -> Iterator[R | Lost[T]]:
    """Yield ``function(state, batch)`` for each batch (``Lost`` for one whose worker died), in
    batch order, computed in ``workers`` forked processes (in this process when 1 or no fork)."""
    if workers > 1:
        import multiprocessing  # only when it is used: start-up time matters

        if "fork" not in multiprocessing.get_all_start_methods():
            workers = 1
    if workers <= 1:
        for batch in batches:
            yield function(state, batch)
        return
    yield from _Pool(function, state, workers).run(iter(batches))


class _Pool(Generic[S, T, R]):
    def __init__(self, function: Callable[[S, T], R], state: S, workers: int) -> None:
        self.function = function
        self.state = state
        self.size = workers
        self.workers: list[_Worker] = []

    def run(self, batches: Iterator[T]) -> Iterator[R | Lost[T]]:
        previous = _on_sigterm()
        try:
            self._start()
            yield from self._loop(batches)
        finally:
            self._stop()
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)

    def _start(self) -> None:
        import multiprocessing

        context = multiprocessing.get_context("fork")
        for _ in range(self.size):
            parent, child = context.Pipe()
            process = context.Process(
                target=_worker_main, args=(child, self.function, self.state), daemon=True
            )
            process.start()
            child.close()
            self.workers.append(_Worker(process, parent))

    def _loop(self, batches: Iterator[T]) -> Iterator[R | Lost[T]]:
        from multiprocessing.connection import wait

        ready: deque[tuple[int, T]] = deque()  # made (the source may be a lazy walk), not yet sent
        sent: dict[int, T] = {}
        results: dict[int, R | Lost[T]] = {}
        counter = 0
        exhausted = stopped = False
        next_out = 0
        while True:
            while not exhausted and not stopped and len(ready) < len(self.workers):
                batch = next(batches, _END)
                if batch is _END:
                    exhausted = True
                else:
                    ready.append((counter, batch))
                    counter += 1
            for worker in self.workers:
                if worker.task is None and ready and not stopped:
                    index, batch = ready.popleft()
                    worker.conn.send((index, batch))
                    worker.task = index
                    sent[index] = batch
            while next_out in results:
                yield results.pop(next_out)
                next_out += 1
            busy = [w for w in self.workers if w.task is not None]
            if not busy:
                if stopped:
                    for index, batch in ready:
                        results[index] = Lost(batch, "not started: a worker process died")
                    ready.clear()
                    while next_out in results:
                        yield results.pop(next_out)
                        next_out += 1
                if exhausted or stopped:
                    return
                continue
            handles: list[Any] = [w.conn for w in busy] + [w.process.sentinel for w in busy]
            signalled = set(wait(handles))
            for worker in busy:
                if worker.conn in signalled or worker.conn.poll():
                    try:
                        index, ok, value = worker.conn.recv()
                    except (EOFError, OSError):
                        stopped |= self._lost(worker, sent, results)
                        continue
                    batch = sent.pop(index)
                    results[index] = value if ok else Lost(batch, f"worker error: {value}")
                    worker.task = None
                elif worker.process.sentinel in signalled:
                    stopped |= self._lost(worker, sent, results)

    def _lost(self, worker: _Worker, sent: dict[int, T], results: dict[int, R | Lost[T]]) -> bool:
        """A worker died: its batch is lost and the pool starts no further batch."""
        assert worker.task is not None
        worker.process.join(timeout=1)
        code = worker.process.exitcode
        how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
        results[worker.task] = Lost(sent.pop(worker.task), f"worker process died ({how})")
        worker.task = None
        self.workers.remove(worker)
        return True

    def _stop(self) -> None:
        for worker in self.workers:
            if worker.process.is_alive():
                worker.process.kill()
        for worker in self.workers:
            worker.process.join()
            worker.conn.close()
        self.workers = []


_END: Any = object()


def _on_sigterm() -> Any:
    """While workers run, SIGTERM raises ``Terminated`` here (main thread only); returns the
    handler to restore, or None when none was installed."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def handler(signum: int, frame: object) -> None:
        raise Terminated()

    return signal.signal(signal.SIGTERM, handler)
