"""Value types of the extract stage: the steps from an input to a layer, layers, skips, limits."""

from __future__ import annotations

import bisect
from enum import StrEnum

from msgspec import Struct, field

MIB = 1024 * 1024


class StepKind(StrEnum):
    """How a layer was obtained from its parent."""

    BASE64 = "base64"
    PERCENT = "percent-encoding"
    QUOTED_PRINTABLE = "quoted-printable"
    ENTITIES = "html-entities"
    ESCAPES = "unicode-escapes"
    GZIP = "gzip"
    BZIP2 = "bzip2"
    XZ = "xz"
    ZIP = "zip"
    TAR = "tar"
    STRINGS = "strings"

    @property
    def is_decoder(self) -> bool:
        """A text encoding of a region (as opposed to a container or a binary view)."""
        return self in _DECODERS

    @property
    def is_stream(self) -> bool:
        return self in (StepKind.GZIP, StepKind.BZIP2, StepKind.XZ)


_DECODERS = frozenset(
    {StepKind.BASE64, StepKind.PERCENT, StepKind.QUOTED_PRINTABLE, StepKind.ENTITIES, StepKind.ESCAPES}
)


class Step(Struct, frozen=True):
    """One step from a parent layer to a child: a decoded region, an archive member, a stream."""

    kind: StepKind
    member: str = ""  # archive member name, as stored (never resolved on disk)
    start: int = 0  # the span of the parent's bytes this step read (decoders: the encoded region)
    end: int = 0

    def label(self) -> str:
        """How the step shows in a path: ``!member`` for members, `` (encoding)`` otherwise."""
        return f"!{self.member}" if self.kind in (StepKind.ZIP, StepKind.TAR) else f" ({self.kind})"


def describe(path: str, steps: tuple[Step, ...]) -> str:
    """``deploy/bundle.zip!conf/app.properties``, ``k8s/secret.yaml (base64)``.

    A compression stream that holds a tar (``.tar.gz``) shows as the tar members alone.
    """
    parts = [path]
    for index, step in enumerate(steps):
        following = steps[index + 1] if index + 1 < len(steps) else None
        if step.kind.is_stream and following is not None and following.kind is StepKind.TAR:
            continue
        parts.append(step.label())
    return "".join(parts)


class Layer(Struct, frozen=True):
    """Bytes obtained from an input through ``steps`` (outermost first).

    ``text`` is False for layers that are not mostly text (strings pulled out of a binary file, a
    decoded binary value): only exact-shape rules apply there. ``segments`` maps a strings layer
    back to its parent: (offset in this layer, offset in the parent, length, bytes per character
    in the parent), ascending.
    """

    steps: tuple[Step, ...]
    data: bytes
    text: bool = True
    segments: tuple[tuple[int, int, int, int], ...] = ()

    @property
    def depth(self) -> int:
        return len(self.steps)

    def parent_offset(self, offset: int) -> int | None:
        """Where byte ``offset`` of this layer came from in the parent, where that is known.

        Known for strings (exactly) and for decoded regions (the start of the encoded region).
        """
        if not self.steps:
            return offset
        step = self.steps[-1]
        if step.kind.is_decoder:
            return step.start
        if step.kind is StepKind.STRINGS and self.segments:
            at = bisect.bisect_right(self.segments, (offset, 1 << 62, 0, 0)) - 1
            if at >= 0:
                start, parent, length, width = self.segments[at]
                if offset < start + length:
                    return parent + (offset - start) * width
        return None

    def outer_offset(self, offset: int) -> tuple[int, int] | None:
        """(number of leading steps, offset): where ``offset`` lies in the nearest container.

        The container is the layer after the last archive member or stream step (0 = the input
        itself), found by walking back through decoded regions and strings; None when a step in
        between has no mapping.
        """
        index = len(self.steps)
        if index and not (self.steps[-1].kind.is_decoder or self.steps[-1].kind is StepKind.STRINGS):
            return index, offset
        mapped = self.parent_offset(offset)
        if mapped is None:
            return None
        index -= 1
        while index > 0 and self.steps[index - 1].kind.is_decoder:
            mapped = self.steps[index - 1].start
            index -= 1
        return index, mapped


class Skip(Struct, frozen=True):
    """Something inside an input that was not opened or decoded, and why (a counted skip)."""

    steps: tuple[Step, ...]
    reason: str


class Limits(Struct, frozen=True):
    """Bounds on what one input may expand to; a limit hit is a Skip with its reason."""

    depth: int = 3  # steps from the input to the deepest layer; 0 turns the stage off
    max_bytes: int = 256 * MIB  # decoded + decompressed bytes per input, all layers together
    max_ratio: int = 100  # decompressed / compressed, checked once a stream passes ratio_floor
    ratio_floor: int = 1 * MIB
    max_members: int = 10_000  # archive members opened per input
    min_string: int = 8  # shortest printable run taken from a binary file


class Budget(Struct):
    """What is left of the limits while one input is expanded."""

    limits: Limits
    bytes_left: int = field(default=-1)
    members_left: int = field(default=-1)
    refused: int = 0  # requests a limit turned down (bytes or members)

    def __post_init__(self) -> None:
        if self.bytes_left < 0:
            self.bytes_left = self.limits.max_bytes
        if self.members_left < 0:
            self.members_left = self.limits.max_members

    def take(self, size: int) -> bool:
        """Reserve ``size`` output bytes; False (and nothing taken) when that would pass the limit."""
        if size > self.bytes_left:
            self.refused += 1
            return False
        self.bytes_left -= size
        return True

    def take_member(self) -> bool:
        """Count one archive member opened; False (and nothing taken) when none is left."""
        if self.members_left <= 0:
            self.refused += 1
            return False
        self.members_left -= 1
        return True
