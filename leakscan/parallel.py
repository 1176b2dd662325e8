"""The one worker pool: batches of work spread over forked processes, results in batch order.

Every source uses it (files, git history). State reaches the workers through fork, not pickling,
so it may hold compiled databases. Batches come from an iterable, or from ``Lanes`` that make
each worker's next batch for it. A few batches per worker are in flight, so workers are busy
while this process makes the next ones (a lazy tree walk, say). A worker that dies (killed, out
of memory) is noticed at once: its batches come back as ``Lost`` and no further batch is started,
so the run ends with what it has, never hangs. Ctrl-C and SIGTERM stop every worker at once
(``KeyboardInterrupt`` in the caller)."""

from __future__ import annotations

import gc
import os
import queue
import signal
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, runtime_checkable

from msgspec import Struct, field

if TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from multiprocessing.process import BaseProcess

# Batches sent ahead to each worker, so none waits while this process makes the next batch.
IN_FLIGHT_PER_WORKER = 3

S = TypeVar("S")
T = TypeVar("T")
R = TypeVar("R")
T_co = TypeVar("T_co", covariant=True)


@runtime_checkable
class Lanes(Protocol[T_co]):
    """Batches made for one worker at a time, by its lane (its place in the pool: 0, 1, ...), for
    work where which worker takes a batch changes what it costs; None once none are left."""

    def take(self, lane: int) -> T_co | None: ...


def default_workers() -> int:
    """One worker per available core."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


class Lost(Struct, Generic[T], frozen=True):
    """A batch whose worker died or failed before returning a result, and why."""

    batch: T
    reason: str


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived while workers ran: handled like Ctrl-C (partial report, workers stopped)."""


def _worker_main(conn: Connection, function: Callable[[Any, Any], Any], state: Any) -> None:
    """Worker loop: receive (index, batch), send (index, ok, result or error text) until None."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops the pool on Ctrl-C
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    gc.enable()  # the parent may have paused cyclic collection for its own bookkeeping
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


class _Worker(Struct):
    """One worker process, its lane, the indices of its batches in flight (oldest first), and the
    thread that sends it batches (so this process never blocks on a full pipe while results wait)."""

    lane: int
    process: BaseProcess
    conn: Connection
    outbox: queue.SimpleQueue[Any]
    sender: threading.Thread
    tasks: deque[int] = field(default_factory=deque)


def _send_all(conn: Connection, outbox: queue.SimpleQueue[Any]) -> None:
    while (item := outbox.get()) is not None:
        try:
            conn.send(item)
        except (OSError, ValueError):  # the worker died or the pool is stopping
            return


def map_batches(
    function: Callable[[S, T], R], state: S, batches: Iterable[T] | Lanes[T], workers: int
) -> Iterator[R | Lost[T]]:
    """Yield ``function(state, batch)`` for each batch (``Lost`` for one whose worker died), in
    the order the batches were made, computed in ``workers`` forked processes (in this process
    when 1 or no fork: lane 0 then gives every batch)."""
    if workers > 1:
        import multiprocessing  # only when it is used: start-up time matters

        if "fork" not in multiprocessing.get_all_start_methods():
            workers = 1
    take = _taker(batches)
    if workers <= 1:
        while (batch := take(0)) is not _END:
            yield function(state, batch)
        return
    yield from _Pool(function, state, workers).run(take)


def _taker(batches: Iterable[T] | Lanes[T]) -> Callable[[int], Any]:
    """The next batch for a lane, or ``_END`` once there are none."""
    if isinstance(batches, Lanes):
        lanes: Lanes[T] = batches
        return lambda lane: _END if (batch := lanes.take(lane)) is None else batch
    items = iter(batches)
    return lambda lane: next(items, _END)


class _Pool(Generic[S, T, R]):
    def __init__(self, function: Callable[[S, T], R], state: S, workers: int) -> None:
        self.function = function
        self.state = state
        self.size = workers
        self.workers: list[_Worker] = []
        self._gone: list[_Worker] = []

    def run(self, take: Callable[[int], Any]) -> Iterator[R | Lost[T]]:
        previous = _on_sigterm()
        try:
            self._start()
            yield from self._loop(take)
        finally:
            self._stop()
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)

    def _start(self) -> None:
        import multiprocessing

        context = multiprocessing.get_context("fork")
        for lane in range(self.size):
            parent, child = context.Pipe()
            args = (child, self.function, self.state)
            process = context.Process(target=_worker_main, args=args, daemon=True)
            process.start()
            child.close()
            self.workers.append(_Worker(lane, process, parent, queue.SimpleQueue(), threading.Thread()))
        for worker in self.workers:  # threads only once every worker is forked
            worker.sender = threading.Thread(target=_send_all, args=(worker.conn, worker.outbox), daemon=True)
            worker.sender.start()

    def _loop(self, take: Callable[[int], Any]) -> Iterator[R | Lost[T]]:
        from multiprocessing.connection import wait

        sent: dict[int, T] = {}
        results: dict[int, R | Lost[T]] = {}
        counter = next_out = 0
        exhausted = stopped = False
        while True:
            while not exhausted and not stopped:
                idle = min(self.workers, key=lambda w: len(w.tasks))
                if len(idle.tasks) >= IN_FLIGHT_PER_WORKER:
                    break
                batch = take(idle.lane)
                if batch is _END:
                    exhausted = True
                    break
                idle.outbox.put((counter, batch))
                idle.tasks.append(counter)
                sent[counter] = batch
                counter += 1
            while next_out in results:
                yield results.pop(next_out)
                next_out += 1
            busy = [w for w in self.workers if w.tasks]
            if not busy:
                return
            handles: list[Any] = [w.conn for w in busy] + [w.process.sentinel for w in busy]
            signalled = set(wait(handles))
            for worker in busy:
                if worker.conn in signalled:
                    try:
                        index, ok, value = worker.conn.recv()
                    except (EOFError, OSError):
                        stopped = self._lost(worker, sent, results)
                        continue
                    worker.tasks.remove(index)
                    batch = sent.pop(index)
                    results[index] = value if ok else Lost(batch, f"worker error: {value}")
                elif worker.process.sentinel in signalled:
                    stopped = self._lost(worker, sent, results)

    def _lost(self, worker: _Worker, sent: dict[int, T], results: dict[int, R | Lost[T]]) -> bool:
        """A worker died: its batches are lost and the pool starts no further batch."""
        worker.process.join(timeout=1)
        code = worker.process.exitcode
        how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
        for index in worker.tasks:
            results[index] = Lost(sent.pop(index), f"worker process died ({how})")
        worker.tasks.clear()
        worker.outbox.put(None)
        self.workers.remove(worker)
        self._gone.append(worker)
        return True

    def _stop(self) -> None:
        workers = self.workers + self._gone
        for worker in workers:
            worker.outbox.put(None)
            if worker.process.is_alive():
                worker.process.kill()
        for worker in workers:
            worker.process.join()
            worker.conn.close()
            if worker.sender.is_alive():
                worker.sender.join(timeout=1)
        self.workers = self._gone = []


_END: Any = object()


def _on_sigterm() -> Any:
    """While workers run, SIGTERM raises ``Terminated`` here (main thread only); returns the
    handler to restore, or None when none was installed."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def handler(signum: int, frame: object) -> None:
        raise Terminated()

    return signal.signal(signal.SIGTERM, handler)
