"""The audit store: one SQLite file (stdlib ``sqlite3``, WAL) kept across audits.

Tables: ``repositories`` (URL, ref tips, status, error, last audit, counts), ``scanned_blobs``
(raw 20-byte blob ids scanned without a match, per ruleset, in a ``WITHOUT ROWID`` table),
``findings`` (full provenance; first seen, last seen, fixed), ``validations`` (one outcome per
validator and secret, with its time) and ``audits`` (one row per run). Every finished repository
is written in one transaction, so a crash loses at most the repository being written.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from msgspec import Struct
from msgspec.structs import asdict, fields

from leakscan.audit.scan_repo import FindingRecord, RepoOutcome
from leakscan.errors import InputError
from leakscan.models import (
    CommitInfo,
    CommitMessageOrigin,
    Evidence,
    Exposure,
    FileOrigin,
    GitBlobOrigin,
    LayerOrigin,
    MatchRecord,
    Origin,
    StagedOrigin,
    StdinOrigin,
    TagMessageOrigin,
    Validation,
)

SCHEMA_VERSION = "1"
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS rulesets (id INTEGER PRIMARY KEY, fingerprint TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS repositories (
    id INTEGER PRIMARY KEY,
    url TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    error TEXT,
    tips TEXT NOT NULL DEFAULT '{}',
    ruleset INTEGER REFERENCES rulesets(id),
    last_audit TEXT,
    refs INTEGER NOT NULL DEFAULT 0,
    commits INTEGER NOT NULL DEFAULT 0,
    blobs INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS scanned_blobs (
    ruleset INTEGER NOT NULL,
    oid BLOB NOT NULL,
    PRIMARY KEY (ruleset, oid)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS findings (
    id INTEGER PRIMARY KEY,
    repository INTEGER NOT NULL REFERENCES repositories(id),
    fingerprint TEXT NOT NULL,
    rule_id TEXT NOT NULL,
    path TEXT NOT NULL,
    origin TEXT NOT NULL,
    secret TEXT NOT NULL,
    secret_sha256 TEXT NOT NULL,
    match TEXT NOT NULL,
    commit_info TEXT,
    commits_count INTEGER,
    present_at_head INTEGER,
    exposure TEXT,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    fixed_at TEXT,
    UNIQUE (repository, fingerprint)
);
CREATE INDEX IF NOT EXISTS findings_secret ON findings (secret_sha256);
CREATE TABLE IF NOT EXISTS validations (
    validator TEXT NOT NULL,
    secret_sha256 TEXT NOT NULL,
    status TEXT NOT NULL,
    host TEXT,
    reason TEXT NOT NULL,
    checked_at TEXT,
    evidence TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (validator, secret_sha256)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS audits (
    id INTEGER PRIMARY KEY,
    started TEXT NOT NULL,
    finished TEXT,
    ruleset INTEGER,
    repositories INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0,
    blobs_scanned INTEGER NOT NULL DEFAULT 0,
    interrupted INTEGER NOT NULL DEFAULT 0
);
"""


class RepoState(Struct, frozen=True):
    """What the store knows of a repository from its last audit."""

    tips: dict[str, str]
    ruleset: int | None
    status: str


class StoredFinding(Struct, frozen=True):
    """A finding as stored, with its repository and history."""

    repository: str
    repository_url: str
    record: FindingRecord
    secret_sha256: str
    first_seen: str
    last_seen: str
    fixed_at: str | None
    validation: Validation | None


class StoredRepository(Struct, frozen=True):
    name: str
    url: str
    status: str
    error: str | None
    last_audit: str | None
    refs: int
    commits: int
    blobs: int
    tips: dict[str, str]


