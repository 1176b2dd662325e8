"""Value types shared by every stage of the pipeline."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from contextlib import AbstractContextManager
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from msgspec import Struct, field
from msgspec.structs import replace

if TYPE_CHECKING:
    from leakscan.rules import Rule

_PREFIX = re.compile(r"[A-Za-z]{2,6}_")

# The report formats; each is the module ``leakscan.report.<name>_report`` with a ``render``.
REPORT_FORMATS = ("text", "json", "sarif", "gitlab", "sonarqube", "html")


class Severity(StrEnum):
    """How bad a leak of this kind is."""

    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class Liveness(StrEnum):
    """What the SonarQube API said about a token."""

    LIVE = "live"
    INACTIVE = "inactive"
    UNKNOWN = "unknown"
    NOT_CHECKED = "not_checked"


class ChecksumStatus(StrEnum):
    """Whether the token format carries a checksum that was verified."""

    VALID = "valid"
    NONE = "none"


class Secret(Struct, frozen=True):
    """A raw secret value whose repr and str are masked."""

    value: str

    def __repr__(self) -> str:
        return f"Secret({self.redacted()!r})"

    def __str__(self) -> str:
        return self.redacted()

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.value.encode("utf-8", "surrogateescape")).hexdigest()

    def redacted(self) -> str:
        """Keep the prefix and at most 4 characters of the body (a quarter of short ones)."""
        prefix_match = _PREFIX.match(self.value)
        prefix = prefix_match.group(0) if prefix_match else ""
        body = self.value[len(prefix) :]
        keep = min(4, len(body) // 4)
        return f"{prefix}{body[:keep]}{'*' * 8}"


STDIN_PATH = "<stdin>"
COMMIT_MESSAGE = "<commit message>"


class FileOrigin(Struct, frozen=True):
    """A file on disk: ``path`` as shown (as the scan reached it), ``key_path`` repo-relative."""

    path: str
    key_path: str = ""

    @property
    def stable_path(self) -> str:
        """Repository-relative POSIX path (else the shown path), for reports and baselines."""
        return self.key_path or self.path

    def display(self) -> str:
        return self.path


class StdinOrigin(Struct, frozen=True):
    """Standard input."""

    path: str = STDIN_PATH

    @property
    def stable_path(self) -> str:
        return self.path

    def display(self) -> str:
        return self.path


class StagedOrigin(Struct, frozen=True):
    """A file as staged in the index; ``added``: the byte ranges the staged change adds or
    modifies (None: the whole file counts, e.g. a new file or --whole-files)."""

    path: str
    added: tuple[tuple[int, int], ...] | None = None

    @property
    def stable_path(self) -> str:
        return self.path

    def display(self) -> str:
        return self.path


class GitBlobOrigin(Struct, frozen=True):
    """A blob of a repository's history, at the first path it was seen at; ``commits``: the
    commits known to hold it (filled by attribution, empty before)."""

    blob_id: str
    path: str
    commits: tuple[str, ...] = ()

    @property
    def stable_path(self) -> str:
        return self.path

    def display(self) -> str:
        return self.path


class CommitMessageOrigin(Struct, frozen=True):
    """The message of one commit."""

    commit: str

    @property
    def path(self) -> str:
        return COMMIT_MESSAGE

    @property
    def stable_path(self) -> str:
        return COMMIT_MESSAGE

    def display(self) -> str:
        return COMMIT_MESSAGE


class TagMessageOrigin(Struct, frozen=True):
    """The message of one annotated tag."""

    tag: str

    @property
    def path(self) -> str:
        return f"<tag message: {self.tag}>"

    @property
    def stable_path(self) -> str:
        return self.path

    def display(self) -> str:
        return self.path


class LayerStep(Struct, frozen=True):
    """One step from an input into content inside it: an archive ``member`` or an ``encoding``
    (base64, gzip, strings, …); ``line``/``column``: where a decoded region starts in the
    content it was found in, where that is known."""

    member: str = ""
    encoding: str | None = None
    line: int | None = None
    column: int | None = None


class LayerOrigin(Struct, frozen=True):
    """Content found inside another origin: an archive ``member`` (``outer.zip!inner/file``)
    and/or a decoded ``encoding`` (``file.yaml (base64)``); ``line``/``column``: where the
    decoded region starts in ``outer``, where that is known."""

    outer: Origin
    member: str = ""
    encoding: str | None = None
    line: int | None = None
    column: int | None = None

    @property
    def root(self) -> Origin:
        """The input itself (the file, blob, … the chain starts from)."""
        origin: Origin = self
        while isinstance(origin, LayerOrigin):
            origin = origin.outer
        return origin

    @property
    def root_position(self) -> tuple[int, int] | None:
        """(line, column) in the input itself of the region the chain starts with, when that
        first step is a decoded region (an archive member has no line in its archive)."""
        first = self.steps()[0]
        if first.member or first.line is None or first.column is None:
            return None
        return first.line, first.column

    def steps(self) -> list[LayerStep]:
        """The chain from the input inwards."""
        chain: list[LayerStep] = []
        origin: Origin = self
        while isinstance(origin, LayerOrigin):
            chain.append(LayerStep(origin.member, origin.encoding, origin.line, origin.column))
            origin = origin.outer
        return chain[::-1]

    @property
    def path(self) -> str:
        return self._chain(self.outer.path)

    @property
    def stable_path(self) -> str:
        return self._chain(self.outer.stable_path)

    def display(self) -> str:
        return self._chain(self.outer.display())

    def _chain(self, outer: str) -> str:
        shown = f"{outer}!{self.member}" if self.member else outer
        return f"{shown} ({self.encoding})" if self.encoding else shown


def wrap_origin(origin: Origin, layer: tuple[LayerStep, ...]) -> Origin:
    """``origin`` with the steps of a layer inside it (none: ``origin`` itself)."""
    for step in layer:
        origin = LayerOrigin(origin, step.member, step.encoding, step.line, step.column)
    return origin


Origin = (
    FileOrigin
    | StdinOrigin
    | StagedOrigin
    | GitBlobOrigin
    | CommitMessageOrigin
    | TagMessageOrigin
    | LayerOrigin
)


class Unreadable(Exception):
    """Why a reader could not give a blob's bytes; ``skip``: passed over by policy (too large,
    not a regular file), else a failure."""

    def __init__(self, reason: str, *, skip: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.skip = skip


class Reader(Protocol):
    """A blob's bytes, read where the blob is scanned (a worker process, or this one): whole, or
    in pieces when the blob is too large to hold. Readers are small values (they are pickled)."""

    @property
    def size(self) -> int:
        """The size in bytes as listed (a file may grow or shrink before it is read)."""
        ...

    def read(self, limit: int) -> bytes:
        """Every byte; ``Unreadable`` when it cannot be read or holds more than ``limit`` bytes."""
        ...

    def stream(self) -> AbstractContextManager[Callable[[int], bytes]]:
        """A read function over the raw bytes (``b""`` at the end); ``Unreadable`` if it cannot
        be opened."""
        ...


class Blob(Struct, frozen=True):
    """Bytes to scan and where they come from: held (``data``), or read on demand by ``reader``
    (where they are scanned, and in pieces when over the size limit)."""

    origin: Origin
    data: bytes = b""
    reader: Reader | None = None

    @property
    def path(self) -> str:
        """The path shown to users."""
        return self.origin.path

    @property
    def stable_path(self) -> str:
        """The path used in fingerprints and baselines."""
        return self.origin.stable_path

    @property
    def size(self) -> int:
        return len(self.data) if self.reader is None else self.reader.size

    def load(self, limit: int) -> Blob | Skipped | Failed:
        """This blob with its bytes held, or why they could not be had."""
        if self.reader is None:
            return self
        try:
            return Blob(self.origin, self.reader.read(limit))
        except Unreadable as problem:
            return Skipped(self.path, problem.reason) if problem.skip else Failed(self.path, problem.reason)


class Match(Struct, frozen=True):
    """One occurrence of a rule's pattern that passed the offline checks."""

    rule: Rule
    secret: Secret
    start: int
    end: int
    line: int
    column: int
    end_line: int
    end_column: int
    checksum: ChecksumStatus
    # The columns again in UTF-16 code units, as SonarQube (Java) counts them; they differ from
    # ``column`` only after characters outside the Basic Multilingual Plane (emoji).
    utf16_column: int
    utf16_end_column: int
    # Where inside the input it was found: archive members and decodings (empty: the input itself).
    layer: tuple[LayerStep, ...] = ()


