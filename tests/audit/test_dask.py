"""Audits on a real Dask LocalCluster (2 worker processes), one worker killed mid-audit."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from leakscan.audit.runner import AuditOptions, AuditSummary, run_audit
from leakscan.audit.scan_repo import RepoOutcome
from leakscan.audit.targets import parse_target
from leakscan.options import ScanOptions
from tests.audit.conftest import MakeEstate
from tests.audit.test_audit import stored_findings
from tests.conftest import RunCli

distributed = pytest.importorskip("distributed")


@pytest.fixture
def cluster() -> Iterator[Any]:
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as local:
        yield local


def busy_worker_pid(cluster: Any) -> int | None:
    """The process of a worker that is running an audit task right now."""
    with distributed.Client(cluster.scheduler_address) as client:
        processing = client.processing()
    for nanny in cluster.workers.values():
        if processing.get(nanny.worker_address):
            pid: int = nanny.process.process.pid
            return pid
    return None


def test_killed_worker_loses_and_duplicates_nothing(
    cluster: Any, make_estate: MakeEstate, tmp_path: Path
) -> None:
    estate = make_estate(8, bulk=300)
    targets = [t for name in sorted(estate.repos) for t in parse_target(str(estate.repos[name].path))]
    store = tmp_path / "s.sqlite"
    options = AuditOptions(store=store, cache=tmp_path / "cache", scheduler=cluster.scheduler_address)
    outcomes: list[RepoOutcome] = []
    killed: list[int] = []

    def progress(_summary: AuditSummary, outcome: RepoOutcome) -> None:
        outcomes.append(outcome)
        victim = None if killed else busy_worker_pid(cluster)
        if victim is not None:  # killed while it holds a repository
            os.kill(victim, signal.SIGKILL)
            killed.append(victim)

    summary = run_audit(targets, ScanOptions(), options, progress)
    assert killed
    assert sorted(o.name for o in outcomes) == sorted(estate.repos)  # each repository once
    assert {o.status for o in outcomes} == {"ok"}
    assert summary.failed == []
    assert stored_findings(store) == [
        (name, "conf/sonar.properties", estate.tokens[name], None) for name in sorted(estate.repos)
    ]
    assert summary.blobs_scanned == 8 * (4 + 300)

    again: list[RepoOutcome] = []
    rerun = run_audit(targets, ScanOptions(), options, lambda _s, o: again.append(o))
    assert rerun.blobs_scanned == 0
    assert [o.status for o in again] == ["unchanged"] * 8


def test_scheduler_local_skips_known_blobs(make_estate: MakeEstate, tmp_path: Path) -> None:
    estate = make_estate(2)
    targets = [t for name in sorted(estate.repos) for t in parse_target(str(estate.repos[name].path))]
    store = tmp_path / "s.sqlite"
    local = AuditOptions(store=store, cache=tmp_path / "cache", workers=1)
    run_audit(targets, ScanOptions(), local)
    estate.repos["r1"].commit({"new.txt": "fresh\n"})
    outcomes: list[RepoOutcome] = []
    options = AuditOptions(store=store, cache=tmp_path / "cache", scheduler="local", workers=1)
    run_audit(targets, ScanOptions(), options, lambda _s, o: outcomes.append(o))
    by_name = {o.name: o for o in outcomes}
    assert by_name["r0"].status == "unchanged"
    assert (by_name["r1"].blobs_scanned, by_name["r1"].blobs_skipped) == (2, 3)


def test_unreachable_scheduler_is_one_line_and_exit_2(
    make_estate: MakeEstate, tmp_path: Path, run_cli: RunCli
) -> None:
    """No scheduler listens: the audit stops before anything is cloned or stored, naming the address."""
    import socket

    estate = make_estate(1)
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    store = tmp_path / "store.sqlite"
    proc = run_cli(
        "audit",
        "run",
        "--store",
        str(store),
        "--cache",
        str(tmp_path / "cache"),
        "--scheduler",
        address,
        str(estate.repos["r0"].path),
        env={"DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "2s"},
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"Error: --scheduler {address}: cannot connect:"), proc.stderr
    assert len(proc.stderr.splitlines()) == 1
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())
