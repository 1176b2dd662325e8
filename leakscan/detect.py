"""The detector: literal keyword pre-filter over whole buffers, then each rule's regex only in
windows around keyword hits, then the offline checks. Bytes in, matches out."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from msgspec import Struct, field

from leakscan import hscache
from leakscan.judge import KNOWN_EXAMPLE, judge
from leakscan.models import Match, Secret
from leakscan.rules import Rule

# Inline markers that suppress the findings on their line: ours, and those of gitleaks,
# detect-secrets and SonarQube, so a line already marked for another tool needs no second comment.
ALLOW_MARKERS = (b"leakscan:allow", b"gitleaks:allow", b"pragma: allowlist secret", b"NOSONAR")
ALLOW_MARKER = ALLOW_MARKERS[0]
# A keyword hit's window: bytes before and after it that its rule's regex reads. A rule whose
# matches can be longer (its ``window`` field, or the longest match its pattern allows) gets that
# much on each side, plus LOOKAROUND after for a trailing lookahead.
WINDOW_BEFORE = 256
WINDOW_AFTER = 1024
LOOKAROUND = 64
# Windows that merge (keyword-dense text) are searched in pieces of this size, each overlapping
# the next by one window, so one regex search never covers more than this.
PIECE = 64 * 1024
REGEX_TIMEOUT_S = 2.0


class Detection(Struct):
    """What one buffer yielded: kept matches, rejected candidates (with reasons), regex errors."""

    matches: list[Match] = field(default_factory=list)
    rejected: list[tuple[Rule, str]] = field(default_factory=list)

    @property
    def known_examples(self) -> int:
        """How many candidates were public documentation examples (suppressed, counted)."""
        return sum(1 for _, reason in self.rejected if reason == KNOWN_EXAMPLE)

    errors: list[str] = field(default_factory=list)
    suppressed: list[int] = field(default_factory=list)  # offsets of matches an allow marker dropped


class KeywordIndex:
    """Finds every rule keyword in a buffer in one pass (Hyperscan), or one pass per keyword
    (``bytes.find``) where Hyperscan is not installed. Both give the same offsets.

    ``literals`` are found in the same pass, owned by no rule (the extract stage's triggers); the
    last ``near`` of them only within the windows of the other hits (a keyword's windows, or
    ``WINDOW_BEFORE`` / ``WINDOW_AFTER`` around another literal), by ``bytes.find``: literals too
    short or too common for the pass over every byte (a soft line break)."""

    def __init__(
        self,
        rules: Sequence[Rule],
        engine: str = "auto",
        window: Callable[[Rule], tuple[int, int]] | None = None,
        literals: Sequence[bytes] = (),
        near: int = 0,
    ) -> None:
        self._keywords: list[tuple[bytes, bool, tuple[Rule, ...]]] = []
        table: dict[tuple[bytes, bool], list[Rule]] = {}
        for rule in rules:
            for keyword in rule.keywords:
                table.setdefault((keyword, rule.keywords_ignore_case), []).append(rule)
        for (keyword, caseless), owners in table.items():
            self._keywords.append((keyword, caseless, tuple(owners)))
        self._first_literal = len(self._keywords)
        self._keywords.extend((literal, False, ()) for literal in literals)
        self._first_near = len(self._keywords) - near
        self._near = [
            (index - self._first_literal, self._keywords[index][0])
            for index in range(self._first_near, len(self._keywords))
        ]
        self._hyperscan = (
            _compile_hyperscan(self._keywords[: self._first_near]) if engine != "python" else None
        )
        if engine == "hyperscan" and self._hyperscan is None:
            raise RuntimeError("the hyperscan module is not installed")
        self.engine = "hyperscan" if self._hyperscan is not None else "python"
        # Hits of one keyword this close together fall in one window of every rule that owns it.
        width = window or (lambda rule: (WINDOW_BEFORE, WINDOW_AFTER))
        owned = [[width(rule) for rule in owners] for _, _, owners in self._keywords[: self._first_literal]]
        self._gaps = [min(before + after for before, after in windows) for windows in owned]
        # Where a near literal counts around a keyword's hits: the widest window of its rules.
        self._reach = [(max(w[0] for w in windows), max(w[1] for w in windows)) for windows in owned]

    @property
    def in_pass(self) -> list[tuple[bytes, bool]]:
        """(literal, caseless) of each keyword and extra literal the pass over every byte seeks."""
        return [(literal, caseless) for literal, caseless, _ in self._keywords[: self._first_near]]

    def _found(self, data: bytes) -> list[tuple[int, int]]:
        """(index, start offset) of every hit of every keyword and extra literal but the ``near``
        ones, unordered."""
        found: list[tuple[int, int]] = []
        if self._hyperscan is not None:
            self._hyperscan.scan(data, found)
        else:
            lowered = b""
            for index, (keyword, caseless, _) in enumerate(self._keywords[: self._first_near]):
                if caseless and not lowered:
                    lowered = data.lower()
                found.extend((index, at) for at in _iter_find(lowered if caseless else data, keyword))
        return found

    def offsets(self, data: bytes) -> list[int]:
        """Start offsets of the hits of every keyword and extra literal (but the ``near`` ones,
        which only count beside these), unordered."""
        return [at for _, at in self._found(data)]

    def hits(self, data: bytes) -> dict[Rule, list[int]]:
        """Start offsets of every keyword occurrence, grouped by rule, in ascending order."""
        hits: dict[Rule, list[int]] = {}
        for index, at in self._found(data):
            for rule in self._keywords[index][2]:
                hits.setdefault(rule, []).append(at)
        for offsets in hits.values():
            offsets.sort()
        return hits

    def runs(
        self, data: bytes, literal_hits: list[tuple[int, int]] | None = None
    ) -> dict[Rule, list[tuple[int, int]]]:
        """Runs of keyword hits, grouped by rule, in ascending order: (first, last) start offsets
        of hits of one keyword whose neighbours are at most that keyword's gap apart.
        ``literal_hits`` gets (offset, index) of each extra literal's hits, when given.

        Memory grows with the number of runs, not of hits: a file that is one keyword repeated
        is a single run.
        """
        per_keyword: dict[int, list[tuple[int, int]]]  # keyword index -> its runs, if any
        first_literal = self._first_literal
        given = len(literal_hits) if literal_hits is not None else 0
        if self._hyperscan is not None:
            per_keyword = self._hyperscan.runs(data, self._gaps, first_literal, literal_hits)
        else:
            lowered = b""
            per_keyword = {}
            for index, (keyword, caseless, _) in enumerate(self._keywords[:first_literal]):
                if caseless and not lowered:
                    lowered = data.lower()
                found = list(_iter_runs(lowered if caseless else data, keyword, self._gaps[index]))
                if found:
                    per_keyword[index] = found
            if literal_hits is not None:
                for index, (literal, _, _) in enumerate(self._keywords[first_literal : self._first_near]):
                    literal_hits.extend((at, index) for at in _iter_find(data, literal))
        if self._near and literal_hits is not None and (per_keyword or len(literal_hits) > given):
            literal_hits.extend(self._near_hits(data, per_keyword, literal_hits[given:]))
        runs: dict[Rule, list[tuple[int, int]]] = {}
        for index, found in sorted(per_keyword.items()):
            for rule in self._keywords[index][2]:
                runs.setdefault(rule, []).extend(found)
        for spans in runs.values():
            spans.sort()
        return runs

    def _near_hits(
        self, data: bytes, per_keyword: dict[int, list[tuple[int, int]]], literal_hits: list[tuple[int, int]]
    ) -> list[tuple[int, int]]:
        """(offset, index among the extra literals) of each ``near`` literal that starts in a
        window of a keyword run or of another literal's hit."""
        spans = [
            (first - self._reach[index][0], last + self._reach[index][1])
            for index, found in per_keyword.items()
            for first, last in found
        ]
        spans.extend((at - WINDOW_BEFORE, at + WINDOW_AFTER) for at, _ in literal_hits)
        if not spans:
            return []
        spans.sort()
        merged = [list(spans[0])]
        for start, end in spans[1:]:
            if start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        return [
            (at, index)
            for low, high in merged
            for index, literal in self._near
            for at in _iter_find(data, literal, max(low, 0), high + len(literal))
        ]


class _HyperscanKeywords:
    """One Hyperscan block-mode database of all keywords (cached on disk: ``leakscan.hscache``);
    scratch space made per thread and process."""

    def __init__(self, module: Any, keywords: list[tuple[bytes, bool, tuple[Rule, ...]]]) -> None:
        self._lengths = [len(keyword) for keyword, _, _ in keywords]
        self._db = hscache.database(module, [(keyword, caseless) for keyword, caseless, _ in keywords])
        self._scratch = hscache.Scratch(module, self._db)

    def scan(self, data: bytes, found: list[tuple[int, int]]) -> None:
        lengths = self._lengths

        def on_match(index: int, start: int, end: int, flags: int, context: object) -> None:
            found.append((index, end - lengths[index]))

        self._db.scan(data, match_event_handler=on_match, scratch=self._scratch.get())

    def runs(
        self, data: bytes, gaps: list[int], literals_from: int, literal_hits: list[tuple[int, int]] | None
    ) -> dict[int, list[tuple[int, int]]]:
        """Keyword runs by keyword index (for the first ``literals_from`` patterns; only those hit);
        the other patterns' hits go to ``literal_hits`` as (offset, index among them)."""
        lengths = self._lengths
        runs: dict[int, list[tuple[int, int]]] = {}
        first: dict[int, int] = {}  # keyword index -> its open run's first and last hit
        last: dict[int, int] = {}

        def on_match(index: int, start: int, end: int, flags: int, context: object) -> None:
            at = end - lengths[index]
            if index >= literals_from:
                if literal_hits is not None:
                    literal_hits.append((at, index - literals_from))
                return
            if index not in last:
                first[index] = at
            elif at - last[index] > gaps[index]:
                runs.setdefault(index, []).append((first[index], last[index]))
                first[index] = at
            last[index] = at

        self._db.scan(data, match_event_handler=on_match, scratch=self._scratch.get())
        for index, start in first.items():
            runs.setdefault(index, []).append((start, last[index]))
        return runs


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
        near: int = 0,
    ) -> None:
        self.rules = tuple(rules)
        self.regex_timeout = regex_timeout
        self.windows = {rule: rule_window(rule) for rule in self.rules}
        self.keywords = KeywordIndex(self.rules, engine, self.windows.__getitem__, literals, near)

    def keyword_hits(self, data: bytes) -> dict[Rule, list[int]]:
        """Offsets of every keyword occurrence, grouped by rule."""
        return self.keywords.hits(data)

    def detect(self, data: bytes, literal_hits: list[tuple[int, int]] | None = None) -> Detection:
        """Find every rule match in ``data`` that passes the rule's offline checks; the hits of
        the extra ``literals`` (in the same pass) go to ``literal_hits`` when it is given."""
        result = Detection()
        found = self.keywords.runs(data, literal_hits)
        if not found:  # most buffers: no keyword at all
            return result
        lines = _Lines(data)
        for rule, runs in found.items():
            before, after = self.windows[rule]
            windows = _pieces(_merge_windows(runs, len(data), before, after), before + after)
            seen: set[tuple[int, int]] = set()
            deny = True
            for span, secret in self._search(rule, data, windows, after, result):
                if span in seen:
                    continue
                seen.add(span)
                deny = self._keep(rule, data, span, secret, result, lines, deny)
        result.matches.sort(key=lambda m: (m.start, m.rule.id))
        return result

    def _search(
        self,
        rule: Rule,
        data: bytes,
        windows: Iterable[tuple[int, int]],
        after: int,
        result: Detection,
    ) -> Iterator[tuple[tuple[int, int], bytes]]:
        """Matches in the windows, in order, as one ``finditer`` over the whole buffer would give
        them (no match overlaps the one before). A match that reaches its window's end may be cut
        short there, so it is searched again from its start over twice the distance (or at least
        one window), until it ends inside: the extra work is bounded by the match's own length.
        One timeout gives up the rule for the rest of the buffer."""
        size, resume = len(data), 0
        for start, end in windows:
            pos = max(start, resume)
            found: list[tuple[tuple[int, int], bytes]] = []  # judged after the search: the
            while pos < end:  # timeout counts wall time, also while a generator is suspended
                try:
                    for match in rule.pattern.finditer(data, pos=pos, endpos=end, timeout=self.regex_timeout):
                        if match.end() >= end and end < size:
                            pos = match.start()
                            end = min(size, pos + 2 * max(end - pos, after))
                            break
                        resume = max(match.end(), resume)
                        span = match.span(rule.secret_group)
                        if span[0] >= 0:
                            found.append((span, data[span[0] : span[1]]))
                    else:
                        break
                except TimeoutError:
                    yield from found
                    result.errors.append(
                        f"rule '{rule.id}': regex search timed out after {self.regex_timeout}s "
                        f"at bytes {pos}-{end}; rule skipped for the rest of this input"
                    )
                    return
            yield from found

    def _keep(
        self,
        rule: Rule,
        data: bytes,
        span: tuple[int, int],
        raw: bytes,
        result: Detection,
        lines: _Lines,
        deny: bool,
    ) -> bool:
        """Judge one candidate and record it; return whether deny patterns still apply (one
        that times out is skipped for the rest of the buffer)."""
        line_start, line_end = lines.bounds(span[0])
        multiline = b"\n" in raw or b"\r" in raw  # a custom rule's secret may span lines
        if multiline:
            line_end = lines.bounds(span[1])[1]
            allowed = _marker_in(data, line_start, line_end)
        else:
            allowed = lines.allowed(span[0])
        if allowed is not None:
            result.rejected.append((rule, f"{allowed.decode()} comment"))
            result.suppressed.append(span[0])
            return deny
        secret = Secret(raw.decode("utf-8", "surrogateescape"))
        verdict = judge(secret.value, secret.sha256, rule, timeout=self.regex_timeout, deny=deny)
        if verdict.error:
            result.errors.append(
                f"rule '{rule.id}': {verdict.error}; deny patterns skipped for the rest of this input"
            )
            deny = False
        if not verdict.keep:
            result.rejected.append((rule, verdict.reason))
            return deny
        line = lines.number(span[0])
        column, utf16_column = lines.widths(line_start, span[0])
        secret_width, secret_utf16 = _widths(raw)
        end_line, end_column, utf16_end = line, column + secret_width, utf16_column + secret_utf16
        if multiline:
            end_line = lines.number(span[1])
            end_start = lines.bounds(span[1])[0]
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
        return deny


