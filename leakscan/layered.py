"""Detection over an input and every layer inside it (decoded regions, archive members, strings).

The one place where the extract stage meets the detector: each layer goes through the same
detector and offline checks as plain text; a layer that is not mostly text only through the
exact-shape rules (the ones whose secret starts with a fixed prefix such as ``sqco_``). A secret
is reported once per file (an archive member is a file of its own), from the outermost layer it
is seen in.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from msgspec import Struct, field
from msgspec.structs import replace

from leakscan.content import Kind, sniff, to_scannable
from leakscan.detect import ALLOW_MARKER, Detection, Detector
from leakscan.extract import Budget, Extractor, Layer, Limits, Skip, Step, StepKind, depth_of, describe
from leakscan.extract.sniff import sniff_container
from leakscan.extract.strings import KeywordProbe
from leakscan.models import LayerStep, Match
from leakscan.rules import Rule


class LayerMatch(Struct, frozen=True):
    """A match inside a layer: its position is within the layer's bytes; ``outer`` is the
    (line, column) of the encoded region in the nearest container, where that is known, and
    ``outer_steps`` how many leading steps lead to that container (0: the input itself)."""

    steps: tuple[Step, ...]
    match: Match
    outer: tuple[int, int] | None
    outer_steps: int

    def located(self) -> Match:
        """The match with its layer steps on it (what findings are made of)."""
        return replace(self.match, layer=layer_steps(self.steps, self.outer, self.outer_steps))


class Expansion(Struct):
    """What detection over an input's layers gave (the input itself is not included)."""

    matches: list[LayerMatch] = field(default_factory=list)
    skips: list[Skip] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    layers: int = 0
    layer_bytes: int = 0
    suppressed: int = 0
    known_examples: int = 0


class _Candidate(Struct, frozen=True):
    """A match in a layer before the one-report-per-secret rule: where it is placed, and whether
    an allow marker on its line in the container drops it."""

    steps: tuple[Step, ...]
    match: Match
    allowed: bool
    outer: tuple[int, int] | None
    outer_steps: int


class _Tally(Struct):
    """What detection in a run of layers gave, in walk order."""

    found: list[_Candidate] = field(default_factory=list)
    skips: list[Skip] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    layers: int = 0
    layer_bytes: int = 0
    suppressed: int = 0
    known_examples: int = 0

    def extend(self, other: _Tally) -> None:
        self.found.extend(other.found)
        self.skips.extend(other.skips)
        self.errors.extend(other.errors)
        self.layers += other.layers
        self.layer_bytes += other.layer_bytes
        self.suppressed += other.suppressed
        self.known_examples += other.known_examples


_BOUNDARIES = frozenset({StepKind.ZIP, StepKind.TAR, StepKind.GZIP, StepKind.BZIP2, StepKind.XZ})
CACHE_ENTRIES = 50_000
CACHE_MIN_BYTES = 512  # below this, scanning a layer costs less than hashing and looking it up

_Key = tuple[bytes, bool, StepKind, int]


class _Entry(Struct, frozen=True):
    """What detection in and below one layer gave, with steps relative to that layer, and what
    it took from the budget."""

    found: tuple[_Candidate, ...]
    skips: tuple[Skip, ...]
    layers: int
    layer_bytes: int
    suppressed: int
    known_examples: int
    bytes_taken: int
    members_taken: int

    def fits(self, budget: Budget) -> bool:
        """Whether the walk would take the same course with this budget: nothing it asks for is
        refused, and bytes are left over at the end (an empty budget stops a walk early)."""
        return budget.bytes_left > self.bytes_taken and budget.members_left >= self.members_taken

    def replay(self, steps: tuple[Step, ...], budget: Budget, tally: _Tally) -> None:
        """Add this outcome, below the layer at ``steps``, to ``tally``, and charge the budget."""
        budget.bytes_left -= self.bytes_taken
        budget.members_left -= self.members_taken
        depth = len(steps)
        tally.found.extend(
            _Candidate(steps + c.steps, c.match, c.allowed, c.outer, depth + c.outer_steps)
            for c in self.found
        )
        tally.skips.extend(Skip(steps + skip.steps, skip.reason) for skip in self.skips)
        tally.layers += self.layers
        tally.layer_bytes += self.layer_bytes
        tally.suppressed += self.suppressed
        tally.known_examples += self.known_examples


