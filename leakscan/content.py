"""What kind of bytes a blob holds: text, UTF-16 text, binary, or a Git LFS pointer."""

from __future__ import annotations

import codecs
from enum import StrEnum

SNIFF_BYTES = 8192
_LFS_HEADER = b"version https://git-lfs.github.com/spec/v1"


class Kind(StrEnum):
    TEXT = "text"
    UTF16_LE = "utf-16-le"
    UTF16_BE = "utf-16-be"
    BINARY = "binary"
    LFS_POINTER = "lfs-pointer"


def sniff(data: bytes) -> Kind:
    """Classify by a BOM, an LFS pointer header, and NUL bytes near the start."""
    head = data[:SNIFF_BYTES]
    # A UTF-16 BOM counts only when NUL bytes follow (any ASCII character, and so any token,
    # has one in UTF-16): a Latin-1 or UTF-8 file may start with the bytes FF FE by chance.
    if b"\0" in head[2:]:
        if head.startswith(codecs.BOM_UTF16_LE):
            return Kind.UTF16_LE
        if head.startswith(codecs.BOM_UTF16_BE):
            return Kind.UTF16_BE
    if head.startswith(_LFS_HEADER) and len(data) < 1024:
        return Kind.LFS_POINTER
    if b"\0" not in head:
        return Kind.TEXT
    return _sniff_bomless_utf16(head)


def _sniff_bomless_utf16(head: bytes) -> Kind:
    """UTF-16 without a BOM: mostly-ASCII text has NULs in every other byte."""
    even, odd = head[0::2], head[1::2]
    if len(head) >= 8 and len(head) % 2 == 0:
        if odd.count(0) > 0.9 * len(odd) and even.count(0) < 0.1 * len(even):
            return Kind.UTF16_LE
        if even.count(0) > 0.9 * len(even) and odd.count(0) < 0.1 * len(odd):
            return Kind.UTF16_BE
    return Kind.BINARY


def to_scannable(data: bytes, kind: Kind) -> bytes:
    """Bytes the detector reads: UTF-16 is re-encoded as UTF-8, text is passed through.

    A byte-order mark is dropped, so that columns on the first line count from the first
    character that editors show.
    """
    if kind in (Kind.UTF16_LE, Kind.UTF16_BE):
        text = data.decode(kind.value, errors="replace")
        return text.lstrip("\ufeff").encode("utf-8")
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8) :]
    return data
