"""A self-contained HTML report: one file, inline CSS/JS/SVG, no network, strict CSP.

It is rendered from the JSON report document (what ``--format json`` prints), optionally
extended by the audit with a top-level ``repositories`` list (``name``/``url``, ``status``,
``error``, counts) and, per finding, ``repository``, ``origin`` (the chain of containers) and
exposure-window fields: ``introduced_commit`` / ``introduced_author`` / ``introduced_at`` (else
``commit`` / ``author`` / ``date``), ``refs`` (refs that still reach it), ``present_at_default_branch``,
``removed_at``, ``days_exposed``. They may also sit in a nested ``exposure`` object. Missing
fields are shown as unknown, never guessed.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections import Counter
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup
from msgspec import Struct, field

from leakscan.models import Liveness, Secret
from leakscan.report import ReportContext
from leakscan.report.json_report import build_document
from leakscan.report.text_report import escape, human_size

TEMPLATES = Path(__file__).with_name("templates")
_LIVENESS_ORDER = {"live": 0, "unknown": 1, "not_checked": 2, "inactive": 3}
_SEVERITY_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3, "info": 4}
_REDACTION_MARK = "*" * 8
# Labels of the counters the header shows, in this order; other integer counters follow.
_COUNTER_LABELS = {
    "repositories_scanned": "repositories",
    "refs_scanned": "refs",
    "commits_scanned": "commits",
    "blobs_scanned": "blobs",
    "files_scanned": "files",
}
_HIDDEN_COUNTERS = {"findings", "duration_s"}


class FindingView(Struct, frozen=True):
    """One finding, with every value from scanned content made displayable."""

    anchor: str
    rule_id: str
    rule_key: str
    rule_name: str
    severity: str
    liveness: str
    validation: dict[str, Any]
    repository: str
    origin: list[str]
    path: str
    line: int
    column: int
    secret: str
    commit: str
    author: str
    email: str
    introduced: datetime | None
    removed: datetime | None
    present_at_head: bool | None
    present_at_default_branch: bool | None
    commits_count: int | None
    refs: list[str] | None
    days_exposed: float | None
    message: str
    remediation: str

    @property
    def head_state(self) -> str:
        """'yes', 'no' or 'n/a' (file scans have no HEAD)."""
        if self.present_at_head is None:
            return "n/a"
        return "yes" if self.present_at_head else "no"

    @property
    def introduced_day(self) -> str:
        return self.introduced.date().isoformat() if self.introduced else ""

    @property
    def still_reachable(self) -> bool:
        return bool(self.present_at_head or self.present_at_default_branch or self.refs)


class Bar(Struct, frozen=True):
    """One finding's exposure window in the timeline."""

    anchor: str
    x: float
    y: float
    width: float
    height: float
    start: str
    end: str
    open_end: bool
    css: str
    label: str


class Timeline(Struct):
    """The SVG geometry: a band per repository, one bar per dated finding."""

    width: int
    height: int
    bars: list[Bar] = field(default_factory=list)
    bands: list[tuple[str, float]] = field(default_factory=list)
    ticks: list[tuple[float, str]] = field(default_factory=list)
    undated: int = 0


def render(result: Any, context: ReportContext) -> str:
    """The HTML report of a scan or history result (secrets always redacted)."""
    document = build_document(result, context.version, show_secrets=False)
    for item, finding in zip(document["findings"], result.findings, strict=True):
        item["remediation"] = finding.rule.remediation
    document["kind"] = result.kind
    document["generated_at"] = (context.now or datetime.now(UTC)).isoformat(timespec="seconds")
    return render_html(document)


