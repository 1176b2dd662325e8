"""Run an audit: one task per repository on a local process pool or a Dask cluster; the store is
written here, in the client, as each result arrives.

Local pool: a lost worker process breaks the pool; it is started again and the repositories
that had not come back are resubmitted (once). Dask: the scheduler reruns the tasks of a lost
worker itself; a task that still fails is recorded as that repository's error. Ctrl-C stops
scheduling; every repository already written stays in the store and the next audit resumes.
"""

from __future__ import annotations

import importlib
import itertools
import multiprocessing
import os
import signal
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import pygit2
from msgspec import Struct, field
from msgspec.structs import replace

from leakscan.audit.scan_repo import (
    BlobSet,
    RepoOutcome,
    RepoTask,
    audit_repository,
    ref_tips,
    ruleset_fingerprint,
)
from leakscan.audit.store import Store
from leakscan.audit.targets import Target
from leakscan.errors import LeakscanError, UsageError
from leakscan.options import ScanOptions, ValidationConfig
from leakscan.rules import Rule, load_rules
from leakscan.sources.git import open_repo

LOCAL_POOL_RESUBMITS = 1
DASK_TASK_RETRIES = 1


class AuditOptions(Struct, frozen=True):
    """How to run an audit. ``scheduler``: None = local pool, ``local`` = a LocalCluster, else the
    address of a Dask scheduler. ``workers`` 0 = one per core (local pool / LocalCluster)."""

    store: Path
    cache: Path
    scheduler: str | None = None
    workers: int = 0
    timeout: float = 600.0
    retries: int = 2
    validation: ValidationConfig | None = None


class AuditSummary(Struct):
    """Counters of one audit, filled as repositories finish."""

    total: int
    done: int = 0
    ok: int = 0
    unchanged: int = 0
    failed: list[RepoOutcome] = field(default_factory=list)
    blobs_scanned: int = 0
    blobs_skipped: int = 0
    findings: int = 0
    new_findings: int = 0
    validated: int = 0
    interrupted: bool = False
    started: float = field(default_factory=time.perf_counter)

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    @property
    def blobs_per_s(self) -> float:
        return self.blobs_scanned / self.elapsed if self.elapsed > 0 else 0.0

    def add(self, outcome: RepoOutcome) -> None:
        self.done += 1
        if outcome.status == "ok":
            self.ok += 1
        elif outcome.status == "unchanged":
            self.unchanged += 1
        else:
            self.failed.append(outcome)
        self.blobs_scanned += outcome.blobs_scanned
        self.blobs_skipped += outcome.blobs_skipped
        self.findings += len(outcome.findings)

    def progress_line(self, outcome: RepoOutcome) -> str:
        """One line per finished repository: done/total, what it gave, the blob rate so far."""
        detail = (
            outcome.error
            if outcome.status == "error"
            else (
                f"{outcome.blobs_scanned} blobs scanned, {outcome.blobs_skipped} already scanned,"
                f" {len(outcome.findings)} finding(s)"
            )
        )
        return (
            f"audit: [{self.done}/{self.total}] {outcome.name}: {outcome.status}: {detail}"
            f" ({self.blobs_per_s:.0f} blobs/s)"
        )

    def describe(self, store: Path, validated: bool) -> str:
        """The summary line printed at the end."""
        text = (
            f"audit: {self.done}/{self.total} repositories ({self.ok} scanned, {self.unchanged} unchanged,"
            f" {len(self.failed)} failed), {self.blobs_scanned} blobs scanned, {self.blobs_skipped} already"
            f" scanned, {self.findings} finding(s) reported ({self.new_findings} new)"
        )
        if validated:
            text += f", {self.validated} unique secret(s) validated"
        return text + f" in {self.elapsed:.1f}s; store {store}"


AuditProgress = Callable[[AuditSummary, RepoOutcome], None]


class Executor(Protocol):
    def run(self, tasks: Sequence[RepoTask]) -> Iterator[RepoOutcome]: ...

    def close(self) -> None: ...