class SubtreeCache:
    """Outcomes of detection in and below archive members and compression streams (and decoded
    archives), by the SHA-256 of their bytes: the same file inside many versions of a wheel, a
    tarball or an embedded archive is searched once per process.

    An outcome depends on the layer's bytes, whether they are text, the kind of step that led
    to it and its depth, and nothing above it: every position below such a layer is placed in a
    container at or below it. An outcome is kept only when no limit turned anything down and
    nothing timed out, and reused only when the budget left covers what it took.
    """

    def __init__(self, entries: int = CACHE_ENTRIES, min_bytes: int = CACHE_MIN_BYTES) -> None:
        self._entries: dict[_Key, _Entry] = {}
        self._capacity = entries
        self._min_bytes = min_bytes
        self.hits = 0

    def key(self, layer: Layer) -> _Key | None:
        """The key of a layer whose subtree can be reused; None for any other layer."""
        if self._capacity <= 0 or len(layer.data) < self._min_bytes or not layer.steps:
            return None
        kind = layer.steps[-1].kind
        if kind not in _BOUNDARIES and not (
            kind.is_decoder and not layer.text and isinstance(sniff_container(layer.data), StepKind)
        ):
            return None
        digest = hashlib.sha256(layer.data).digest()
        return digest, layer.text, kind, depth_of(layer.steps)

    def get(self, key: _Key, budget: Budget) -> _Entry | None:
        entry = self._entries.get(key)
        if entry is None or not entry.fits(budget):
            return None
        self.hits += 1
        return entry

    @staticmethod
    def mark(budget: Budget) -> tuple[int, int, int]:
        return budget.bytes_left, budget.members_left, budget.refused

    def put(
        self,
        key: _Key,
        steps: tuple[Step, ...],
        below: _Tally,
        before: tuple[int, int, int],
        budget: Budget,
    ) -> None:
        """Keep what the walk below ``steps`` gave (``below``), if it can be reused."""
        bytes_left, members_left, refused = before
        depth = len(steps)
        if (
            below.errors
            or budget.refused != refused
            or budget.bytes_left <= 0
            or any(c.outer_steps < depth for c in below.found)
        ):
            return
        if len(self._entries) >= self._capacity:
            self._entries.clear()
        self._entries[key] = _Entry(
            tuple(
                _Candidate(c.steps[depth:], c.match, c.allowed, c.outer, c.outer_steps - depth)
                for c in below.found
            ),
            tuple(Skip(skip.steps[depth:], skip.reason) for skip in below.skips),
            below.layers,
            below.layer_bytes,
            below.suppressed,
            below.known_examples,
            bytes_left - budget.bytes_left,
            members_left - budget.members_left,
        )


class Examined(Struct):
    """One input through content policy, detection and the extract stage: every match (those in
    layers carry their steps), regex errors, and what a limit or damage left closed, as
    (path suffix such as ``!inner.zip (gzip)``, reason)."""

    matches: list[Match]
    errors: list[str]
    skips: list[tuple[str, str]]
    scanned_bytes: int
    suppressed: int = 0  # matches an allow marker dropped
    known_examples: int = 0  # candidates that were public documentation examples


