"""The extract stage: decoders (base64, percent-encoding, quoted-printable, HTML entities, escapes)
and extractors (gzip/bzip2/xz, the zip family, tar, strings of binary files), within limits.

Each input expands to layers whose steps name how they were reached from it (outermost first).
"""

from __future__ import annotations

from leakscan.extract.expand import Extractor, depth_of
from leakscan.extract.layer import Budget, Layer, Limits, Skip, Step, StepKind, describe

__all__ = ["Budget", "Extractor", "Layer", "Limits", "Skip", "Step", "StepKind", "depth_of", "describe"]
