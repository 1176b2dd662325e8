"""The extract stage's driver: an input's layers, depth first, within the limits."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from leakscan.extract.decode import Region, TriggerIndex, compile_triggers, iter_regions
from leakscan.extract.layer import Budget, Layer, Limits, Skip, Step, StepKind
from leakscan.extract.sniff import is_text, sniff_container
from leakscan.extract.strings import StringsFinder

# A decoded value that is neither text nor an archive is searched (as strings) only from this size:
# shorter ones are hashes, keys and other binary values, not files.
MIN_DECODED_BINARY = 256


def depth_of(steps: Sequence[Step]) -> int:
    """Nesting depth: strings do not count, nor a stream that holds a tar (``.tar.gz`` is one)."""
    depth = 0
    for index, step in enumerate(steps):
        if step.kind is StepKind.STRINGS:
            continue
        following = steps[index + 1] if index + 1 < len(steps) else None
        if step.kind.is_stream and following is not None and following.kind is StepKind.TAR:
            continue
        depth += 1
    return depth


class Extractor:
    """Decodes and opens what one input holds; built once per scan from the rules' keywords."""

    def __init__(self, keywords: Iterable[tuple[bytes, bool]], limits: Limits | None = None) -> None:
        self.limits = limits if limits is not None else Limits()
        self.triggers = compile_triggers(keywords, self.limits.depth)
        self.index = TriggerIndex(self.triggers)
        self.strings = StringsFinder(self.limits.min_string)

    def budget(self) -> Budget:
        """A fresh budget for one input."""
        return Budget(self.limits)

    def walk(
        self,
        layer: Layer,
        budget: Budget | None = None,
        hits: list[tuple[int, StepKind]] | None = None,
    ) -> Iterator[Layer | Skip]:
        """Every searchable layer below ``layer`` (not ``layer`` itself), outermost first, and a
        Skip for whatever a limit or damage kept closed.

        Searchable layers are text (every rule applies) or strings from binary data (exact-shape
        rules only). ``hits`` are trigger hits in ``layer`` if a pass over it already found them.
        """
        if self.limits.depth <= 0:
            return
        budget = budget if budget is not None else self.budget()
        yield from self._below(layer, budget, hits)

    def _below(
        self, layer: Layer, budget: Budget, hits: list[tuple[int, StepKind]] | None
    ) -> Iterator[Layer | Skip]:
        for child in self.children(layer, budget, hits):
            if isinstance(child, Skip):
                yield child
                continue
            if child.text or child.steps[-1].kind is StepKind.STRINGS:
                yield child
            yield from self._below(child, budget, None)
            if budget.bytes_left <= 0:
                return

    def children(
        self, layer: Layer, budget: Budget, hits: list[tuple[int, StepKind]] | None
    ) -> Iterator[Layer | Skip]:
        """The layers one step below ``layer`` (searchable or not), and a Skip for whatever a
        limit or damage kept closed; ``walk`` goes on below each of them."""
        if layer.steps and layer.steps[-1].kind is StepKind.STRINGS:
            return
        if layer.text:
            found = hits if hits is not None else self.index.hits(layer.data)
            for region in iter_regions(layer.data, found):
                child = self._decoded(layer, region, budget)
                if child is not None:
                    yield child
                    if isinstance(child, Skip) and budget.bytes_left <= 0:
                        return
            return
        yield from self._open(layer, budget)

    def opens_to_strings(self, layer: Layer) -> bool:
        """Whether the only layer below ``layer`` is (at most) its strings: binary data that is
        neither an archive nor a compression stream."""
        return (
            not layer.text
            and not (layer.steps and layer.steps[-1].kind is StepKind.STRINGS)
            and (sniff_container(layer.data) is None)
        )

    def _decoded(self, layer: Layer, region: Region, budget: Budget) -> Layer | Skip | None:
        data = region.decoded
        steps = (*layer.steps, Step(region.kind, start=region.start, end=region.end))
        text = is_text(data)
        if not text and sniff_container(data) is None and len(data) < MIN_DECODED_BINARY:
            return None
        if depth_of(steps) > self.limits.depth:
            return Skip(steps, f"encoding too deep (max depth {self.limits.depth})")
        if not budget.take(len(data)):
            return Skip(steps, f"decompression limit ({self.limits.max_bytes} bytes per input)")
        return Layer(steps, data, text)

    def _open(self, layer: Layer, budget: Budget) -> Iterator[Layer | Skip]:
        kind = sniff_container(layer.data)
        if kind is not None and not isinstance(kind, StepKind):
            yield Skip(layer.steps, f"unsupported archive ({kind})")
            return
        if kind is None:
            strings = self.strings.layer(layer.data, layer.steps)
            if strings is not None:
                yield strings
            return
        if depth_of((*layer.steps, Step(kind))) > self.limits.depth:
            yield Skip(layer.steps, f"archive too deep (max depth {self.limits.depth})")
            return
        # Imported on the first archive: zipfile, tarfile, bz2 and lzma cost ~5 ms to import.
        from leakscan.extract.archive import iter_plain_tar, iter_stream, iter_zip

        if kind is StepKind.ZIP:
            yield from iter_zip(layer.data, layer.steps, budget)
        elif kind is StepKind.TAR:
            yield from iter_plain_tar(layer.data, layer.steps, budget)
        else:
            yield from iter_stream(kind, layer.data, layer.steps, budget)