def layer_steps(
    steps: tuple[Step, ...], outer: tuple[int, int] | None, outer_steps: int
) -> tuple[LayerStep, ...]:
    """Extract steps as origin steps: a compression stream holding a tar shows as its members;
    the decoded region that starts in the nearest container gets its line and column there."""
    chain: list[LayerStep] = []
    for index, step in enumerate(steps):
        following = steps[index + 1] if index + 1 < len(steps) else None
        if step.kind.is_stream and following is not None and following.kind is StepKind.TAR:
            continue
        if step.kind in (StepKind.ZIP, StepKind.TAR):
            chain.append(LayerStep(member=step.member))
        elif index == outer_steps and outer is not None:
            chain.append(LayerStep(encoding=step.kind.value, line=outer[0], column=outer[1]))
        else:
            chain.append(LayerStep(encoding=step.kind.value))
    return tuple(chain)


def is_exact_shape(rule: Rule) -> bool:
    """A rule whose secret starts with a fixed prefix: safe to look for in binary data."""
    return rule.prefix_length > 0


def without_boundaries(rule: Rule) -> Rule:
    """The rule's secret group alone. Binary formats pack strings back to back (SQLite records,
    marshalled .pyc constants), so the characters around a token there are not a boundary."""
    source = rule.pattern.pattern
    opener = b"(?P<" + rule.secret_group.encode() + b">"
    start = source.find(opener)
    if start < 0 or source.count(opener) != 1:
        return rule
    depth, index = 0, start
    while index < len(source):
        char = source[index : index + 1]
        if char == b"\\":
            index += 2
            continue
        if char == b"(":
            depth += 1
        elif char == b")":
            depth -= 1
            if depth == 0:
                break
        index += 1
    import regex

    try:
        pattern = regex.compile(source[start : index + 1], flags=rule.pattern.flags)
    except regex.error:
        return rule
    return replace(rule, pattern=pattern)


