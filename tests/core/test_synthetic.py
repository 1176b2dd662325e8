"""The seeded token generator and the {placeholder} filling of rule examples."""

from __future__ import annotations

import re
import zlib

import pytest

from leakscan.synthetic import BASE62, TokenGenerator, base62_crc32, fill_placeholders


def test_same_seed_same_tokens() -> None:
    first, second = TokenGenerator("seed"), TokenGenerator("seed")
    assert [first.sqco(), first.server("a"), first.checksummed("npm_")] == [
        second.sqco(),
        second.server("a"),
        second.checksummed("npm_"),
    ]
    assert TokenGenerator("other").sqco() != TokenGenerator("seed").sqco()


def test_token_shapes() -> None:
    generator = TokenGenerator(7)
    assert re.fullmatch(r"sqco_[0-9A-Za-z]{59}", generator.sqco())
    assert re.fullmatch(r"sqp_[0-9a-f]{40}", generator.server("p"))
    assert re.fullmatch(r"[0-9a-f]{40}", generator.hex40())
    assert re.fullmatch(r"ghs_[0-9A-Za-z]{36}", generator.checksummed("ghs_"))


def test_base62_crc32() -> None:
    assert base62_crc32("", 6) == "000000"
    value = zlib.crc32(b"hello")
    digits = ""
    while value:
        value, rem = divmod(value, 62)
        digits = BASE62[rem] + digits
    assert base62_crc32("hello", 6) == digits.rjust(6, "0")
    assert len(base62_crc32("hello", 6)) == 6


@pytest.mark.parametrize("prefix", ["ghp_", "gho_", "ghu_", "ghs_", "ghr_", "npm_"])
def test_checksummed_tokens_validate(prefix: str) -> None:
    generator = TokenGenerator(prefix)
    for _ in range(50):
        token = generator.checksummed(prefix)
        assert base62_crc32(token[4:34], 6) == token[34:]
        bad = generator.checksummed(prefix, valid=False)
        assert base62_crc32(bad[4:34], 6) != bad[34:]


def test_fill_placeholders_is_deterministic() -> None:
    texts = ["a={sqco} b={squ}", "{sqco}", "{unknown} {ghp_bad_checksum} {{x}}"]
    first = fill_placeholders(texts, seed="case")
    assert first == fill_placeholders(texts, seed="case")
    assert first != fill_placeholders(texts, seed="other case")
    sqco = first[1]
    assert re.fullmatch(r"sqco_[0-9A-Za-z]{59}", sqco)
    assert first[0].startswith(f"a={sqco} b=squ_")
    assert first[2].startswith("{unknown} ghp_") and first[2].endswith(" {{x}}")


@pytest.mark.parametrize(
    ("name", "pattern"),
    [
        ("sqco_short", r"sqco_[0-9A-Za-z]{58}"),
        ("sqco_long", r"sqco_[0-9A-Za-z]{60}"),
        ("squ_short", r"squ_[0-9a-f]{39}"),
        ("squ_upper", r"squ_[0-9A-F]{40}"),
        ("hex39", r"[0-9a-f]{39}"),
        ("hex41", r"[0-9a-f]{41}"),
        ("HEX40", r"[0-9A-F]{40}"),
    ],
)
def test_near_miss_placeholders(name: str, pattern: str) -> None:
    [value] = fill_placeholders([f"{{{name}}}"], seed=name)
    assert re.fullmatch(pattern, value)