class MatchRecord(Struct, frozen=True):
    """A match with its rule named by id: the form that crosses process boundaries cheaply."""

    rule_id: str
    secret: str
    start: int
    end: int
    line: int
    column: int
    end_line: int
    end_column: int
    checksum: str
    utf16_column: int
    utf16_end_column: int
    layer: tuple[LayerStep, ...] = ()

    @classmethod
    def of(cls, match: Match) -> MatchRecord:
        return cls(
            match.rule.id,
            match.secret.value,
            match.start,
            match.end,
            match.line,
            match.column,
            match.end_line,
            match.end_column,
            match.checksum.value,
            match.utf16_column,
            match.utf16_end_column,
            match.layer,
        )

    def to_match(self, rule: Rule) -> Match:
        return Match(
            rule=rule,
            secret=Secret(self.secret),
            start=self.start,
            end=self.end,
            line=self.line,
            column=self.column,
            end_line=self.end_line,
            end_column=self.end_column,
            checksum=ChecksumStatus(self.checksum),
            utf16_column=self.utf16_column,
            utf16_end_column=self.utf16_end_column,
            layer=self.layer,
        )


class Outcome(Struct, frozen=True):
    """What scanning one blob gave, without its origin (it may come back from a worker process:
    there, ``portable`` matches name their rule by id). ``skipped``/``failed``: why it was not
    scanned; ``skips``: the layers inside it a limit kept closed, as (path suffix, reason);
    ``size``: the bytes read; ``scanned_bytes``: the bytes detection read (decoded, and in layers)."""

    matches: tuple[Match, ...] | tuple[MatchRecord, ...] = ()
    errors: tuple[str, ...] = ()
    skips: tuple[tuple[str, str], ...] = ()
    scanned_bytes: int = 0
    suppressed: int = 0
    known_examples: int = 0
    skipped: str | None = None
    failed: str | None = None
    size: int = 0

    @property
    def notable(self) -> bool:
        """Whether there is anything to report (most blobs: nothing)."""
        return bool(self.matches or self.errors or self.skips or self.suppressed or self.known_examples)

    @property
    def plain(self) -> bool:
        """Scanned, with nothing to report: only its bytes count (most blobs)."""
        return self.skipped is None and self.failed is None and not self.notable

    def portable(self) -> Outcome:
        """This outcome with its matches as MatchRecords (cheap to send to another process)."""
        records = tuple(MatchRecord.of(m) if isinstance(m, Match) else m for m in self.matches)
        return replace(self, matches=records)


