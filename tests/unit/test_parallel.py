"""The one worker pool: results in order, a killed worker is reported and never hangs the run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from leakscan.engine import Engine
from leakscan.models import Outcome, ScanResult
from leakscan.options import ScanOptions
from leakscan.parallel import Lost, map_batches
from leakscan.scan import Scanner
from leakscan.sources.files import FileWalker
from leakscan.synthetic import TokenGenerator
from tests.conftest import MakeRepo


def _square(offset: int, batch: list[int]) -> list[int]:
    return [offset + n * n for n in batch]


def _die_on_seven(state: None, batch: list[int]) -> list[int]:
    if 7 in batch:
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(0.01)
    return batch


def _raise_on_three(state: None, batch: list[int]) -> list[int]:
    if 3 in batch:
        raise ValueError("bad batch")
    return batch


@pytest.mark.parametrize("workers", [1, 2, 3], ids=["in-process", "two-workers", "three-workers"])
def test_results_come_back_in_batch_order(workers: int) -> None:
    batches = [[n, n + 1] for n in range(0, 40, 2)]
    assert list(map_batches(_square, 100, batches, workers)) == [[100 + n * n for n in b] for b in batches]


def _pid(state: None, batch: tuple[int, int]) -> tuple[int, int, int]:
    return (*batch, os.getpid())


class _Counted:
    """Lanes giving each lane its own numbered batches: (lane, n), ten in all."""

    def __init__(self) -> None:
        self.taken: list[tuple[int, int]] = []

    def take(self, lane: int) -> tuple[int, int] | None:
        if len(self.taken) >= 10:
            return None
        self.taken.append((lane, len(self.taken)))
        return self.taken[-1]


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_lanes_make_each_workers_batches_and_results_come_in_the_order_made(workers: int) -> None:
    lanes = _Counted()
    results = list(map_batches(_pid, None, lanes, workers))
    assert [(lane, n) for lane, n, _ in results] == lanes.taken  # the order they were made
    assert {lane for lane, _ in lanes.taken} == set(range(workers))  # every worker asked
    by_lane: dict[int, set[int]] = {}
    for lane, _, pid in results:
        by_lane.setdefault(lane, set()).add(pid)
    # One process per lane, a different one for each (this one when there is a single lane).
    assert all(len(pids) == 1 for pids in by_lane.values())
    pids = [next(iter(by_lane[lane])) for lane in sorted(by_lane)]
    assert len(set(pids)) == workers and (workers > 1 or pids == [os.getpid()])


def test_a_killed_worker_loses_its_batch_and_ends_the_run() -> None:
    batches = [[n] for n in range(50)]
    results = list(map_batches(_die_on_seven, None, iter(batches), 2))
    lost = [r for r in results if isinstance(r, Lost)]
    assert lost and lost[0] == Lost([7], "worker process died (killed by signal 9)")
    done = [r for r in results if not isinstance(r, Lost)]
    # Everything before the dead batch came back, in order; nothing after the run stopped.
    assert done[:7] == [[n] for n in range(7)]
    assert len(results) < len(batches)


def test_a_failing_batch_is_lost_with_the_error_and_the_rest_goes_on() -> None:
    results = list(map_batches(_raise_on_three, None, [[n] for n in range(6)], 2))
    assert results == [[0], [1], [2], Lost([3], "worker error: ValueError: bad batch"), [4], [5]]


def test_file_scan_reports_the_files_of_a_killed_worker(
    tmp_path: Path, tokens: TokenGenerator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file scan with a worker killed (kill -9): its files are failed, the scan ends, exit 2."""
    import leakscan.scan as scan_module

    for n in range(40):
        (tmp_path / f"f{n:02}.txt").write_bytes(
            b"x" * 600_000 + (b"\nt=" + tokens.sqco().encode() if n == 0 else b"")
        )
    monkeypatch.setattr(scan_module, "PARALLEL_MIN_BYTES", 1)
    monkeypatch.setattr(scan_module, "BATCH_BYTES", 1_000_000)
    real = scan_module.examine_batch

    def dying(engine: Engine, batch: list[tuple[str, int]]) -> list[Outcome | int]:
        if any(path.endswith("f20.txt") for path, _ in batch):
            os.kill(os.getpid(), signal.SIGKILL)
        return real(engine, batch)

    monkeypatch.setattr(scan_module, "examine_batch", dying)
    result = ScanResult()
    Scanner(ScanOptions(workers=2)).scan_files(FileWalker([str(tmp_path)]), result)
    failed = {Path(e.path).name: e.error for e in result.errors}
    assert failed["f20.txt"] == "worker process died (killed by signal 9)"
    assert failed[scan_module.WORKER_LOST].startswith(
        "worker process died (killed by signal 9): scan stopped"
    )
    assert [Path(f.path).name for f in result.findings] == ["f00.txt"]
    assert not result.complete


