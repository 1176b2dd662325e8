"""The detector: literal keyword pre-filter over whole buffers, then each rule's regex only in
windows around keyword hits, then the offline checks. Bytes in, matches out."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import regex

from leakscan.judge import judge
from leakscan.models import Match, Secret
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


class KeywordIndex:
    """Finds every rule keyword in a buffer in one pass (Hyperscan), or one pass per keyword
    (``bytes.find``) where Hyperscan is not installed. Both give the same offsets."""

    def __init__(self, rules: Sequence[Rule], engine: str = "auto", literals: Sequence[bytes] = ()) -> None:
        self._keywords: list[tuple[bytes, bool, tuple[Rule, ...]]] = []
        table: dict[tuple[bytes, bool], list[Rule]] = {}
        for rule in rules:
            for keyword in rule.keywords:
                table.setdefault((keyword, rule.keywords_ignore_case), []).append(rule)
        for (keyword, caseless), owners in table.items():
            self._keywords.append((keyword, caseless, tuple(owners)))
        # Other literals found in the same pass (the extract stage's triggers), owned by no rule.
        self._first_literal = len(self._keywords)
        self._keywords.extend((literal, False, ()) for literal in literals)
        self._hyperscan = _compile_hyperscan(self._keywords) if engine != "python" else None
        if engine == "hyperscan" and self._hyperscan is None:
            raise RuntimeError("the hyperscan module is not installed")
        self.engine = "hyperscan" if self._hyperscan is not None else "python"

    def hits(self, data: bytes, literal_hits: list[tuple[int, int]] | None = None) -> dict[Rule, list[int]]:
        """Start offsets of every keyword occurrence, grouped by rule, in ascending order;
        ``literal_hits`` gets (offset, index) of each extra literal when given."""
        found: list[tuple[int, int]] = []
        if self._hyperscan is not None:
            self._hyperscan.scan(data, found)
        else:
            lowered = b""
            searched = self._keywords if literal_hits is not None else self._keywords[: self._first_literal]
            for index, (keyword, caseless, _) in enumerate(searched):
                if caseless and not lowered:
                    lowered = data.lower()
                found.extend((index, at) for at in _iter_find(lowered if caseless else data, keyword))
        hits: dict[Rule, list[int]] = {}
        first = self._first_literal
        for index, at in found:
            if index >= first:
                if literal_hits is not None:
                    literal_hits.append((at, index - first))
                continue
            for rule in self._keywords[index][2]:
                hits.setdefault(rule, []).append(at)
        for offsets in hits.values():
            offsets.sort()
        return hits


class _HyperscanKeywords:
    """One Hyperscan block-mode database of all keywords; scratch space made per process."""

    def __init__(self, module: Any, keywords: list[tuple[bytes, bool, tuple[Rule, ...]]]) -> None:
        self._hs = module
        self._lengths = [len(keyword) for keyword, _, _ in keywords]
        self._db = module.Database(mode=module.HS_MODE_BLOCK)
        self._db.compile(
            expressions=[regex.escape(keyword) for keyword, _, _ in keywords],
            ids=list(range(len(keywords))),
            elements=len(keywords),
            flags=[module.HS_FLAG_CASELESS if caseless else 0 for _, caseless, _ in keywords],
        )
        self._scratch: Any = None
        self._pid = -1

    def scan(self, data: bytes, found: list[tuple[int, int]]) -> None:
        if self._pid != os.getpid():
            self._scratch, self._pid = self._hs.Scratch(self._db), os.getpid()
        lengths = self._lengths

        def on_match(index: int, start: int, end: int, flags: int, context: object) -> None:
            found.append((index, end - lengths[index]))

        self._db.scan(data, match_event_handler=on_match, scratch=self._scratch)


def _compile_hyperscan(
    keywords: list[tuple[bytes, bool, tuple[Rule, ...]]],
) -> _HyperscanKeywords | None:
    if not keywords:
        return None
    try:
        import hyperscan
    except ImportError:
        return None
    return _HyperscanKeywords(hyperscan, keywords)


class Detector:
    """Runs a fixed set of rules over byte buffers."""

    def __init__(
        self,
        rules: Sequence[Rule],
        *,
        regex_timeout: float = REGEX_TIMEOUT_S,
        engine: str = "auto",
        literals: Sequence[bytes] = (),
    ) -> None:
        self.rules = tuple(rules)
        self.regex_timeout = regex_timeout
        self.keywords = KeywordIndex(self.rules, engine, literals)

    def keyword_hits(self, data: bytes) -> dict[Rule, list[int]]:
        """Offsets of every keyword occurrence, grouped by rule."""
        return self.keywords.hits(data)

    def detect(self, data: bytes, literal_hits: list[tuple[int, int]] | None = None) -> Detection:
        """Find every rule match in ``data`` that passes the rule's offline checks; the hits of
        the extra ``literals`` (in the same pass) go to ``literal_hits`` when it is given."""
        result = Detection()
        for rule, offsets in self.keywords.hits(data, literal_hits).items():
            seen: set[tuple[int, int]] = set()
            errors_before = len(result.errors)
            for start, end in _merge_windows(offsets, len(data)):
                for span, secret in self._search(rule, data, start, end, result):
                    if span in seen:
                        continue
                    seen.add(span)
                    self._keep(rule, data, span, secret, result)
                if len(result.errors) > errors_before:
                    # One runaway search is enough: give up this rule for this buffer, so a hostile
                    # file costs at most one timeout per rule, however many windows it has.
                    result.errors[-1] += "; rule skipped for the rest of this input"
                    break
        result.matches.sort(key=lambda m: (m.start, m.rule.id))
        return result

    def _search(
        self, rule: Rule, data: bytes, start: int, end: int, result: Detection
    ) -> Iterator[tuple[tuple[int, int], bytes]]:
        try:
            for found in rule.pattern.finditer(data, pos=start, endpos=end, timeout=self.regex_timeout):
                span = found.span(rule.secret_group)
                if span[0] < 0:
                    continue
                if found.end() >= end and end < len(data):
                    yield from self._search(rule, data, found.start(), len(data), result)
                    return
                yield span, data[span[0] : span[1]]
        except TimeoutError:
            result.errors.append(
                f"rule '{rule.id}': regex search timed out after {self.regex_timeout}s at bytes {start}-{end}"
            )

    def _keep(self, rule: Rule, data: bytes, span: tuple[int, int], raw: bytes, result: Detection) -> None:
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
        column, utf16_column = _widths(data[line_start : span[0]])
        secret_width, secret_utf16 = _widths(raw)
        end_line, end_column, utf16_end = line, column + secret_width, utf16_column + secret_utf16
        if b"\n" in raw or b"\r" in raw:  # a custom rule's secret may span lines
            end_line = _line_number(data, span[1])
            end_start = max(data.rfind(b"\n", 0, span[1]), data.rfind(b"\r", 0, span[1])) + 1
            end_column, utf16_end = _widths(data[end_start : span[1]])
        result.matches.append(
            Match(
                rule=rule,
                secret=secret,
                start=span[0],
                end=span[1],
                line=line,
                column=column + 1,
                end_line=end_line,
                end_column=end_column + 1,
                checksum=verdict.checksum,
                utf16_column=utf16_column + 1,
                utf16_end_column=utf16_end + 1,
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


def _widths(data: bytes) -> tuple[int, int]:
    """Width of UTF-8 text in characters and in UTF-16 code units (undecodable bytes count one)."""
    text = data.decode("utf-8", "replace")
    if text.isascii():
        return len(text), len(text)
    return len(text), len(text.encode("utf-16-le", "surrogatepass")) // 2


def _count_breaks(data: bytes) -> int:
    return data.count(b"\n") + data.count(b"\r") - data.count(b"\r\n")


def _shift(match: Match, offset: int, line_base: int, bases: tuple[int, int]) -> Match:
    """Move a match found in a chunk to its place in the whole stream; ``bases`` are the widths
    (characters, UTF-16 units) of the chunk's first, partial line before the chunk."""
    first, first_end = match.line == 1, match.end_line == 1
    return Match(
        rule=match.rule,
        secret=match.secret,
        start=match.start + offset,
        end=match.end + offset,
        line=match.line + line_base - 1,
        column=match.column + (bases[0] if first else 0),
        end_line=match.end_line + line_base - 1,
        end_column=match.end_column + (bases[0] if first_end else 0),
        checksum=match.checksum,
        utf16_column=match.utf16_column + (bases[1] if first else 0),
        utf16_end_column=match.utf16_end_column + (bases[1] if first_end else 0),
    )


