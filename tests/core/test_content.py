"""content.sniff and to_scannable: text, binary, UTF-16 with and without BOM, LFS pointers."""

from __future__ import annotations

import codecs

import pytest

from leakscan.content import SNIFF_BYTES, Kind, sniff, to_scannable

TEXT = "sonar.token = value\nsecond line: é\n"
LFS = b"version https://git-lfs.github.com/spec/v1\noid sha256:" + b"ab" * 32 + b"\nsize 12345\n"
CJK_HEAD = "中文注释" * 1200 + "\nsonar.token = value\n"


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (b"", Kind.TEXT),
        (TEXT.encode(), Kind.TEXT),
        (b"\x80\xff\xc3 invalid utf-8 is still text", Kind.TEXT),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", Kind.BINARY),
        (b"\x00" * 100, Kind.BINARY),
        (b"text" * 100 + b"\x00", Kind.BINARY),
        (b"x" * SNIFF_BYTES + b"\x00 after the sniffed head", Kind.TEXT),
        (codecs.BOM_UTF16_LE + TEXT.encode("utf-16-le"), Kind.UTF16_LE),
        (codecs.BOM_UTF16_BE + TEXT.encode("utf-16-be"), Kind.UTF16_BE),
        (TEXT.encode("utf-16-le"), Kind.UTF16_LE),
        (TEXT.encode("utf-16-be"), Kind.UTF16_BE),
        (TEXT.encode("utf-16-le")[:-1], Kind.BINARY),
        (LFS, Kind.LFS_POINTER),
        (LFS + b"x" * 2000, Kind.TEXT),
        (codecs.BOM_UTF16_LE + "abc sqco_".encode("latin-1"), Kind.TEXT),
        (codecs.BOM_UTF16_BE + b"\xc3\xa9t\xc3\xa9", Kind.TEXT),
        (codecs.BOM_UTF16_LE + CJK_HEAD.encode("utf-16-le"), Kind.UTF16_LE),
        (codecs.BOM_UTF16_BE + CJK_HEAD.encode("utf-16-be"), Kind.UTF16_BE),
        (codecs.BOM_UTF32_LE + TEXT.encode("utf-32-le"), Kind.UTF32_LE),
        (codecs.BOM_UTF32_BE + TEXT.encode("utf-32-be"), Kind.UTF32_BE),
        (TEXT.encode("utf-32-le"), Kind.UTF32_LE),
        (TEXT.encode("utf-32-be"), Kind.UTF32_BE),
        (codecs.BOM_UTF32_LE + CJK_HEAD.encode("utf-32-le"), Kind.UTF32_LE),
        (LFS.rstrip(b"\n"), Kind.LFS_POINTER),
        (LFS + b"sonar.token=value\n", Kind.TEXT),
        (LFS.replace(b"ab" * 32, b"ab" * 31), Kind.TEXT),
        (LFS.replace(b"size 12345", b"size 12345 sonar.token=value"), Kind.TEXT),
        (LFS[:43] + b"sonar.token=value\n", Kind.TEXT),
        (b"\0" + TEXT.encode(), Kind.BINARY),
    ],
    ids=[
        "empty",
        "utf8",
        "invalid-utf8",
        "png",
        "nuls",
        "late-nul",
        "nul-past-sniff-window",
        "utf16le-bom",
        "utf16be-bom",
        "utf16le-no-bom",
        "utf16be-no-bom",
        "utf16-odd-length",
        "lfs-pointer",
        "too-long-for-lfs-pointer",
        "ff-fe-start-of-a-latin1-file",
        "fe-ff-start-of-a-utf8-file",
        "utf16le-bom-non-ascii-head",
        "utf16be-bom-non-ascii-head",
        "utf32le-bom",
        "utf32be-bom",
        "utf32le-no-bom",
        "utf32be-no-bom",
        "utf32le-bom-non-ascii-head",
        "lfs-pointer-without-final-newline",
        "lfs-pointer-with-a-line-appended",
        "lfs-pointer-short-oid",
        "lfs-pointer-size-line-with-more",
        "lfs-header-only",
        "leading-nul-is-binary",
    ],
)
def test_sniff(data: bytes, kind: Kind) -> None:
    assert sniff(data) is kind


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"])
@pytest.mark.parametrize("bom", [True, False], ids=["bom", "no-bom"])
def test_utf16_and_utf32_become_utf8(codec: str, bom: bool) -> None:
    data = ("\ufeff" if bom else "").encode(codec) + TEXT.encode(codec)
    assert to_scannable(data, sniff(data)) == TEXT.encode("utf-8")


def test_text_passes_through_unchanged() -> None:
    data = b"\xff raw \r\n bytes"
    assert to_scannable(data, Kind.TEXT) is data


def test_utf8_bom_is_dropped() -> None:
    assert to_scannable(codecs.BOM_UTF8 + b"abc", Kind.TEXT) == b"abc"