class Store:
    """An open audit store. Use as a context manager; writes happen in short transactions."""

    def __init__(self, path: Path) -> None:
        self.path = path
        fresh = not path.exists()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(path, timeout=30.0, isolation_level=None)
            if fresh:
                os.chmod(path, 0o600)  # the store holds raw secrets
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self.db.executescript(SCHEMA)
            self.db.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
            (version,) = self.db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        except (OSError, sqlite3.Error) as exc:
            raise InputError(f"{path}: cannot open audit store: {exc}") from exc
        if version != SCHEMA_VERSION:
            raise InputError(f"{path}: audit store schema {version}, this leakscan reads {SCHEMA_VERSION}")

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.db.close()

    # ------------------------------------------------------------------ audit runs

    def ruleset_id(self, fingerprint: str) -> int:
        """The id of a ruleset fingerprint (added if new)."""
        self.db.execute("INSERT OR IGNORE INTO rulesets (fingerprint) VALUES (?)", (fingerprint,))
        (rid,) = self.db.execute("SELECT id FROM rulesets WHERE fingerprint = ?", (fingerprint,)).fetchone()
        return int(rid)

    def start_audit(self, ruleset: int, started: str) -> int:
        cursor = self.db.execute("INSERT INTO audits (started, ruleset) VALUES (?, ?)", (started, ruleset))
        return int(cursor.lastrowid or 0)

    def finish_audit(
        self, audit: int, finished: str, repositories: int, failed: int, blobs: int, interrupted: bool
    ) -> None:
        self.db.execute(
            "UPDATE audits SET finished = ?, repositories = ?, failed = ?, blobs_scanned = ?, interrupted = ?"
            " WHERE id = ?",
            (finished, repositories, failed, blobs, int(interrupted), audit),
        )

    def known_blobs(self, ruleset: int) -> bytes:
        """The blob ids scanned without a match under ``ruleset``: sorted, packed 20 bytes each."""
        rows = self.db.execute("SELECT oid FROM scanned_blobs WHERE ruleset = ? ORDER BY oid", (ruleset,))
        return b"".join(oid for (oid,) in rows)

    def blob_count(self, ruleset: int | None = None) -> int:
        if ruleset is None:
            (count,) = self.db.execute("SELECT count(*) FROM scanned_blobs").fetchone()
        else:
            query = "SELECT count(*) FROM scanned_blobs WHERE ruleset = ?"
            (count,) = self.db.execute(query, (ruleset,)).fetchone()
        return int(count)

    def blobs_of(self, url: str) -> int:
        """The number of blobs the last audit of ``url`` walked (0 if never audited)."""
        row = self.db.execute("SELECT blobs FROM repositories WHERE url = ?", (url,)).fetchone()
        return int(row[0]) if row else 0

    def state(self, url: str) -> RepoState | None:
        row = self.db.execute(
            "SELECT tips, ruleset, status FROM repositories WHERE url = ?", (url,)
        ).fetchone()
        return RepoState(json.loads(row[0]), row[1], row[2]) if row else None

    # ------------------------------------------------------------------ writing results

    def record(self, outcome: RepoOutcome, ruleset: int, when: str) -> None:
        """Write one repository's outcome in one transaction.

        ``ok``: findings are upserted (last seen now), the repository's other open findings are
        marked fixed, clean blobs are kept. ``unchanged``: open findings are seen again. ``error``:
        the error is kept; findings it did report are upserted, none is marked fixed.
        """
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute(
                "INSERT INTO repositories (url, name, status) VALUES (?, ?, ?)"
                " ON CONFLICT (url) DO UPDATE SET name = excluded.name",
                (outcome.url, outcome.name, outcome.status),
            )
            (repo_id,) = db.execute("SELECT id FROM repositories WHERE url = ?", (outcome.url,)).fetchone()
            if outcome.status == "unchanged":
                db.execute(
                    "UPDATE repositories SET status = 'ok', error = NULL, last_audit = ? WHERE id = ?",
                    (when, repo_id),
                )
                db.execute(
                    "UPDATE findings SET last_seen = ? WHERE repository = ? AND fixed_at IS NULL",
                    (when, repo_id),
                )
            else:
                db.execute(
                    "UPDATE repositories SET status = ?, error = ?, tips = ?, ruleset = ?, last_audit = ?,"
                    " refs = ?, commits = ?, blobs = ? WHERE id = ?",
                    (
                        outcome.status,
                        outcome.error,
                        json.dumps(outcome.tips if outcome.status == "ok" else {}, sort_keys=True),
                        ruleset,
                        when,
                        len(outcome.tips),
                        outcome.commits,
                        outcome.blobs_scanned + outcome.blobs_skipped,
                        repo_id,
                    ),
                )
                clean = outcome.clean_blobs
                ids = sorted(clean[i : i + 20] for i in range(0, len(clean), 20))  # B-tree order: faster
                db.executemany(
                    "INSERT OR IGNORE INTO scanned_blobs VALUES (?, ?)", ((ruleset, oid) for oid in ids)
                )
                for finding in outcome.findings:
                    self._upsert_finding(repo_id, finding, when)
                if outcome.status == "ok":
                    db.execute(
                        "UPDATE findings SET fixed_at = ? WHERE repository = ? AND fixed_at IS NULL"
                        " AND last_seen <> ?",
                        (when, repo_id, when),
                    )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def _upsert_finding(self, repo_id: int, finding: FindingRecord, when: str) -> None:
        from leakscan.models import Secret

        self.db.execute(
            "INSERT INTO findings (repository, fingerprint, rule_id, path, origin, secret, secret_sha256,"
            " match, commit_info, commits_count, present_at_head, exposure, first_seen, last_seen)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (repository, fingerprint) DO UPDATE SET match = excluded.match,"
            " origin = excluded.origin,"
            " commit_info = excluded.commit_info, commits_count = excluded.commits_count,"
            " present_at_head = excluded.present_at_head, exposure = excluded.exposure,"
            " last_seen = excluded.last_seen, fixed_at = NULL",
            (
                repo_id,
                finding.fingerprint,
                finding.match.rule_id,
                finding.path,
                json.dumps(origin_fields(finding.origin)),
                finding.match.secret,
                Secret(finding.match.secret).sha256,
                json.dumps(_match_fields(finding.match)),
                json.dumps(_commit_fields(finding.commit)) if finding.commit else None,
                finding.commits_count,
                None if finding.present_at_head is None else int(finding.present_at_head),
                json.dumps(_exposure_fields(finding.exposure)) if finding.exposure else None,
                when,
                when,
            ),
        )

    # ------------------------------------------------------------------ validation

    def secrets_to_validate(self) -> list[tuple[str, str]]:
        """(rule id, secret) of every open finding, each secret once per rule."""
        rows = self.db.execute(
            "SELECT DISTINCT rule_id, secret FROM findings WHERE fixed_at IS NULL ORDER BY rule_id, secret"
        )
        return [(rule_id, secret) for rule_id, secret in rows]

    def save_validation(self, validator: str | None, secret_sha256: str, outcome: Validation) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO validations VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                validator or "",
                secret_sha256,
                outcome.status.value,
                outcome.host,
                outcome.reason,
                outcome.checked_at,
                json.dumps([asdict(step) for step in outcome.evidence]),
            ),
        )

    # ------------------------------------------------------------------ reading

    def repositories(self) -> list[StoredRepository]:
        rows = self.db.execute(
            "SELECT name, url, status, error, last_audit, refs, commits, blobs, tips FROM repositories"
            " ORDER BY name, url"
        )
        return [
            StoredRepository(name, url, status, error, last, refs, commits, blobs, json.loads(tips))
            for name, url, status, error, last, refs, commits, blobs, tips in rows
        ]

    def iter_findings(self, validators: dict[str, str | None]) -> Iterator[StoredFinding]:
        """Every stored finding, by repository then path; ``validators``: rule id → validator."""
        from leakscan.models import Liveness

        saved: dict[tuple[str, str], Validation] = {
            (row[0], row[1]): Validation(
                Liveness(row[2]),
                row[3],
                row[5],
                row[4],
                tuple(Evidence(**step) for step in json.loads(row[6])),
            )
            for row in self.db.execute(
                "SELECT validator, secret_sha256, status, host, reason, checked_at, evidence FROM validations"
            )
        }
        rows = self.db.execute(
            "SELECT r.name, r.url, f.fingerprint, f.origin, f.match, f.commit_info, f.commits_count,"
            " f.present_at_head, f.exposure, f.secret_sha256, f.first_seen, f.last_seen, f.fixed_at"
            " FROM findings f JOIN repositories r ON r.id = f.repository ORDER BY r.name, r.url, f.path, f.id"
        )
        for name, url, fp, origin, match, commit, count, at_head, exposure, sha, first, last, fixed in rows:
            record = FindingRecord(
                match=MatchRecord(**json.loads(match)),
                origin=parse_origin(json.loads(origin)),
                fingerprint=fp,
                commit=CommitInfo(**json.loads(commit)) if commit else None,
                commits_count=count,
                present_at_head=None if at_head is None else bool(at_head),
                exposure=_parse_exposure(json.loads(exposure)) if exposure else None,
            )
            validator = validators.get(record.match.rule_id) or ""
            yield StoredFinding(name, url, record, sha, first, last, fixed, saved.get((validator, sha)))

    def new_findings(self, when: str) -> int:
        """How many findings were first seen by the audit that started at ``when``."""
        (count,) = self.db.execute("SELECT count(*) FROM findings WHERE first_seen = ?", (when,)).fetchone()
        return int(count)

    def counts(self) -> dict[str, int]:
        """Rows per table (for the summary and the README's Scale figures)."""
        tables = ("repositories", "scanned_blobs", "findings", "validations", "audits")
        return {t: int(self.db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]) for t in tables}


