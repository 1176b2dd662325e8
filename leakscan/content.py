"""What kind of bytes a blob holds: text, UTF-16 or UTF-32 text, binary, or a Git LFS pointer.

The policy, in order:
- a UTF-32 BOM (``FF FE 00 00`` / ``00 00 FE FF``) on data whose length is a multiple of 4: UTF-32;
- a UTF-16 BOM with a NUL byte anywhere after it: UTF-16 (any ASCII character, and so any token,
  has a NUL byte in UTF-16; with no NUL at all, the UTF-16 reading holds no token, and the bytes
  are more likely an 8-bit file that starts with ``ÿþ``);
- a blob that is exactly a Git LFS pointer (version, ``oid sha256:`` and ``size`` lines, nothing
  else): an LFS pointer, not scanned;
- no NUL byte in the first 8 KiB: text;
- NUL bytes in the pattern of BOM-less UTF-32 or UTF-16 text: that encoding;
- otherwise binary (not scanned; a NUL byte early in a file is how every binary format starts).
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable
from enum import StrEnum

SNIFF_BYTES = 8192
LFS_POINTER_MAX = 1024
_LFS_POINTER = re.compile(
    rb"version https://git-lfs\.github\.com/spec/v1\noid sha256:[0-9a-f]{64}\nsize [0-9]+\n?"
)


class Kind(StrEnum):
    TEXT = "text"
    UTF16_LE = "utf-16-le"
    UTF16_BE = "utf-16-be"
    UTF32_LE = "utf-32-le"
    UTF32_BE = "utf-32-be"
    BINARY = "binary"
    LFS_POINTER = "lfs-pointer"


DECODED = frozenset({Kind.UTF16_LE, Kind.UTF16_BE, Kind.UTF32_LE, Kind.UTF32_BE})


def sniff(data: bytes) -> Kind:
    """Classify by a BOM, the whole-blob LFS pointer format, and NUL bytes near the start."""
    head = data[:SNIFF_BYTES]
    if len(data) % 4 == 0:
        if head.startswith(codecs.BOM_UTF32_LE):
            return Kind.UTF32_LE
        if head.startswith(codecs.BOM_UTF32_BE):
            return Kind.UTF32_BE
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) and data.find(b"\0", 2) >= 0:
        return Kind.UTF16_LE if head.startswith(codecs.BOM_UTF16_LE) else Kind.UTF16_BE
    if len(data) < LFS_POINTER_MAX and _LFS_POINTER.fullmatch(data):
        return Kind.LFS_POINTER
    if b"\0" not in head:
        return Kind.TEXT
    return _sniff_bomless(head)


def _sniff_bomless(head: bytes) -> Kind:
    """UTF-32 or UTF-16 without a BOM: mostly-ASCII text has NULs in a fixed pattern of columns
    (UTF-32LE ``c 0 0 0``, UTF-16LE ``c 0``, and the reverse for big-endian)."""
    if len(head) >= 16 and len(head) % 4 == 0:
        columns = [head[k::4] for k in range(4)]
        nul = [column.count(0) / len(column) for column in columns]
        if nul[2] > 0.9 and nul[3] > 0.9 and nul[0] < 0.1:
            return Kind.UTF32_LE
        if nul[0] > 0.9 and nul[1] > 0.9 and nul[3] < 0.1:
            return Kind.UTF32_BE
    even, odd = head[0::2], head[1::2]
    if len(head) >= 8 and len(head) % 2 == 0:
        if odd.count(0) > 0.9 * len(odd) and even.count(0) < 0.1 * len(even):
            return Kind.UTF16_LE
        if even.count(0) > 0.9 * len(even) and odd.count(0) < 0.1 * len(odd):
            return Kind.UTF16_BE
    return Kind.BINARY


def to_scannable(data: bytes, kind: Kind) -> bytes:
    """Bytes the detector reads: UTF-16 and UTF-32 are re-encoded as UTF-8, text is passed
    through.

    A byte-order mark is dropped, so that columns on the first line count from the first
    character that editors show.
    """
    if kind in DECODED:
        text = data.decode(kind.value, errors="replace")
        return text.lstrip("\ufeff").encode("utf-8")
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8) :]
    return data


def decoded_reader(kind: Kind, read: Callable[[int], bytes]) -> Callable[[int], bytes]:
    """A read function yielding scannable bytes (UTF-16/UTF-32 decoded to UTF-8) from a raw one."""
    if kind not in DECODED:
        return read
    decoder = codecs.getincrementaldecoder(kind.value)("replace")
    first = True

    def read_decoded(size: int) -> bytes:
        nonlocal first
        raw = read(size)
        text = decoder.decode(raw, final=not raw)
        if first:
            text, first = text.lstrip("\ufeff"), False
        return text.encode("utf-8") if text or not raw else read_decoded(size)

    return read_decoded
