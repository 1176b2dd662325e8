"""Seeded generator of synthetic tokens, and the ``{name}`` placeholders of rule examples.

Rule files and tests never hold token-shaped strings: they write ``{sqco}`` (or a near miss such as
``{sqco_short}``) and the value is generated here, deterministically from a seed.
"""

from __future__ import annotations

import functools
import random
import re
from collections.abc import Callable

from leakscan.checksums import BASE62, base62_crc32

__all__ = ["BASE62", "HEX", "TokenGenerator", "base62_crc32", "fill_placeholders"]

HEX = "0123456789abcdef"
_PLACEHOLDER = re.compile(r"\{([A-Za-z0-9_]+)\}")


class TokenGenerator:
    """Makes synthetic tokens of every supported format from one seed."""

    def __init__(self, seed: int | str = 0) -> None:
        self._rng = random.Random(seed)

    def chars(self, alphabet: str, length: int) -> str:
        return "".join(self._rng.choice(alphabet) for _ in range(length))

    def sqco(self, length: int = 59) -> str:
        return "sqco_" + self.chars(BASE62, length)

    def server(self, kind: str = "u", length: int = 40) -> str:
        return f"sq{kind}_" + self.chars(HEX, length)

    def hex40(self, length: int = 40) -> str:
        return self.chars(HEX, length)

    def checksummed(self, prefix: str, *, valid: bool = True) -> str:
        """A GitHub/npm style token: 30 random base62 + 6-char base62 CRC32 of those 30."""
        random_part = self.chars(BASE62, 30)
        checksum = base62_crc32(random_part, 6)
        if not valid:
            checksum = checksum[:-1] + BASE62[(BASE62.index(checksum[-1]) + 1) % 62]
        return prefix + random_part + checksum

    def placeholders(self) -> dict[str, Callable[[], str]]:
        """Placeholder name -> maker; near misses are named for what is wrong with them."""
        makers: dict[str, Callable[[], str]] = {
            "sqco": self.sqco,
            "sqco_short": lambda: self.sqco(58),
            "sqco_long": lambda: self.sqco(60),
            "squ": lambda: self.server("u"),
            "sqp": lambda: self.server("p"),
            "sqa": lambda: self.server("a"),
            "sqb": lambda: self.server("b"),
            "squ_short": lambda: self.server("u", 39),
            "squ_upper": lambda: self.server("u").upper().replace("SQU_", "squ_"),
            "hex40": self.hex40,
            "hex39": lambda: self.hex40(39),
            "hex41": lambda: self.hex40(41),
            "HEX40": lambda: self.hex40().upper(),
        }
        for prefix in ("ghp", "gho", "ghu", "ghs", "ghr", "npm"):
            makers[prefix] = functools.partial(self.checksummed, prefix + "_")
            makers[f"{prefix}_bad_checksum"] = functools.partial(self.checksummed, prefix + "_", valid=False)
        return makers


def fill_placeholders(texts: list[str], seed: int | str) -> list[str]:
    """Replace known ``{name}`` placeholders; the same name gets the same value in every text."""
    makers = TokenGenerator(seed).placeholders()
    values: dict[str, str] = {}

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in makers:
            return match.group(0)
        if name not in values:
            values[name] = makers[name]()
        return values[name]

    return [_PLACEHOLDER.sub(replace, text) for text in texts]