def render_html(document: dict[str, Any], now: datetime | None = None) -> str:
    """Render a JSON report document (optionally extended by the audit) as one HTML page."""
    when = now or _parse_date(document.get("generated_at")) or datetime.now(UTC)
    findings = sorted(
        (
            _view(item, anchor, when)
            for item, anchor in zip(document["findings"], _anchors(document), strict=True)
        ),
        key=_priority,
    )
    css, js = _asset("report.css"), _asset("report.js")
    csp = (
        f"default-src 'none'; style-src {_source_hash(css)}; script-src {_source_hash(js)}; "
        "base-uri 'none'; form-action 'none'"
    )
    stats = document.get("stats", {})
    template = _environment().get_template("report.html.j2")
    return template.render(
        csp=csp,
        css=Markup(css),
        js=Markup(js),
        data=Markup(_script_json(_page_data(findings))),
        kind=str(document.get("kind") or "scan"),
        tool=document.get("tool", {}),
        generated_at=when.isoformat(timespec="seconds"),
        counters=_counters(stats, blobs=document.get("kind") in ("history", "audit")),
        stats=stats,
        skipped_reasons=Counter(str(s.get("reason", "")).split(" (")[0] for s in stats.get("skipped", [])),
        repositories=[_repository(r) for r in document.get("repositories", [])],
        findings=findings,
        summary=_summary(findings),
        choices=_choices(findings),
        has_repositories=_has_repositories(findings),
        has_history=_has_history(findings),
        timeline=_timeline(findings, when),
        escape=escape,
    )


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


@cache
def _asset(name: str) -> str:
    text = (TEMPLATES / name).read_text(encoding="utf-8")
    if "</" in text:
        raise ValueError(f"{name}: an inline asset must not contain '</'")
    return text


def _source_hash(text: str) -> str:
    digest = base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")
    return f"'sha256-{digest}'"