def rule_window(rule: Rule) -> tuple[int, int]:
    """Bytes before and after a keyword hit that the rule's regex reads."""
    return max(WINDOW_BEFORE, rule.window), max(WINDOW_AFTER, rule.window + LOOKAROUND)


class _Lines:
    """Line numbers, line bounds and columns in one buffer, each computed from the previous
    answer rather than from the buffer's start: matches come in ascending order per rule, so a
    buffer costs one pass per rule however many matches it has."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._has_cr: bool | None = None
        self._counted = (0, 1)  # (offset, line number at that offset)
        self._line: tuple[int, int, bytes | None] = (
            -1,
            -1,
            None,
        )  # bounds of the last line asked about, and its allow marker
        self._width = (-1, -1, (0, 0))  # (line start, offset, widths of the line up to offset)

    @property
    def has_cr(self) -> bool:
        if self._has_cr is None:
            self._has_cr = b"\r" in self._data
        return self._has_cr

    def number(self, at: int) -> int:
        """1-based line of byte ``at``; LF, CRLF and lone CR each end a line."""
        data = self._data
        since, line = self._counted if self._counted[0] <= at else (0, 1)
        line += data.count(b"\n", since, at)
        if self.has_cr:
            line += data.count(b"\r", since, at) - data.count(b"\r\n", since, at)
            if 0 < since < at and data[since - 1 : since + 1] == b"\r\n":
                line -= 1  # that CRLF was counted on both sides of ``since``
        self._counted = (at, line)
        return line

    def bounds(self, at: int) -> tuple[int, int]:
        """Start and end (the line break's offset) of the line holding byte ``at``."""
        start, end, _ = self._line
        if start <= at <= end:
            return start, end
        data = self._data
        start = data.rfind(b"\n", 0, at) + 1
        end = data.find(b"\n", at)
        end = len(data) if end < 0 else end
        if self.has_cr:  # a CR only counts inside the LF-delimited line, so no search goes further
            start = max(start, data.rfind(b"\r", start, at) + 1)
            cr = data.find(b"\r", at, end)
            end = end if cr < 0 else cr
        self._line = (start, end, _marker_in(data, start, end))
        return start, end

    def allowed(self, at: int) -> bytes | None:
        """The allow marker on the line holding byte ``at``, if any."""
        self.bounds(at)
        return self._line[2]

    def widths(self, line_start: int, at: int) -> tuple[int, int]:
        """Characters and UTF-16 units from ``line_start`` to ``at``."""
        start, since, (chars, units) = self._width
        if start != line_start or since > at:
            since, chars, units = line_start, 0, 0
        more_chars, more_units = _widths(self._data[since:at])
        chars, units = chars + more_chars, units + more_units
        if at < len(self._data) and self._data[at] < 0x80:  # decoding can resume at an ASCII byte
            self._width = (line_start, at, (chars, units))
        return chars, units


def _marker_in(data: bytes, start: int, end: int) -> bytes | None:
    """The first inline allow marker found between ``start`` and ``end``."""
    return next((m for m in ALLOW_MARKERS if data.find(m, start, end) >= 0), None)


def _iter_find(buffer: bytes, needle: bytes, start: int = 0, end: int | None = None) -> Iterator[int]:
    """Offsets of ``needle`` in ``buffer[start:end]``."""
    find = buffer.find
    at = find(needle, start, end)
    while at >= 0:
        yield at
        at = find(needle, at + 1, end)


def _iter_runs(buffer: bytes, needle: bytes, gap: int) -> Iterator[tuple[int, int]]:
    """Runs of ``needle`` (see ``KeywordIndex.runs``), jumping to the farthest hit within ``gap``
    so that a buffer dense with the needle costs a few calls per ``gap`` bytes, not one per hit."""
    find, rfind, length = buffer.find, buffer.rfind, len(needle)
    at = find(needle)
    while at >= 0:
        last = at
        while (farther := rfind(needle, last + 1, last + gap + length)) >= 0:
            last = farther
        yield at, last
        at = find(needle, last + 1)


def _merge_windows(
    runs: list[tuple[int, int]], size: int, before: int = WINDOW_BEFORE, after: int = WINDOW_AFTER
) -> Iterator[tuple[int, int]]:
    """Windows around runs of keyword hits, merged where they overlap or touch."""
    current_start = current_end = -1
    for first, last in runs:
        start = max(0, first - before)
        end = min(size, last + after)
        if start <= current_end:
            current_end = max(current_end, end)
            continue
        if current_end >= 0:
            yield current_start, current_end
        current_start, current_end = start, end
    if current_end >= 0:
        yield current_start, current_end


def _pieces(windows: Iterable[tuple[int, int]], overlap: int) -> Iterator[tuple[int, int]]:
    """Cut windows longer than a piece into pieces that overlap by ``overlap`` bytes."""
    piece = max(PIECE, 4 * overlap)
    for start, end in windows:
        while end - start > piece:
            yield start, start + piece
            start += piece - overlap
        yield start, end


def _widths(data: bytes) -> tuple[int, int]:
    """Width of UTF-8 text in characters and in UTF-16 code units (undecodable bytes count one)."""
    text = data.decode("utf-8", "replace")
    if text.isascii():
        return len(text), len(text)
    return len(text), len(text.encode("utf-16-le", "surrogatepass")) // 2


def _stable_cut(buffer: bytes, cut: int, reach: int) -> int:
    """A cut at or before ``cut`` that decodes the same as the whole: columns count characters, and
    UTF-8 decoding (invalid bytes included) restarts at an ASCII byte; failing that within ``reach``
    bytes, at least not inside a sequence's continuation bytes."""
    for at in range(cut, max(0, cut - reach) - 1, -1):
        if buffer[at] < 0x80:
            return at
    for _ in range(3):
        if cut > 0 and 0x80 <= buffer[cut] < 0xC0:
            cut -= 1
    return cut


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
        result.suppressed.extend(offset + s for s in detection.suppressed if own_from <= s < limit)
        result.errors.extend(f"{error} (stream offset {offset})" for error in detection.errors)
        if not more:
            break
        cut = _stable_cut(buffer, max(0, limit - overlap), overlap // 2)
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