def detect_stream(
    detector: Detector, read: Callable[[int], bytes], chunk_size: int, overlap: int
) -> Detection:
    """Detect in a stream too large to hold, chunk by chunk.

    Each buffer keeps ``overlap`` bytes before and after the region it owns, so a token (with its
    context) that crosses a chunk boundary is whole in one buffer; each match is reported once, by
    the buffer that owns its start, with the offsets, lines and columns a whole-buffer scan gives.
    """
    result = Detection()
    offset, own_from, line_base, bases = 0, 0, 1, (0, 0)
    buffer = read(chunk_size + overlap)
    while buffer:
        more = read(chunk_size)
        limit = len(buffer) - overlap if more else len(buffer)
        detection = detector.detect(buffer)
        result.matches.extend(
            _shift(m, offset, line_base, bases) for m in detection.matches if own_from <= m.start < limit
        )
        result.rejected.extend(detection.rejected)
        result.errors.extend(f"{error} (stream offset {offset})" for error in detection.errors)
        if not more:
            break
        cut = max(0, limit - overlap)
        for _ in range(3):  # don't split a UTF-8 sequence: columns count characters
            if cut > 0 and 0x80 <= buffer[cut] < 0xC0:
                cut -= 1
        if buffer[cut - 1 : cut] == b"\r" and buffer[cut : cut + 1] == b"\n":
            cut += 1
        head = buffer[:cut]
        breaks = _count_breaks(head)
        if breaks:
            line_base += breaks
            last_break = max(head.rfind(b"\n"), head.rfind(b"\r"))
            bases = _widths(head[last_break + 1 :])
        else:
            width, utf16 = _widths(head)
            bases = (bases[0] + width, bases[1] + utf16)
        offset += cut
        own_from = limit - cut
        buffer = buffer[cut:] + more
    return result