class CommitInfo(Struct, frozen=True):
    """The commit that introduced a finding into history."""

    commit: str
    author: str
    email: str
    date: str


class Exposure(Struct, frozen=True):
    """How long a history finding has been exposed (computed by ``leakscan/exposure.py``).

    ``refs``: branch and tag names whose history holds the introducing commit;
    ``present_at_default_branch``: whether the default branch's tip still has the secret at that path;
    ``removed_at``: the first default-branch commit after it appeared whose tree no longer has it
    there; ``days_exposed``: from the introducing commit to ``removed_at`` (None while open).
    """

    refs: tuple[str, ...]
    default_branch: str | None
    present_at_default_branch: bool | None
    removed_at: CommitInfo | None
    days_exposed: float | None


class Evidence(Struct, frozen=True):
    """One request of a live check: where it went, with which token, and what came back.

    ``token`` is ``candidate`` (the found secret) or ``control`` (a random token of the same
    shape); ``status`` is the HTTP status, None when no answer came.
    """

    host: str
    endpoint: str
    token: str
    status: int | None
    meaning: str


class Validation(Struct, frozen=True):
    """The outcome of a live check against the SonarQube API, with the requests behind it."""

    status: Liveness
    host: str | None = None
    checked_at: str | None = None
    reason: str = ""
    evidence: tuple[Evidence, ...] = ()


