"""The detector: literal keyword pre-filter over whole buffers, then each rule's regex only in
windows around keyword hits, then the offline checks. Bytes in, matches out."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from leakscan.models import Match, Secret
from leakscan.plausibility import judge
from leakscan.rules import Rule

ALLOW_MARKER = b"leakscan:allow"
WINDOW_BEFORE = 256
WINDOW_AFTER = 1024
REGEX_TIMEOUT_S = 2.0


@dataclass(slots=True)
class Detection:
    """What one buffer yielded: kept matches, rejected candidates (with reasons), regex errors."""

    matches: list[Match] = field(default_factory=list)
    rejected: list[tuple[Rule, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


class Detector:
    """Runs a fixed set of rules over byte buffers."""

    def __init__(self, rules: Sequence[Rule], *, regex_timeout: float = REGEX_TIMEOUT_S) -> None:
        self.rules = tuple(rules)
        self.regex_timeout = regex_timeout
        sensitive: dict[bytes, list[Rule]] = {}
        insensitive: dict[bytes, list[Rule]] = {}
        for rule in self.rules:
            table = insensitive if rule.keywords_ignore_case else sensitive
            for keyword in rule.keywords:
                table.setdefault(keyword, []).append(rule)
        self._sensitive = sensitive
        self._insensitive = insensitive

    def keyword_hits(self, data: bytes) -> dict[Rule, list[int]]:
        """Offsets of every keyword occurrence, grouped by rule."""
        hits: dict[Rule, list[int]] = {}
        for table, buffer in ((self._sensitive, data), (self._insensitive, None)):
            if not table:
                continue
            if buffer is None:
                buffer = data.lower()
            for keyword, rules in table.items():
                offsets = list(_iter_find(buffer, keyword))
                if offsets:
                    for rule in rules:
                        hits.setdefault(rule, []).extend(offsets)
        return hits

    def detect(self, data: bytes) -> Detection:
        """Find every rule match in ``data`` that passes the rule's offline checks."""
        result = Detection()
        for rule, offsets in self.keyword_hits(data).items():
            seen: set[tuple[int, int]] = set()
            for start, end in _merge_windows(sorted(offsets), len(data)):
                for span, secret in self._search(rule, data, start, end, result):
                    if span in seen:
                        continue
                    seen.add(span)
                    self._keep(rule, data, span, secret, result)
        result.matches.sort(key=lambda m: (m.start, m.rule.id))
        return result

    def _search(
        self, rule: Rule, data: bytes, start: int, end: int, result: Detection
    ) -> Iterator[tuple[tuple[int, int], bytes]]:
        try:
            for found in rule.pattern.finditer(
                data, pos=start, endpos=end, timeout=self.regex_timeout
            ):
                span = found.span(rule.secret_group)
                if span[0] < 0:
                    continue
                if found.end() >= end and end < len(data):
                    yield from self._search(rule, data, found.start(), len(data), result)
                    return
                yield span, data[span[0] : span[1]]
        except TimeoutError:
            result.errors.append(
                f"rule '{rule.id}': regex search timed out after {self.regex_timeout}s "
                f"at bytes {start}-{end}"
            )

    def _keep(
        self, rule: Rule, data: bytes, span: tuple[int, int], raw: bytes, result: Detection
    ) -> None:
        line_start = max(data.rfind(b"\n", 0, span[0]), data.rfind(b"\r", 0, span[0])) + 1
        line_end = _line_end(data, span[1])
        if ALLOW_MARKER in data[line_start:line_end]:
            result.rejected.append((rule, "leakscan:allow comment"))
            return
        secret = Secret(raw.decode("utf-8", "surrogateescape"))
        verdict = judge(secret.value, secret.sha256, rule)
        if not verdict.keep:
            result.rejected.append((rule, verdict.reason))
            return
        line = _line_number(data, span[0])
        column = len(data[line_start : span[0]].decode("utf-8", "replace")) + 1
        end_line, end_column = line, column + len(secret.value)
        if b"\n" in raw or b"\r" in raw:  # a custom rule's secret may span lines
            end_line = _line_number(data, span[1])
            end_start = max(data.rfind(b"\n", 0, span[1]), data.rfind(b"\r", 0, span[1])) + 1
            end_column = len(data[end_start : span[1]].decode("utf-8", "replace")) + 1
        result.matches.append(
            Match(
                rule=rule,
                secret=secret,
                start=span[0],
                end=span[1],
                line=line,
                column=column,
                end_line=end_line,
                end_column=end_column,
                checksum=verdict.checksum,
            )
        )


def _iter_find(buffer: bytes, needle: bytes) -> Iterator[int]:
    find = buffer.find
    at = find(needle)
    while at >= 0:
        yield at
        at = find(needle, at + 1)


def _merge_windows(offsets: list[int], size: int) -> Iterator[tuple[int, int]]:
    """Windows around keyword hits, merged where they overlap."""
    current_start = current_end = -1
    for offset in offsets:
        start = max(0, offset - WINDOW_BEFORE)
        end = min(size, offset + WINDOW_AFTER)
        if start <= current_end:
            current_end = max(current_end, end)
            continue
        if current_end >= 0:
            yield current_start, current_end
        current_start, current_end = start, end
    if current_end >= 0:
        yield current_start, current_end


def _line_end(data: bytes, at: int) -> int:
    ends = [i for i in (data.find(b"\n", at), data.find(b"\r", at)) if i >= 0]
    return min(ends) if ends else len(data)


def _line_number(data: bytes, at: int) -> int:
    """1-based line of byte ``at``; LF, CRLF and lone CR each end a line."""
    newlines = data.count(b"\n", 0, at)
    returns = data.count(b"\r", 0, at)
    if not returns:
        return newlines + 1
    crlf = data.count(b"\r\n", 0, at)
    return newlines + returns - crlf + 1