SLOW_SCAN = """
import sys, time
import leakscan.engine as engine_module
import leakscan.scan as scan_module
from leakscan.cli import main

real = engine_module.Engine.examine_many

def slow(engine, blobs):
    for blob, out in zip(blobs, real(engine, blobs)):
        if blob.path.endswith("f01.txt"):
            print("READY", file=sys.stderr, flush=True)
        if not blob.path.endswith("f00.txt"):
            time.sleep(60)
        yield out

engine_module.Engine.examine_many = slow
if "--workers" in sys.argv and sys.argv[sys.argv.index("--workers") + 1] != "1":
    scan_module.PARALLEL_MIN_BYTES = 1  # the worker pool, even for this small tree
    scan_module.BATCH_BYTES = 1  # one file per batch
sys.exit(main(["scan", "--format", "json", *sys.argv[1:]]))
"""


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["sigint", "sigterm"])
@pytest.mark.parametrize("workers", ["1", "2"], ids=["in-process", "workers"])
def test_interrupt_prints_the_partial_report(
    tmp_path: Path, tokens: TokenGenerator, signum: int, workers: str
) -> None:
    """Ctrl-C (or SIGTERM) mid-scan: the findings made so far are reported, interrupted: true,
    exit 130, and no worker is left running."""
    import json

    token = tokens.sqco()
    (tmp_path / "f00.txt").write_text(f"t={token}\n")
    for n in range(1, 4):
        (tmp_path / f"f{n:02}.txt").write_text("nothing\n")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.Popen(
        [sys.executable, "-c", SLOW_SCAN, "--workers", workers, str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )
    assert proc.stderr is not None
    line = proc.stderr.readline()
    assert line.strip() == "READY"
    time.sleep(0.5)  # f00's result reaches the parent
    os.kill(proc.pid, signum)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    report = json.loads(out)
    assert report["stats"]["interrupted"] is True
    assert [Path(f["path"]).name for f in report["findings"]] == ["f00.txt"]
    with pytest.raises(ProcessLookupError):  # no worker outlives the run
        os.killpg(proc.pid, 0)


def test_history_keeps_its_report_when_a_worker_is_killed(
    make_repo: MakeRepo, tokens: TokenGenerator, monkeypatch: pytest.MonkeyPatch
) -> None:
    import leakscan.sources.history as history_module
    from leakscan.history import HistoryOptions, scan_history

    token = tokens.server("u")
    repo = make_repo()
    files = {f"f{n}.txt": f"file {n}\n" for n in range(6)}
    repo.commit({**files, "boom.txt": "kill the worker\n"}, f"add files with {token}")
    boom = repo.git("rev-parse", "HEAD:boom.txt")
    monkeypatch.setattr(history_module, "BATCH_BLOBS", 1)
    real = history_module._scan_in_worker

    def dying(state: history_module.WorkerScan, refs: list[tuple[str, str]]) -> list[Outcome]:
        if boom in (oid for oid, _ in refs):
            os.kill(os.getpid(), signal.SIGKILL)
        return real(state, refs)

    monkeypatch.setattr(history_module, "_scan_in_worker", dying)
    result = scan_history(ScanOptions(), HistoryOptions(repo=str(repo.path), workers=2))
    errors = {e.path: e.error for e in result.errors}
    assert errors["boom.txt"] == f"blob {boom}: worker process died (killed by signal 9)"
    assert errors["<worker>"].startswith("worker process died: blob scan stopped")
    assert [(f.path, f.secret.value) for f in result.findings] == [("<commit message>", token)]
    assert not result.complete and not result.interrupted


def _collects(state: None, batch: list[int]) -> list[bool]:
    import gc

    return [gc.isenabled() for _ in batch]


def test_workers_collect_cycles_even_when_the_parent_paused_collection() -> None:
    import gc

    gc.disable()
    try:
        results = list(map_batches(_collects, None, iter([[1, 2], [3], [4]]), 2))
    finally:
        gc.enable()
    assert results == [[True, True], [True], [True]]


def test_a_pack_order_history_scan_leaves_collection_as_it_found_it(
    make_repo: MakeRepo, tokens: TokenGenerator, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gc

    from leakscan.history import HistoryOptions, scan_history
    from leakscan.sources import history as history_module

    monkeypatch.setattr(history_module, "PACK_ORDER_MIN_BLOBS", 0)
    repo = make_repo()
    repo.commit({"a.env": f"SONAR_TOKEN={tokens.sqco()}\n"})
    paused: list[bool] = []
    original = history_module._pack_order_outcomes

    def spy(*args: object, **kwargs: object) -> object:
        paused.append(not gc.isenabled())
        return original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(history_module, "_pack_order_outcomes", spy)
    for enabled in (True, False):
        (gc.enable if enabled else gc.disable)()
        try:
            result = scan_history(ScanOptions(), HistoryOptions(repo=str(repo.path)))
            assert gc.isenabled() is enabled
        finally:
            gc.enable()
        assert len(result.findings) == 1
    assert paused == [True, True]