def run_audit(
    targets: Sequence[Target],
    options: ScanOptions,
    audit: AuditOptions,
    progress: AuditProgress | None = None,
) -> AuditSummary:
    """Audit ``targets`` into the store; return the summary (never raises for one repository)."""
    task_options = replace(options, validation=None, baseline=None, workers=1)
    summary = AuditSummary(total=len(targets))
    when = datetime.now(UTC).isoformat(timespec="microseconds")
    with Store(audit.store) as store:
        ruleset = store.ruleset_id(ruleset_fingerprint(options))
        known = BlobSet(store.known_blobs(ruleset))
        tasks = [_task(target, task_options, audit, store, ruleset) for target in targets]
        audit_id = store.start_audit(ruleset, when)
        # Local repositories whose refs have not moved are settled here, without a task.
        settled = [unchanged_locally(task) for task in tasks]
        tasks = [task for task, outcome in zip(tasks, settled, strict=True) if outcome is None]
        # Largest first, so that a big repository does not run alone at the end.
        tasks.sort(key=lambda task: _weight(task, store), reverse=True)
        # Rules are compiled only when something is to be scanned or validated.
        rules = (
            load_rules(options.extra_rules, disable=options.disable_rules)
            if tasks or audit.validation
            else []
        )
        executor = _executor(audit, rules, known) if tasks else None
        try:
            for outcome in itertools.chain(filter(None, settled), executor.run(tasks) if executor else ()):
                store.record(outcome, ruleset, when)
                summary.add(outcome)
                if progress is not None:
                    progress(summary, outcome)
        except KeyboardInterrupt:
            summary.interrupted = True
        finally:
            if executor is not None:
                executor.close()
        summary.new_findings = store.new_findings(when)
        if audit.validation is not None and not summary.interrupted:
            summary.validated = validate_store(store, rules, audit.validation)
        store.finish_audit(
            audit_id,
            datetime.now(UTC).isoformat(timespec="seconds"),
            summary.done,
            len(summary.failed),
            summary.blobs_scanned,
            summary.interrupted,
        )
    return summary


def _task(target: Target, options: ScanOptions, audit: AuditOptions, store: Store, ruleset: int) -> RepoTask:
    state = store.state(target.url)
    unchanged_possible = state is not None and state.ruleset == ruleset and state.status == "ok"
    return RepoTask(
        name=target.name,
        url=target.url,
        fetch_url=target.fetch_url,
        local=target.local,
        options=options,
        cache=audit.cache,
        previous_tips=state.tips if state is not None and unchanged_possible else None,
        token_env=target.token_env,
        timeout=audit.timeout,
        retries=audit.retries,
    )


def unchanged_locally(task: RepoTask) -> RepoOutcome | None:
    """The ``unchanged`` outcome of a local repository whose ref tips are those of its last audit."""
    if not task.local or task.previous_tips is None:
        return None
    try:
        tips = ref_tips(open_repo(task.fetch_url))
    except (LeakscanError, pygit2.GitError):
        return None  # the task reports the error
    return RepoOutcome(task.name, task.url, "unchanged", tips=tips) if tips == task.previous_tips else None


def _weight(task: RepoTask, store: Store) -> int:
    """How big a repository is likely to be: its pack files' size for a local one, else the
    number of blobs of its last audit (0 when unknown)."""
    if task.local:
        git_dir = Path(task.fetch_url) / ".git"
        packs = (git_dir if git_dir.is_dir() else Path(task.fetch_url)) / "objects" / "pack"
        try:
            return sum(entry.stat().st_size for entry in os.scandir(packs) if entry.name.endswith(".pack"))
        except OSError:
            return 0
    return store.blobs_of(task.url)


def validate_store(store: Store, rules: Sequence[Rule], config: ValidationConfig) -> int:
    """Validate each unique secret of the open findings once, across every repository."""
    from leakscan.models import Secret
    from leakscan.validate import TokenValidator

    validators = {rule.id: rule.validation for rule in rules}
    items = [(validators.get(rule_id), Secret(secret)) for rule_id, secret in store.secrets_to_validate()]
    with TokenValidator(config) as validator:
        outcomes = validator.validate_many(items)
    for (name, secret), outcome in outcomes.items():
        store.save_validation(name, secret.sha256, outcome)
    return len(outcomes)


def _executor(audit: AuditOptions, rules: list[Rule], known: BlobSet) -> Executor:
    if audit.scheduler is None:
        return LocalPool(audit.workers or _cores(), rules, known)
    return DaskPool(audit.scheduler, audit.workers, rules, known)


def _cores() -> int:
    return max(1, min(multiprocessing.cpu_count(), 8))