_ORIGINS: dict[str, type[Any]] = {
    cls.__name__: cls
    for cls in (
        FileOrigin,
        StdinOrigin,
        StagedOrigin,
        GitBlobOrigin,
        CommitMessageOrigin,
        TagMessageOrigin,
        LayerOrigin,
    )
}


def origin_fields(origin: Origin) -> dict[str, Any]:
    """An origin (and the ones it wraps) as JSON-ready fields, with its type's name."""
    data: dict[str, Any] = {"type": type(origin).__name__}
    for item in fields(origin):
        value = getattr(origin, item.name)
        data[item.name] = origin_fields(value) if type(value).__name__ in _ORIGINS else value
    return data


def parse_origin(data: dict[str, Any]) -> Origin:
    """The origin ``origin_fields`` wrote."""
    values = {key: value for key, value in data.items() if key != "type"}
    for key, value in values.items():
        if isinstance(value, dict):
            values[key] = parse_origin(value)
        elif isinstance(value, list):
            values[key] = tuple(tuple(v) if isinstance(v, list) else v for v in value)
    origin: Origin = _ORIGINS[data["type"]](**values)
    return origin


def _match_fields(match: MatchRecord) -> dict[str, Any]:
    return {name: getattr(match, name) for name in MatchRecord.__struct_fields__}


def _commit_fields(commit: CommitInfo) -> dict[str, str]:
    return {"commit": commit.commit, "author": commit.author, "email": commit.email, "date": commit.date}


def _exposure_fields(exposure: Exposure) -> dict[str, Any]:
    return {
        "refs": list(exposure.refs),
        "default_branch": exposure.default_branch,
        "present_at_default_branch": exposure.present_at_default_branch,
        "removed_at": _commit_fields(exposure.removed_at) if exposure.removed_at else None,
        "days_exposed": exposure.days_exposed,
    }


def _parse_exposure(data: dict[str, Any]) -> Exposure:
    removed = data["removed_at"]
    return Exposure(
        tuple(data["refs"]),
        data["default_branch"],
        data["present_at_default_branch"],
        CommitInfo(**removed) if removed else None,
        data["days_exposed"],
    )
