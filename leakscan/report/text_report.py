"""Human output: one block per finding, secrets masked, control characters escaped."""

from __future__ import annotations

from collections import Counter

from leakscan.models import NOT_CHECKED, Finding, LayerOrigin, Liveness, ScanResult
from leakscan.policy import liveness_counts
from leakscan.report import ReportContext
from leakscan.revoke import revocation_guidance

_BOLD, _RED, _YELLOW, _DIM, _RESET = "\033[1m", "\033[31m", "\033[33m", "\033[2m", "\033[0m"


# Bidi controls (they reorder what a terminal shows: Trojan Source) and zero-width characters.
_INVISIBLE = frozenset(
    [0x061C, 0x200B, 0x200C, 0x200D, 0x200E, 0x200F, 0x2028, 0x2029, 0xFEFF]
    + list(range(0x202A, 0x202F))
    + list(range(0x2060, 0x2065))
    + list(range(0x2066, 0x206A))
)


def escape(text: str) -> str:
    """Make text safe for a terminal: control characters, bidi controls, zero-width characters
    and undecodable bytes become escapes."""
    out = []
    for char in text:
        code = ord(char)
        if code < 0x20 or 0x7F <= code < 0xA0:
            out.append(f"\\x{code:02x}")
        elif 0xDC80 <= code <= 0xDCFF:
            out.append(f"\\x{code - 0xDC00:02x}")
        elif 0xD800 <= code <= 0xDFFF or code in _INVISIBLE:
            out.append(f"\\u{code:04x}")
        else:
            out.append(char)
    return "".join(out)


def human_size(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if count < 1024 or unit == "GiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} GiB"


def _paint(text: str, code: str, color: bool) -> str:
    return f"{code}{text}{_RESET}" if color else text


LIST_LIMIT = 20  # skipped and failed inputs named in the text report (all with --verbose)


def _origin(finding: Finding) -> str:
    """What holds a history finding: a tag (its message), the stash only, or a commit."""
    if finding.path.startswith("<tag message: "):
        return "tag"
    return "stash" if finding.in_stash_only else "commit"


def render_finding(finding: Finding, context: ReportContext, explain: bool = True) -> str:
    """One finding's block; ``explain`` adds the rule's message and fix (once per rule, unless
    verbose)."""
    match, rule = finding.match, finding.rule
    secret = match.secret.value if context.show_secrets else match.secret.redacted()
    location = f"{escape(finding.path)}:{match.line}:{match.column}"
    layered = finding.origin
    if isinstance(layered, LayerOrigin) and layered.root_position is not None:
        line, column = layered.root_position
        location += f" (at {escape(layered.root.path)}:{line}:{column})"
    title = f"{rule.key + ' ' if rule.key else ''}{rule.name} [{rule.severity.value}]"
    validation = finding.validation
    live = validation.status is Liveness.LIVE
    if live:
        title = "LIVE TOKEN: " + title
    lines = [
        f"{_paint(location, _BOLD, context.color)}  {_paint(title, _RED, context.color)}",
        f"  secret:  {escape(secret)}",
        _paint(f"  fingerprint: {finding.fingerprint}", _DIM, context.color),
    ]
    if validation != NOT_CHECKED:
        state = f"{validation.status.value} ({escape(validation.reason)})"
        if validation.host:
            state += f" [{escape(validation.host)}]"
        if live:
            state = _paint(f"LIVE: revoke it now: {state}", _BOLD + _RED, context.color)
        lines.append(f"  check:   {state}")
        if live:
            lines.append(f"  revoke:  {escape(revocation_guidance(finding))}")
    if finding.commit is not None:
        commit, origin = finding.commit, _origin(finding)
        where = {"tag": "tag:    ", "stash": "stash:  ", "commit": "commit: "}[origin]
        lines.append(
            f"  {where} {commit.commit[:12]} by {escape(commit.author)} <{escape(commit.email)}>"
            f" on {commit.date}" + (" (only in refs/stash)" if origin == "stash" else "")
        )
        if finding.commits_count is not None:
            state = "still in HEAD" if finding.present_at_head else "not in HEAD"
            lines.append(f"  history: in {finding.commits_count} commit(s), {state}")
    if explain:
        lines.append(f"  {rule.message}")
        lines.append(_paint(f"  fix: {rule.remediation}", _DIM, context.color))
    return "\n".join(lines)


def render_summary(result: ScanResult) -> str:
    """One line: findings, scanned, skipped by reason, errors, time; plus notes."""
    stats = result.stats
    reasons = Counter(s.reason.split(" (")[0] for s in result.skipped)
    skipped = ", ".join(f"{n} {reason}" for reason, n in sorted(reasons.items()))
    scanned = f"{stats.files_scanned} scanned ({human_size(stats.bytes_scanned)})"
    if result.kind == "history":
        commits = stats.extra.get("commits_scanned", 0)
        scanned = (
            f"{commits} commit(s) walked, {stats.files_scanned} blob(s) {scanned[scanned.index(' ') + 1 :]}"
        )
    found = f"{len(result.findings)} finding(s)"
    if result.findings:
        found += f" ({liveness_counts(result.findings)})"
    parts = [
        found,
        scanned,
        f"{len(result.skipped)} skipped" + (f" ({skipped})" if skipped else ""),
        f"{len(result.errors)} error(s)",
        f"{stats.duration_s:.2f}s",
    ]
    lines = ["leakscan: " + ", ".join(parts)]
    ignored = _ignored_line(stats.extra.get("ignored_files", 0), stats.extra.get("ignored_folders", 0))
    if ignored:
        lines.append(f"leakscan: {ignored}")
    if stats.suppressed:
        lines.append(f"leakscan: {stats.suppressed} finding(s) suppressed by an inline allow marker")
    if result.interrupted:
        lines.append("leakscan: interrupted: the scan did not finish; results are partial")
    lines.extend(f"leakscan: {escape(note)}" for note in stats.notes)
    return "\n".join(lines)


def _ignored_line(files: int, folders: int) -> str:
    """How much an ignore file left out of a folder scan (git would not show it either)."""
    counted = [
        f"{n} ignored {what}{'' if n == 1 else 's'}"
        for n, what in ((files, "file"), (folders, "folder"))
        if n
    ]
    if not counted:
        return ""
    what = " and ".join(counted)
    return f"{what} not scanned (untracked, matched by an ignore file); --no-ignore to scan them"


def _listed(label: str, items: list[tuple[str, str]], verbose: bool) -> list[str]:
    """``label: PATH: why`` per item, up to LIST_LIMIT unless verbose."""
    shown = items if verbose else items[:LIST_LIMIT]
    lines = [f"{label}: {escape(path)}: {escape(why)}" for path, why in shown]
    if len(items) > len(shown):
        lines.append(f"… and {len(items) - len(shown)} more {label}; see --format json (or --verbose)")
    return lines


def render(result: ScanResult, context: ReportContext) -> str:
    if context.verbosity < 0:
        return render_summary(result) + "\n"
    verbose = context.verbosity > 0
    explained: set[str] = set()
    blocks = []
    for finding in result.findings:
        blocks.append(render_finding(finding, context, explain=verbose or finding.rule.id not in explained))
        explained.add(finding.rule.id)
    details = _listed("skipped", [(s.path, s.reason) for s in result.skipped], verbose)
    details += _listed("error", [(e.path, e.error) for e in result.errors], verbose)
    parts = ["\n\n".join(blocks)] if blocks else []
    if details:
        parts.append("\n".join(details))
    parts.append(render_summary(result))
    return "\n\n".join(parts) + "\n"