NOT_CHECKED = Validation(Liveness.NOT_CHECKED, reason="validation off")


class Finding(Struct, frozen=True):
    """A match after plausibility, allow-lists and (optionally) liveness."""

    match: Match
    origin: Origin
    fingerprint: str
    commit: CommitInfo | None = None
    commits_count: int | None = None
    present_at_head: bool | None = None
    validation: Validation = NOT_CHECKED
    in_stash_only: bool = False  # history: the introducing commit is reachable only from the stash
    exposure: Exposure | None = None

    @property
    def path(self) -> str:
        """The path shown to users (pseudo-paths such as ``<commit message>`` for messages)."""
        return self.origin.path

    @property
    def stable_path(self) -> str:
        """Repository-relative POSIX path (else the shown path), for reports and baselines."""
        return self.origin.stable_path

    @property
    def rule(self) -> Rule:
        return self.match.rule

    @property
    def secret(self) -> Secret:
        return self.match.secret


class Skipped(Struct, frozen=True):
    """An input that was deliberately not scanned, and why."""

    path: str
    reason: str


class Failed(Struct, frozen=True):
    """An input that could not be read or scanned, and the error."""

    path: str
    error: str


class Stats(Struct):
    """Counters filled while scanning."""

    files_scanned: int = 0
    bytes_scanned: int = 0
    suppressed: int = 0  # matches dropped by an inline allow marker (leakscan:allow, NOSONAR, …)
    duration_s: float = 0.0
    notes: list[str] = field(default_factory=list)
    extra: dict[str, int] = field(default_factory=dict)

    def count_scanned(self, scanned_bytes: int) -> None:
        """One more blob scanned."""
        self.files_scanned += 1
        self.bytes_scanned += scanned_bytes


KNOWN_EXAMPLES_KEY = "suppressed_known_example"


class ScanResult(Struct):
    """Everything a reporter needs: findings, what was skipped or failed, and counters."""

    findings: list[Finding] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    errors: list[Failed] = field(default_factory=list)
    stats: Stats = field(default_factory=Stats)
    interrupted: bool = False
    kind: str = "scan"
    # History scans: raw 20-byte ids, packed, of the blobs scanned to the end with no match (what an
    # incremental audit need not scan again).
    clean_blobs: bytearray = field(default_factory=bytearray)

    def record(self, item: Skipped | Failed) -> None:
        """Keep an input that was not scanned: skipped by policy, or failed."""
        if isinstance(item, Skipped):
            self.skipped.append(item)
        else:
            self.errors.append(item)

    def count_known_examples(self, count: int) -> None:
        """Count public documentation example tokens that were suppressed (``suppressed: known example``)."""
        if count:
            extra = self.stats.extra
            extra[KNOWN_EXAMPLES_KEY] = extra.get(KNOWN_EXAMPLES_KEY, 0) + count

    @property
    def complete(self) -> bool:
        """True when every input was read and the scan ran to the end."""
        return not self.errors and not self.interrupted

    def merge(self, other: ScanResult) -> ScanResult:
        """One result from two computed apart (e.g. on different machines or processes): lists
        and counters added, notes of both, interrupted if either was; the kind of this one."""
        stats = Stats(
            files_scanned=self.stats.files_scanned + other.stats.files_scanned,
            bytes_scanned=self.stats.bytes_scanned + other.stats.bytes_scanned,
            suppressed=self.stats.suppressed + other.stats.suppressed,
            duration_s=self.stats.duration_s + other.stats.duration_s,
            notes=[*self.stats.notes, *(n for n in other.stats.notes if n not in self.stats.notes)],
            extra={
                key: self.stats.extra.get(key, 0) + other.stats.extra.get(key, 0)
                for key in {**self.stats.extra, **other.stats.extra}
            },
        )
        return ScanResult(
            findings=[*self.findings, *other.findings],
            skipped=[*self.skipped, *other.skipped],
            errors=[*self.errors, *other.errors],
            stats=stats,
            interrupted=self.interrupted or other.interrupted,
            kind=self.kind,
            clean_blobs=self.clean_blobs + other.clean_blobs,
        )
