"""Detection over an input and every layer inside it (decoded regions, archive members, strings).

The one place where the extract stage meets the detector: each layer goes through the same
detector and offline checks as plain text; a layer that is not mostly text only through the
exact-shape rules (the ones whose secret starts with a fixed prefix such as ``sqco_``). A secret
is reported once per file (an archive member is a file of its own), from the outermost layer it
is seen in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import regex

from leakscan.content import Kind, sniff, to_scannable
from leakscan.detect import ALLOW_MARKER, Detection, Detector
from leakscan.extract import Extractor, Layer, Limits, Skip, Step, StepKind, describe
from leakscan.models import LayerStep, Match
from leakscan.rules import Rule


@dataclass(frozen=True, slots=True)
class LayerMatch:
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


@dataclass(slots=True)
class Expansion:
    """What detection over an input's layers gave (the input itself is not included)."""

    matches: list[LayerMatch] = field(default_factory=list)
    skips: list[Skip] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    layers: int = 0
    layer_bytes: int = 0
    suppressed: int = 0
    known_examples: int = 0


@dataclass(slots=True)
class Examined:
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
    try:
        pattern = regex.compile(source[start : index + 1], flags=rule.pattern.flags)
    except regex.error:
        return rule
    return replace(rule, pattern=pattern)


class LayeredDetector:
    """The extractor and the two detectors (all rules; exact-shape rules) for one scan."""

    def __init__(self, rules: Sequence[Rule], limits: Limits) -> None:
        keywords = [(keyword, rule.keywords_ignore_case) for rule in rules for keyword in rule.keywords]
        self.extractor = Extractor(keywords, limits)
        # The extractor's triggers are found in the detector's keyword pass: no second pass.
        self.detector = Detector(rules, literals=self.extractor.index.literals)
        self._rules = tuple(rules)
        self._exact: Detector | None = None

    @property
    def exact(self) -> Detector:
        """The exact-shape rules without boundaries, for binary layers (built on first use)."""
        if self._exact is None:
            self._exact = Detector([without_boundaries(rule) for rule in self._rules if is_exact_shape(rule)])
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
        kinds = self.extractor.index.kinds
        hits = sorted((at, kinds[index]) for at, index in literal_hits)
        expansion = self.expand(data, text=True, found=detection.matches, hits=hits)
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
        seen: set[tuple[str, str, tuple[str, ...]]] = {(m.rule.id, m.secret.value, ()) for m in found}
        containers: dict[tuple[Step, ...], bytes] = {(): data} if text else {}
        for item in self.extractor.walk(Layer((), data, text), hits=hits):
            if isinstance(item, Skip):
                expansion.skips.append(item)
                continue
            expansion.layers += 1
            expansion.layer_bytes += len(item.data)
            if item.text:
                containers[item.steps] = item.data
            detection = (self.detector if item.text else self.exact).detect(item.data)
            expansion.errors.extend(f"{error} (in a layer)" for error in detection.errors)
            expansion.known_examples += detection.known_examples
            expansion.suppressed += len(detection.suppressed)
            for match in detection.matches:
                key = (match.rule.id, match.secret.value, _member_path(item.steps))
                if key in seen:
                    continue
                seen.add(key)
                if self._allowed(item, containers):
                    expansion.suppressed += 1
                    continue
                expansion.matches.append(self._place(item, match, containers))
        return expansion

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
