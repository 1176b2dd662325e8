"""What extracted bytes are: an archive or compression stream (by magic bytes), text, or binary."""

from __future__ import annotations

from leakscan.extract.layer import StepKind

_PRINTABLE = bytes(range(0x20, 0x7F)) + b"\t\n\r\f"
_MAGIC: tuple[tuple[bytes, StepKind], ...] = (
    (b"\x1f\x8b", StepKind.GZIP),
    (b"BZh", StepKind.BZIP2),
    (b"\xfd7zXZ\x00", StepKind.XZ),
    (b"PK\x03\x04", StepKind.ZIP),
    (b"PK\x05\x06", StepKind.ZIP),
)
_UNSUPPORTED: tuple[tuple[bytes, str], ...] = (
    (b"7z\xbc\xaf\x27\x1c", "7z"),
    (b"Rar!\x1a\x07", "rar"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
)


def sniff_container(data: bytes) -> StepKind | str | None:
    """The container kind by content (not by file name); a plain str names an unsupported format."""
    for magic, kind in _MAGIC:
        if data.startswith(magic):
            if kind is StepKind.BZIP2 and not data[3:4].isdigit():
                continue
            return kind
    if len(data) >= 512 and data[257:262] == b"ustar":
        return StepKind.TAR
    for magic, name in _UNSUPPORTED:
        if data.startswith(magic):
            return name
    return None


def is_text(data: bytes, sample: int = 65536) -> bool:
    """Mostly text: no NUL byte and (in a sample) at most 5 % bytes that are neither printable
    ASCII nor part of valid UTF-8."""
    head = data[:sample]
    if not head or b"\0" in head:
        return False
    other = len(head.translate(None, _PRINTABLE))
    if other * 20 <= len(head):
        return True
    text = head.decode("utf-8", "replace")
    bad = text.count("\ufffd") + sum(1 for c in text if c < " " and c not in "\t\n\r\f")
    return bad * 20 <= len(text)