def _script_json(data: Any) -> str:
    """JSON that cannot end its <script> element or open a comment: <, > and & are escaped."""
    text = json.dumps(data, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _anchors(document: dict[str, Any]) -> list[str]:
    """A stable id per finding: its fingerprint plus its rank among equal fingerprints."""
    seen: Counter[str] = Counter()
    anchors = []
    for item in document["findings"]:
        fingerprint = "".join(c for c in str(item.get("fingerprint", "")) if c.isalnum())[:16]
        seen[fingerprint] += 1
        anchors.append(f"f-{fingerprint}-{seen[fingerprint]}")
    return anchors


def _text(value: Any) -> str:
    """A value from scanned content as displayable text (control characters escaped)."""
    return "" if value is None else escape(str(value))


def _parse_date(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _redacted(value: Any) -> str:
    """The secret as the other formats print it; a whole secret is redacted here too."""
    secret = str(value or "")
    return secret if secret.endswith(_REDACTION_MARK) else Secret(secret).redacted()


def _view(item: dict[str, Any], anchor: str, now: datetime) -> FindingView:
    exposure = {**item, **(item.get("exposure") or {})}
    introduced = _parse_date(exposure.get("introduced_at") or exposure.get("date"))
    removed = _parse_date(exposure.get("removed_at"))
    present = exposure.get("present_at_head")
    days = exposure.get("days_exposed")
    refs = exposure.get("refs")
    # An open window (still at HEAD, or still reachable from a ref of the `exposure` block)
    # counts up to the report's own time.
    if days is None and introduced and (removed or present or (isinstance(refs, list) and refs)):
        days = ((removed or now) - introduced).total_seconds() / 86400
    origin = item.get("origin") or []
    return FindingView(
        anchor=anchor,
        rule_id=_text(item.get("rule_id")),
        rule_key=_text(item.get("rule_key")),
        rule_name=_text(item.get("rule_name")),
        severity=_text(item.get("severity")),
        liveness=_text((item.get("validation") or {}).get("status") or Liveness.NOT_CHECKED.value),
        validation={k: _text(v) for k, v in (item.get("validation") or {}).items()},
        repository=_text(item.get("repository")),
        origin=[_text(o) for o in ([origin] if isinstance(origin, str) else origin)],
        path=_text(item.get("path")),
        line=int(item.get("line") or 0),
        column=int(item.get("column") or 0),
        secret=escape(_redacted(item.get("secret"))),
        commit=_text(exposure.get("introduced_commit") or item.get("commit")),
        author=_text(exposure.get("introduced_author") or item.get("author")),
        email=_text(exposure.get("introduced_email") or item.get("email")),
        introduced=introduced,
        removed=removed,
        present_at_head=present if isinstance(present, bool) else None,
        present_at_default_branch=_bool_or_none(exposure.get("present_at_default_branch")),
        commits_count=exposure.get("commits_count"),
        refs=[_text(r) for r in refs] if isinstance(refs, list) else None,
        days_exposed=float(days) if isinstance(days, int | float) else None,
        message=_text(item.get("message")),
        remediation=_text(item.get("remediation") or _builtin_remediations().get(str(item.get("rule_id")))),
    )


def _bool_or_none(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


@cache
def _builtin_remediations() -> dict[str, str]:
    from leakscan.rules import load_rules

    return {rule.id: rule.remediation for rule in load_rules()}


def _priority(finding: FindingView) -> tuple[int, int, int, str, str, int]:
    """Live first, then still reachable, then by severity; newest leak first within a group."""
    reach = {"yes": 0, "n/a": 1, "no": 2}[finding.head_state]
    if finding.head_state != "yes" and finding.still_reachable:
        reach = 0
    newest = finding.introduced.timestamp() if finding.introduced else 0.0
    return (
        _LIVENESS_ORDER.get(finding.liveness, 2),
        reach,
        _SEVERITY_ORDER.get(finding.severity, 5),
        f"{-newest:020.3f}",
        f"{finding.repository}\0{finding.path}",
        finding.line,
    )


def _has_repositories(findings: list[FindingView]) -> bool:
    return any(f.repository for f in findings)


def _has_history(findings: list[FindingView]) -> bool:
    return any(f.introduced for f in findings)


def _page_data(findings: list[FindingView]) -> dict[str, Any]:
    """The embedded JSON the page's script builds the table and the cards from."""
    return {
        "findings": [_row(f) for f in findings],
        "rules": _rules(findings),
        "repositories": _has_repositories(findings),
        "history": _has_history(findings),
    }


def _row(finding: FindingView) -> dict[str, Any]:
    """Everything the page's script shows of a finding, plus its sort and filter keys."""
    return {
        "id": finding.anchor,
        "repository": finding.repository,
        "rule": finding.rule_id,
        "severity": finding.severity,
        "liveness": finding.liveness,
        "live": _LIVENESS_ORDER.get(finding.liveness, 2),
        "validation": finding.validation,
        "path": finding.path,
        "line": finding.line,
        "column": finding.column,
        "location": f"{finding.path}:{finding.line:09d}",
        "origin": finding.origin,
        "secret": finding.secret,
        "commit": finding.commit,
        "author": finding.author,
        "email": finding.email,
        "introduced_at": finding.introduced.isoformat() if finding.introduced else "",
        "introduced": finding.introduced.timestamp() if finding.introduced else 0,
        "day": finding.introduced_day,
        "removed": finding.removed.isoformat() if finding.removed else "",
        "head": finding.head_state,
        "default_branch": {True: "yes", False: "no", None: ""}[finding.present_at_default_branch],
        "refs": finding.refs or [],
        "commits": finding.commits_count,
        "days": finding.days_exposed if finding.days_exposed is not None else -1,
    }


def _rules(findings: list[FindingView]) -> dict[str, dict[str, str]]:
    """What the findings of each rule share: name, key, message, remediation."""
    return {
        f.rule_id: {
            "name": f.rule_name,
            "key": f.rule_key,
            "message": f.message,
            "remediation": f.remediation,
        }
        for f in findings
    }


def _counters(stats: dict[str, Any], blobs: bool) -> list[tuple[str, str]]:
    """(label, value) of what was scanned: the known counters first, then any other.

    A history scan counts blobs in ``files_scanned``."""
    items = [
        (key, value) for key, value in stats.items() if isinstance(value, int) and not isinstance(value, bool)
    ]
    known = [(k, v) for k, v in items if k in _COUNTER_LABELS]
    known.sort(key=lambda kv: list(_COUNTER_LABELS).index(kv[0]))
    labels = {**_COUNTER_LABELS, "files_scanned": "blobs" if blobs else "files"}
    shown = [
        (labels[k], f"{v:,}")
        for k, v in known
        if not (blobs and k == "files_scanned" and "blobs_scanned" in stats)
    ]
    if "bytes_scanned" in stats:
        shown.append(("bytes", human_size(stats["bytes_scanned"])))
    shown += [
        (k.replace("_", " "), f"{v:,}")
        for k, v in items
        if k not in _COUNTER_LABELS and k not in _HIDDEN_COUNTERS and k != "bytes_scanned"
    ]
    return shown


def _repository(entry: dict[str, Any]) -> dict[str, str]:
    counts = ", ".join(
        f"{entry[key]:,} {key}" for key in ("refs", "commits", "blobs") if isinstance(entry.get(key), int)
    )
    return {
        "name": _text(entry.get("name") or entry.get("url")),
        "url": _text(entry.get("url") if entry.get("name") else ""),
        "status": _text(entry.get("status")),
        "error": _text(entry.get("error")),
        "counts": counts,
    }


def _summary(findings: list[FindingView]) -> dict[str, list[tuple[str, int]]]:
    def counted(values: list[str]) -> list[tuple[str, int]]:
        return sorted(Counter(values).items(), key=lambda kv: (-kv[1], kv[0]))

    return {
        "by rule": counted([f"{f.rule_name} ({f.rule_key or f.rule_id})" for f in findings]),
        "by liveness": counted([f.liveness for f in findings]),
        "present at HEAD": counted([f.head_state for f in findings]),
    }


def _choices(findings: list[FindingView]) -> dict[str, list[str]]:
    return {
        "repository": sorted({f.repository for f in findings if f.repository}),
        "rule": sorted({f.rule_id for f in findings}),
        "liveness": sorted({f.liveness for f in findings}, key=lambda v: _LIVENESS_ORDER.get(v, 9)),
        "head": [v for v in ("yes", "no", "n/a") if any(f.head_state == v for f in findings)],
    }


def _timeline(findings: list[FindingView], now: datetime) -> Timeline:
    """Bars from introduction to removal (or now), grouped by repository, on one time axis."""
    dated = [f for f in findings if f.introduced]
    width, left, right, axis = 960, 8, 952, 28
    timeline = Timeline(width=width, height=0, undated=len(findings) - len(dated))
    if not dated:
        return timeline
    start = min(f.introduced for f in dated if f.introduced)
    end = max([now, *(f.removed for f in dated if f.removed)])
    span = max((end - start).total_seconds(), 1.0)

    def x_of(moment: datetime) -> float:
        return round(left + (moment - start).total_seconds() / span * (right - left), 2)

    bar_height, gap = (10.0, 4.0) if len(dated) <= 200 else (3.0, 1.0)
    y = float(axis)
    groups: dict[str, list[FindingView]] = {}
    for finding in dated:
        groups.setdefault(finding.repository, []).append(finding)
    for repository, members in sorted(groups.items()):
        if repository or len(groups) > 1:
            y += 14
            timeline.bands.append((repository or "(no repository)", y))
            y += 4
        for finding in sorted(members, key=lambda f: (f.introduced, f.anchor)):
            assert finding.introduced is not None
            open_end = finding.removed is None
            finish = finding.removed or now
            x0 = x_of(finding.introduced)
            css = (
                "live"
                if finding.liveness == "live"
                else "reachable"
                if finding.still_reachable
                else "removed"
            )
            removed = finding.removed.isoformat() if finding.removed else "not removed"
            if open_end and finding.present_at_head is False:
                removed = "no longer at HEAD, removal date unknown"
            timeline.bars.append(
                Bar(
                    anchor=finding.anchor,
                    x=x0,
                    y=y,
                    width=max(round(x_of(finish) - x0, 2), 2.0),
                    height=bar_height,
                    start=finding.introduced.isoformat(),
                    end=finish.isoformat(),
                    open_end=open_end,
                    css=css,
                    label=f"{finding.path}:{finding.line} ({finding.rule_id}): "
                    f"{finding.introduced.date().isoformat()} → {removed}",
                )
            )
            y += bar_height + gap
    timeline.height = int(y + 8)
    timeline.ticks = [
        (x_of(moment), moment.date().isoformat())
        for moment in (start + (end - start) * (i / 4) for i in range(5))
    ]
    return timeline
