"""Checksum schemes of token formats: scheme name → check function.

A new scheme is one function here plus ``checksum = { scheme = "NAME", ... }`` in a rule file.
Rules validate scheme names against ``SCHEMES``; the judge calls the function; the synthetic-token
generator uses the same functions to make tokens that pass (or, on purpose, fail) the check.
"""

from __future__ import annotations

import string
import zlib
from collections.abc import Callable

BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase

# (token body after the prefix, length of the random part, length of the checksum) → correct?
CheckFunction = Callable[[str, int, int], bool]


def base62_crc32(text: str, width: int) -> str:
    """CRC32 of ``text`` in base62 (0-9A-Za-z), zero-padded to ``width``."""
    value = zlib.crc32(text.encode("ascii")) & 0xFFFFFFFF
    digits = ""
    while value:
        value, rem = divmod(value, 62)
        digits = BASE62[rem] + digits
    return digits.rjust(width, "0")


def check_crc32_base62(body: str, random_length: int, checksum_length: int) -> bool:
    """GitHub/npm style: the random part followed by its CRC32 in base62."""
    if len(body) != random_length + checksum_length:
        return False
    return base62_crc32(body[:random_length], checksum_length) == body[random_length:]


SCHEMES: dict[str, CheckFunction] = {
    "crc32-base62": check_crc32_base62,
}