class LayeredDetector:
    """The extractor and the two detectors (all rules; exact-shape rules) for one scan."""

    def __init__(
        self,
        rules: Sequence[Rule],
        limits: Limits,
        engine: str = "auto",
        cache: SubtreeCache | None = None,
        *,
        probe: bool = True,
    ) -> None:
        keywords = [(keyword, rule.keywords_ignore_case) for rule in rules for keyword in rule.keywords]
        self.extractor = Extractor(keywords, limits)
        # The extractor's triggers are found in the detector's keyword pass: no second pass.
        # ``engine``: the keyword engine (``auto``, ``python``: see ``KeywordIndex``).
        index = self.extractor.index
        self.detector = Detector(rules, literals=index.literals, near=index.near, engine=engine)
        self._engine = engine
        self._rules = tuple(rules)
        self._exact: Detector | None = None
        self._cache = cache if cache is not None else SubtreeCache()
        self._probe = _binary_probe(rules) if probe else None

    @property
    def exact(self) -> Detector:
        """The exact-shape rules without boundaries, for binary layers (built on first use)."""
        if self._exact is None:
            exact = [without_boundaries(rule) for rule in self._rules if is_exact_shape(rule)]
            self._exact = Detector(exact, engine=self._engine)
        return self._exact

    @property
    def enabled(self) -> bool:
        return self.extractor.limits.depth > 0

    def examine(self, raw: bytes) -> Examined | Kind:
        """The content policy, then detection in the input and in every layer inside it; the
        Kind that is not scanned (a Git LFS pointer; binary data with nothing inside to read)."""
        kind = sniff(raw)
        if kind is Kind.LFS_POINTER or (kind is Kind.BINARY and not self.enabled):
            return kind
        if kind is Kind.BINARY:
            expansion = self.expand(raw, text=False)
            if not expansion.layers and not expansion.skips:
                return kind
            return self._examined(None, expansion, 0)
        data = to_scannable(raw, kind)
        if not self.enabled:
            return self._examined(self.detector.detect(data), Expansion(), len(data))
        literal_hits: list[tuple[int, int]] = []
        detection = self.detector.detect(data, literal_hits)
        if not literal_hits and not (detection.matches or detection.rejected or detection.errors):
            return Examined([], [], [], len(data), len(detection.suppressed))  # most inputs
        kinds = self.extractor.index.kinds
        hits = sorted((at, kinds[index]) for at, index in literal_hits)
        # No trigger in the text: nothing below it to decode (the walk would find nothing).
        expansion = self.expand(data, text=True, found=detection.matches, hits=hits) if hits else Expansion()
        return self._examined(detection, expansion, len(data))

    @staticmethod
    def _examined(detection: Detection | None, expansion: Expansion, size: int) -> Examined:
        found = detection or Detection()
        return Examined(
            [*found.matches, *(m.located() for m in expansion.matches)],
            [*found.errors, *expansion.errors],
            [(describe("", skip.steps), skip.reason) for skip in expansion.skips],
            size + expansion.layer_bytes,
            len(found.suppressed) + expansion.suppressed,
            found.known_examples + expansion.known_examples,
        )

    def expand(
        self,
        data: bytes,
        *,
        text: bool,
        found: Sequence[Match] = (),
        hits: list[tuple[int, StepKind]] | None = None,
    ) -> Expansion:
        """Detect in every layer below ``data``; ``found``: the matches in ``data`` itself, so a
        secret seen there is not reported again from a layer; ``hits``: trigger hits in ``data``
        if the keyword pass found them (else the extractor looks)."""
        expansion = Expansion()
        if not self.enabled:
            return expansion
        tally = _Tally()
        containers: dict[tuple[Step, ...], bytes] = {(): data} if text else {}
        self._descend(Layer((), data, text), self.extractor.budget(), hits, tally, containers)
        seen: set[tuple[str, str, tuple[str, ...]]] = {(m.rule.id, m.secret.value, ()) for m in found}
        for candidate in tally.found:
            match = candidate.match
            key = (match.rule.id, match.secret.value, _member_path(candidate.steps))
            if key in seen:
                continue
            seen.add(key)
            if candidate.allowed:
                expansion.suppressed += 1
                continue
            expansion.matches.append(
                LayerMatch(candidate.steps, match, candidate.outer, candidate.outer_steps)
            )
        expansion.skips = tally.skips
        expansion.errors = tally.errors
        expansion.layers = tally.layers
        expansion.layer_bytes = tally.layer_bytes
        expansion.suppressed += tally.suppressed
        expansion.known_examples = tally.known_examples
        return expansion

    def _descend(
        self,
        layer: Layer,
        budget: Budget,
        hits: list[tuple[int, StepKind]] | None,
        tally: _Tally,
        containers: dict[tuple[Step, ...], bytes],
    ) -> None:
        """Detection in every layer below ``layer``, depth first (the order ``Extractor.walk``
        yields them in); the subtree below an archive member or a stream comes from the cache
        when the same bytes were seen at the same depth before."""
        if self._probe is not None and self.extractor.opens_to_strings(layer):
            if not self._probe.found(layer.data):  # its strings would be searched in vain
                if self.extractor.strings.found(layer.data):  # counted as if searched
                    tally.layers += 1
                    tally.layer_bytes += len(layer.data)
                return
        for child in self.extractor.children(layer, budget, hits):
            if isinstance(child, Skip):
                tally.skips.append(child)
                continue
            key = self._cache.key(child)
            entry = self._cache.get(key, budget) if key is not None else None
            if entry is not None:
                entry.replay(child.steps, budget, tally)
            elif key is not None:
                before = self._cache.mark(budget)
                below = _Tally()
                self._visit(child, budget, below, containers)
                self._cache.put(key, child.steps, below, before, budget)
                tally.extend(below)
            else:
                self._visit(child, budget, tally, containers)
            if budget.bytes_left <= 0:
                return

    def _visit(
        self, layer: Layer, budget: Budget, tally: _Tally, containers: dict[tuple[Step, ...], bytes]
    ) -> None:
        """Detection in ``layer`` itself if it is searchable, then in everything below it."""
        hits = None
        if layer.text or layer.steps[-1].kind is StepKind.STRINGS:
            hits = self._detect(layer, tally, containers)
        self._descend(layer, budget, hits, tally, containers)

    def _detect(
        self, layer: Layer, tally: _Tally, containers: dict[tuple[Step, ...], bytes]
    ) -> list[tuple[int, StepKind]] | None:
        """Detection in one layer; a text layer's trigger hits (found in the same pass)."""
        tally.layers += 1
        # A strings layer counts as the binary bytes it was read from (``Step.end``).
        tally.layer_bytes += len(layer.data) if layer.text else layer.steps[-1].end
        literal_hits: list[tuple[int, int]] | None = None
        if layer.text:
            containers[layer.steps] = layer.data
            literal_hits = []
            detection = self.detector.detect(layer.data, literal_hits)
        else:
            detection = self.exact.detect(layer.data)
        tally.errors.extend(f"{error} (in a layer)" for error in detection.errors)
        tally.known_examples += detection.known_examples
        tally.suppressed += len(detection.suppressed)
        for match in detection.matches:
            placed = self._place(layer, match, containers)
            allowed = self._allowed(layer, containers)
            tally.found.append(_Candidate(layer.steps, match, allowed, placed.outer, placed.outer_steps))
        if literal_hits is None:
            return None
        kinds = self.extractor.index.kinds
        return sorted((at, kinds[index]) for at, index in literal_hits)

    @staticmethod
    def _allowed(layer: Layer, containers: dict[tuple[Step, ...], bytes]) -> bool:
        """A decoded region on a line with ``leakscan:allow`` in its container is allowed, as the
        plain text on that line would be."""
        mapped = layer.outer_offset(0)
        if mapped is None or mapped[0] == len(layer.steps):
            return False
        container = containers.get(layer.steps[: mapped[0]])
        if container is None:
            return False
        offset = mapped[1]
        start = max(container.rfind(b"\n", 0, offset), container.rfind(b"\r", 0, offset)) + 1
        ends = [i for i in (container.find(b"\n", offset), container.find(b"\r", offset)) if i >= 0]
        return ALLOW_MARKER in container[start : min(ends) if ends else len(container)]

    @staticmethod
    def _place(layer: Layer, match: Match, containers: dict[tuple[Step, ...], bytes]) -> LayerMatch:
        mapped = layer.outer_offset(match.start)
        if mapped is None:
            return LayerMatch(layer.steps, match, None, len(layer.steps))
        index, offset = mapped
        container = containers.get(layer.steps[:index])
        if container is None or index == len(layer.steps):
            return LayerMatch(layer.steps, match, None, index)
        return LayerMatch(layer.steps, match, line_column(container, offset), index)