# --------------------------------------------------------------------------- local process pool

_worker_state: tuple[list[Rule], BlobSet] | None = None


def _init_worker(rules: list[Rule], packed: bytes) -> None:
    global _worker_state
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _worker_state = (rules, BlobSet(packed))


def _run_in_worker(task: RepoTask) -> RepoOutcome:
    assert _worker_state is not None, "worker not initialised"
    return audit_repository(task, *_worker_state)


class LocalPool:
    """Repositories on a local process pool (rules and known blobs sent once per process)."""

    def __init__(self, workers: int, rules: list[Rule], known: BlobSet) -> None:
        self.workers = workers
        self.rules = rules
        self.known = known
        self.pool: ProcessPoolExecutor | None = None

    def _start(self) -> ProcessPoolExecutor:
        self.pool = ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker,
            initargs=(self.rules, self.known.packed),
        )
        return self.pool

    def run(self, tasks: Sequence[RepoTask]) -> Iterator[RepoOutcome]:
        remaining = list(tasks)
        attempts = dict.fromkeys((t.url for t in tasks), 0)
        while remaining:
            pool = self._start()
            futures: dict[Future[RepoOutcome], RepoTask] = {
                pool.submit(_run_in_worker, t): t for t in remaining
            }
            remaining = []
            pending = set(futures)
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    task = futures[future]
                    try:
                        yield future.result()
                    except BrokenProcessPool:
                        attempts[task.url] += 1
                        if attempts[task.url] > LOCAL_POOL_RESUBMITS:
                            yield RepoOutcome(task.name, task.url, "error", error="worker process died")
                        else:
                            remaining.append(task)
            pool.shutdown(wait=True)

    def close(self) -> None:
        if self.pool is not None:
            processes = list((getattr(self.pool, "_processes", None) or {}).values())
            self.pool.shutdown(wait=False, cancel_futures=True)
            for process in processes:  # a running repository is abandoned, not waited for
                process.terminate()


# --------------------------------------------------------------------------- Dask


class DaskPool:
    """Repositories as Dask tasks (one per repository); rules and known blobs sent once per worker."""

    def __init__(self, scheduler: str, workers: int, rules: list[Rule], known: BlobSet) -> None:
        try:
            self.distributed: Any = importlib.import_module("distributed")
        except ImportError as exc:
            raise UsageError("--scheduler needs Dask: install leakscan with its 'audit' extra") from exc
        self.cluster: Any = None
        self.client: Any
        if scheduler == "local":
            self.cluster = self.distributed.LocalCluster(
                n_workers=workers or 2,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
            )
            self.client = self.distributed.Client(self.cluster)
        else:
            try:
                # Dask's connect timeout (30 s unless DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT says).
                self.client = self.distributed.Client(scheduler)
            except OSError as exc:
                raise UsageError(f"--scheduler {scheduler}: cannot connect: {exc}") from exc
        # Made by tasks rather than scattered: when the worker holding them dies, the scheduler
        # recomputes them from the task's arguments (scattered data would be lost for good).
        self.rules = self.client.submit(list, rules, key=f"leakscan-rules-{uuid.uuid4().hex}", pure=False)
        self.known = self.client.submit(
            BlobSet, known.packed, key=f"leakscan-known-{uuid.uuid4().hex}", pure=False
        )
        self.futures: list[Any] = []

    def run(self, tasks: Sequence[RepoTask]) -> Iterator[RepoOutcome]:
        run_id = uuid.uuid4().hex[:8]
        by_key: dict[str, RepoTask] = {}
        for index, task in enumerate(tasks):
            future = self.client.submit(
                audit_repository,
                task,
                self.rules,
                self.known,
                key=f"leakscan-audit-{run_id}-{index}",
                pure=False,
                retries=DASK_TASK_RETRIES,
            )
            by_key[future.key] = task
            self.futures.append(future)
        for future in self.distributed.as_completed(self.futures):
            task = by_key[future.key]
            try:
                outcome: RepoOutcome = future.result()
            except Exception as exc:  # KilledWorker, a worker that could not import leakscan, …
                outcome = RepoOutcome(task.name, task.url, "error", error=f"{type(exc).__name__}: {exc}")
            future.release()
            yield outcome

    def close(self) -> None:
        if self.futures:
            self.client.cancel(self.futures)
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()