def _binary_probe(rules: Sequence[Rule]) -> KeywordProbe | None:
    """The probe for the exact-shape rules' keywords in binary data; None (strings are always
    searched) when a keyword is caseless, not ASCII, or spans lines."""
    keywords = [keyword for rule in rules if is_exact_shape(rule) for keyword in rule.keywords]
    for rule in rules:
        if is_exact_shape(rule) and rule.keywords_ignore_case:
            return None
    if any(not keyword.isascii() or b"\n" in keyword or not keyword for keyword in keywords):
        return None
    return KeywordProbe(keywords)


def _member_path(steps: tuple[Step, ...]) -> tuple[str, ...]:
    """The archive members a layer is in: a secret is reported once per file, archive members
    being files of their own."""
    return tuple(step.member for step in steps if step.kind in (StepKind.ZIP, StepKind.TAR))


def line_column(data: bytes, offset: int) -> tuple[int, int]:
    """1-based line and column (in characters) of byte ``offset``; LF, CRLF and CR end lines."""
    line_start = max(data.rfind(b"\n", 0, offset), data.rfind(b"\r", 0, offset)) + 1
    lines = data.count(b"\n", 0, offset) + data.count(b"\r", 0, offset) - data.count(b"\r\n", 0, offset)
    column = len(data[line_start:offset].decode("utf-8", "replace"))
    return lines + 1, column + 1
