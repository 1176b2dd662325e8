"""Text decoders applied to candidate regions only: base64 (standard and URL-safe, padded or not),
percent-encoding, quoted-printable, HTML/XML entities, and \\uXXXX / \\xXX escapes.

Regions are found from *trigger* literals: what a rule keyword (or a container's magic bytes, or
an encoded ``_``/``=``) looks like after up to ``depth`` encodings. They are plain literals, so the
detector's keyword pass can look for them in the same pass over the buffer; :class:`TriggerIndex`
does it on its own for layers the detector did not see. A hit is grown to the run of the
encoding's alphabet around it, and only that run is decoded.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import marshal
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from msgspec import Struct

from leakscan import hscache
from leakscan.extract.layer import StepKind

TRUNCATE = 8  # triggers are prefixes of encoded keywords: shorter ones are guaranteed substrings
MIN_TRIGGER = 4
MAX_RUN = 64 * 1024 * 1024

# Soft line breaks are everywhere in code (``x =`` at a line's end), and this 2-byte literal made
# the keyword pass 1.6 times as slow: they are looked for only near a keyword's or another
# trigger's hit (``KeywordIndex``'s ``near`` literals), and a keyword a break splits is a trigger
# of its own.
SOFT_BREAKS = (b"=\n", b"=\r\n")

# What an encoded ``_``, ``=`` or ``:`` (inside a token or between key and value) looks like, and
# the other markers that reveal an encoding whatever it holds.
_GENERIC: dict[StepKind, tuple[bytes, ...]] = {
    StepKind.BASE64: (
        b"Basic ",
        b"basic ",
        b"BASIC ",
        b"H4sI",  # gzip
        b"UEsDB",  # zip
        b"Qlpo",  # bzip2
        b"/Td6WFo",  # xz
    ),
    StepKind.PERCENT: (b"%5F", b"%5f", b"%3D", b"%3d", b"%3A", b"%3a"),
    StepKind.QUOTED_PRINTABLE: (*SOFT_BREAKS, b"=5F", b"=3D"),
    StepKind.ENTITIES: (
        b"&lowbar;",
        b"&UnderBar;",
        b"&equals;",
        b"&colon;",
        b"&#95;",
        b"&#x5f;",
        b"&#x5F;",
        b"&#61;",
        b"&#x3d;",
        b"&#x3D;",
        b"&#58;",
    ),
    StepKind.ESCAPES: (
        b"\\u005f",
        b"\\u005F",
        b"\\u003d",
        b"\\u003D",
        b"\\x5f",
        b"\\x5F",
        b"\\x3d",
        b"\\x3D",
    ),
}


def _b64_segments(literal: bytes) -> set[bytes]:
    """Parts of the base64 form of ``literal`` that are the same wherever it sits in the text."""
    out: set[bytes] = set()
    for pad in range(3):
        encoded = base64.b64encode(b"\0" * pad + literal)
        segment = encoded[4 if pad else 0 : (len(literal) + pad) // 3 * 4]
        if len(segment) >= MIN_TRIGGER:
            out.add(segment)
            out.add(segment.translate(_TO_URLSAFE))
    return out


def _percent(literal: bytes) -> set[bytes]:
    literal = literal[:3]  # enough for TRUNCATE characters of output
    return {"".join(f"%{c:02X}" for c in literal).encode(), "".join(f"%{c:02x}" for c in literal).encode()}


def _entities(literal: bytes) -> set[bytes]:
    literal = literal[:2]  # enough for TRUNCATE characters of output
    return {
        "".join(f"&#{c};" for c in literal).encode(),
        "".join(f"&#x{c:x};" for c in literal).encode(),
        "".join(f"&#x{c:X};" for c in literal).encode(),
    }


def _escapes(literal: bytes) -> set[bytes]:
    literal = literal[:2]  # enough for TRUNCATE characters of output
    return {
        "".join(f"\\u{c:04x}" for c in literal).encode(),
        "".join(f"\\u{c:04X}" for c in literal).encode(),
        "".join(f"\\x{c:02x}" for c in literal).encode(),
    }


def _quoted_printable(literal: bytes) -> set[bytes]:
    """Header-style quoted-printable also encodes ``_``; ``=`` always is."""
    encoded = literal.replace(b"=", b"=3D").replace(b"_", b"=5F")
    return {encoded} if encoded != literal else set()


def _broken(literal: bytes) -> set[bytes]:
    """``literal`` split by a soft line break after each of its characters but the last (kept up
    to the character after the break, at least ``TRUNCATE`` bytes)."""
    return {
        (literal[:at] + soft + literal[at:])[: max(TRUNCATE, at + len(soft) + 1)]
        for at in range(1, len(literal))
        for soft in SOFT_BREAKS
    }


_TO_URLSAFE = bytes.maketrans(b"+/", b"-_")
_ENCODERS: tuple[tuple[StepKind, Callable[[bytes], set[bytes]]], ...] = (
    (StepKind.BASE64, _b64_segments),
    (StepKind.PERCENT, _percent),
    (StepKind.ENTITIES, _entities),
    (StepKind.ESCAPES, _escapes),
    (StepKind.QUOTED_PRINTABLE, _quoted_printable),
)


def keyword_forms(keywords: Iterable[tuple[bytes, bool]]) -> set[bytes]:
    """Rule keywords as they may appear: caseless ones in lower, upper and title case."""
    forms: set[bytes] = set()
    for keyword, caseless in keywords:
        forms.add(keyword)
        if caseless:
            forms.update({keyword.lower(), keyword.upper(), keyword.title()})
    return forms


def compile_triggers(keywords: Iterable[tuple[bytes, bool]], depth: int) -> dict[bytes, StepKind]:
    """``derive_triggers``, kept in the cache (``leakscan.hscache``) under a hash of the keywords,
    the depth and this module's code: deriving them takes ~5 ms, loading them ~0.3 ms."""
    if depth <= 0:
        return {}
    keywords = list(keywords)
    name = _cache_name(keywords, depth)
    if name is not None:
        cached = _from_cache(hscache.read(name))
        if cached is not None:
            return cached
    triggers = derive_triggers(keywords, depth)
    if name is not None:
        kinds = list(dict.fromkeys(triggers.values()))
        codes = bytes(kinds.index(kind) for kind in triggers.values())
        hscache.write(name, marshal.dumps((tuple(triggers), codes, tuple(str(kind) for kind in kinds))))
    return triggers


def _cache_name(keywords: list[tuple[bytes, bool]], depth: int) -> str | None:
    try:
        with open(__file__, "rb") as file:
            code = file.read()
    except OSError:  # no file to hash: derived every time
        return None
    parts = [b"%d:%s%d" % (len(code), code, depth)]
    parts.extend(b"%d%s%s" % (len(word), b"i" if caseless else b"c", word) for word, caseless in keywords)
    return f"triggers-{hashlib.sha256(b''.join(parts)).hexdigest()[:32]}.bin"


def _from_cache(payload: bytes | None) -> dict[bytes, StepKind] | None:
    """The triggers a cache file holds (literals in order, one kind index each); None when it
    holds something else."""
    if payload is None:
        return None
    try:
        literals, codes, names = marshal.loads(payload)
        kinds = [StepKind(name) for name in names]
        if len(literals) != len(codes) or not all(isinstance(literal, bytes) for literal in literals):
            return None
        return dict(zip(literals, [kinds[code] for code in codes], strict=True))
    except (ValueError, EOFError, TypeError, IndexError):
        return None


def derive_triggers(keywords: Iterable[tuple[bytes, bool]], depth: int) -> dict[bytes, StepKind]:
    """Trigger literal → the encoding whose region it reveals (the outermost one applied)."""
    triggers: dict[bytes, StepKind] = {}
    if depth <= 0:
        return triggers
    for kind, literals in _GENERIC.items():
        for literal in literals:
            triggers.setdefault(literal, kind)
    forms = keyword_forms(keywords)
    for form in sorted(forms):
        for broken in sorted(_broken(form)):
            triggers.setdefault(broken, StepKind.QUOTED_PRINTABLE)
    seeds = forms | {b"\x1f\x8b\x08", b"PK\x03\x04", b"ustar"}
    level = set(seeds)
    for _ in range(depth):
        found: set[bytes] = set()
        for literal in level:
            for kind, encode in _ENCODERS:
                for encoded in encode(literal):
                    encoded = encoded[:TRUNCATE]
                    if len(encoded) >= MIN_TRIGGER and encoded not in triggers and encoded not in seeds:
                        triggers[encoded] = kind
                        found.add(encoded)
        level = found
    return triggers


class TriggerIndex:
    """Finds trigger literals in a buffer: one Hyperscan pass, or ``bytes.find`` without it.
    ``literals`` ends with the ``near`` soft line breaks (see ``SOFT_BREAKS``); ``hits`` finds
    every trigger anywhere, the detector's keyword pass those only near another hit."""

    def __init__(self, triggers: dict[bytes, StepKind]) -> None:
        near = tuple(sorted(literal for literal in triggers if literal in SOFT_BREAKS))
        self.literals = tuple(sorted(literal for literal in triggers if literal not in near)) + near
        self.near = len(near)
        self.kinds = tuple(triggers[literal] for literal in self.literals)
        # Compiled on first use: inputs that are plain text get their hits from the keyword pass.
        self._hyperscan: _HyperscanLiterals | None = None
        self._built = False

    def hits(self, data: bytes) -> list[tuple[int, StepKind]]:
        """(offset, encoding) of each trigger occurrence, in ascending order."""
        found: list[tuple[int, int]] = []
        if not self.literals:
            return []
        if not self._built:
            self._hyperscan, self._built = _HyperscanLiterals.build(self.literals), True
        if self._hyperscan is not None:
            self._hyperscan.scan(data, found)
        else:
            for index, literal in enumerate(self.literals):
                at = data.find(literal)
                while at >= 0:
                    found.append((index, at))
                    at = data.find(literal, at + 1)
        return sorted((at, self.kinds[index]) for index, at in found)

    def any(self, data: bytes) -> bool:
        """Whether a trigger occurs in ``data`` at all (stops at the first)."""
        if not self.literals:
            return False
        if not self._built:
            self._hyperscan, self._built = _HyperscanLiterals.build(self.literals), True
        if self._hyperscan is not None:
            return self._hyperscan.any(data)
        return any(literal in data for literal in self.literals)


class _HyperscanLiterals:
    def __init__(self, module: Any, literals: Sequence[bytes]) -> None:
        self._hs = module
        self._lengths = [len(literal) for literal in literals]
        self._db = module.Database(mode=module.HS_MODE_BLOCK)
        self._db.compile(
            # Every byte as \xHH: Hyperscan reads an expression up to its first NUL byte.
            expressions=["".join(f"\\x{byte:02x}" for byte in literal).encode() for literal in literals],
            ids=list(range(len(literals))),
            elements=len(literals),
            flags=[0] * len(literals),
        )
        self._scratch = hscache.Scratch(module, self._db)

    @classmethod
    def build(cls, literals: Sequence[bytes]) -> _HyperscanLiterals | None:
        if not literals:
            return None
        try:
            import hyperscan
        except ImportError:
            return None
        return cls(hyperscan, literals)

    def scan(self, data: bytes, found: list[tuple[int, int]]) -> None:
        lengths = self._lengths

        def on_match(index: int, start: int, end: int, flags: int, context: object) -> None:
            found.append((index, end - lengths[index]))

        self._db.scan(data, match_event_handler=on_match, scratch=self._scratch.get())

    def any(self, data: bytes) -> bool:
        seen: list[bool] = []

        def on_match(index: int, start: int, end: int, flags: int, context: object) -> bool:
            seen.append(True)
            return True  # stop scanning

        try:
            self._db.scan(data, match_event_handler=on_match, scratch=self._scratch.get())
        except self._hs.ScanTerminated:
            pass
        return bool(seen)


class Region(Struct, frozen=True):
    """An encoded run of a parent buffer and what it decodes to."""

    kind: StepKind
    start: int
    end: int
    decoded: bytes


_B64_RUN = re.compile(rb"[A-Za-z0-9+/_-]+")
_B64_STD_RUN = re.compile(rb"[A-Za-z0-9+/]+")
_TOKEN_CHARS = rb"A-Za-z0-9_.:/+=~-"
_RUNS: dict[StepKind, re.Pattern[bytes]] = {
    StepKind.PERCENT: re.compile(rb"(?:[A-Za-z0-9_.~+-]|%[0-9A-Fa-f]{2})+"),
    StepKind.ENTITIES: re.compile(
        rb"(?:[" + _TOKEN_CHARS + rb"]|&#[0-9]{1,7};|&#[xX][0-9A-Fa-f]{1,6};|&[A-Za-z]{2,10};)+"
    ),
    StepKind.ESCAPES: re.compile(rb"(?:[" + _TOKEN_CHARS + rb"]|\\u[0-9A-Fa-f]{4}|\\x[0-9A-Fa-f]{2})+"),
}
_ESCAPE = re.compile(rb"\\u([0-9A-Fa-f]{4})|\\x([0-9A-Fa-f]{2})")
_WINDOW = 256
MIN_BASE64 = 16
QP_LINE = 76
_B64_TAIL = re.compile(rb"[A-Za-z0-9+/_-]+\Z")


def iter_regions(data: bytes, hits: Iterable[tuple[int, StepKind]]) -> Iterator[Region]:
    """Decode the region around each trigger hit once; hits inside a decoded region are skipped."""
    covered: dict[StepKind, int] = {}
    for at, kind in hits:
        if at < covered.get(kind, -1):
            continue
        region = _REGION_FINDERS[kind](data, at)
        if region is None:
            continue
        covered[kind] = region.end
        yield region


def _base64_region(data: bytes, at: int) -> Region | None:
    # After ``Basic `` the run starts where the value does (a space is not base64).
    around = _run_at if data.startswith((b"Basic ", b"basic ", b"BASIC "), at) else _run_around
    if around is _run_at:
        at += 6
    start, end = around(data, at, _B64_RUN)
    if start < 0:
        return None
    run = data[start:end]
    if (b"+" in run or b"/" in run) and (b"-" in run or b"_" in run):
        start, end = around(data, at, _B64_STD_RUN)  # e.g. sha512-…: '-' ends the value
        if start < 0:
            return None
    end = _wrapped_end(data, start, end)
    while end < len(data) and end - start < MAX_RUN and data[end : end + 1] == b"=":
        end += 1
    if end - start < MIN_BASE64:
        return None
    decoded = decode_base64(data[start:end])
    return None if decoded is None else Region(StepKind.BASE64, start, end, decoded)


def _wrapped_end(data: bytes, start: int, end: int) -> int:
    """Extend a run over line breaks when it is a block of full-width lines (base64 -w 76, PEM):
    every further line of the same width, then one shorter line (an indent before each is fine)."""
    width = end - start
    if width < 60:
        return end
    match = _block(width).match(data, end)
    return match.end() if match is not None else end


_BLOCKS: dict[int, re.Pattern[bytes]] = {}


def _block(width: int) -> re.Pattern[bytes]:
    """Lines of ``width`` base64 characters, then at most one shorter line, each after a line
    break and an indent (compiled once per width)."""
    pattern = _BLOCKS.get(width)
    if pattern is None:
        line = rb"(?:\r\n|\n)[ \t]*"
        char, other = rb"[A-Za-z0-9+/_-]", rb"(?![A-Za-z0-9+/_-])"
        pattern = re.compile(
            rb"(?:%s%s{%d}%s)*(?:%s%s{1,%d}%s)?" % (line, char, width, other, line, char, width - 1, other)
        )
        if len(_BLOCKS) < 256:
            _BLOCKS[width] = pattern
    return pattern


def decode_base64(run: bytes) -> bytes | None:
    """Standard or URL-safe, padded or not, wrapped or not; None when it is not base64."""
    compact = b"".join(run.split())
    body = compact.rstrip(b"=")
    if len(body) % 4 == 1:
        return None
    if b"-" in body or b"_" in body:
        body = body.translate(bytes.maketrans(b"-_", b"+/"))
    try:
        return binascii.a2b_base64(body + b"=" * (-len(body) % 4), strict_mode=True)
    except binascii.Error:
        return None


def _run_around(data: bytes, at: int, pattern: re.Pattern[bytes]) -> tuple[int, int]:
    """The maximal run of ``pattern`` that covers offset ``at``, or (-1, -1)."""
    low = max(0, at - _WINDOW)
    while True:
        for match in pattern.finditer(data, low):
            if match.start() > at:
                return -1, -1
            if match.end() > at:
                if match.start() == low and low > 0 and at - low < MAX_RUN:
                    break  # the run may start further left: widen the window
                return match.start(), match.end()
        else:
            return -1, -1
        low = max(0, low - 16 * _WINDOW)


def _run_at(data: bytes, at: int, pattern: re.Pattern[bytes]) -> tuple[int, int]:
    """The run of ``pattern`` that starts at ``at`` (the byte before is not in it), or (-1, -1)."""
    match = pattern.match(data, at)
    return (at, match.end()) if match is not None else (-1, -1)


def _percent_region(data: bytes, at: int) -> Region | None:
    start, end = _run_around(data, at, _RUNS[StepKind.PERCENT])
    if start < 0:
        return None
    from urllib.parse import unquote_to_bytes

    return Region(StepKind.PERCENT, start, end, unquote_to_bytes(data[start:end]))


def _entities_region(data: bytes, at: int) -> Region | None:
    start, end = _run_around(data, at, _RUNS[StepKind.ENTITIES])
    if start < 0:
        return None
    from html import unescape  # its table of entities is ~1 ms to import: only when one is decoded

    text = data[start:end].decode("ascii")
    decoded = unescape(text)
    if decoded == text:
        return None
    return Region(StepKind.ENTITIES, start, end, decoded.encode("utf-8", "surrogatepass"))


def _escapes_region(data: bytes, at: int) -> Region | None:
    start, end = _run_around(data, at, _RUNS[StepKind.ESCAPES])
    if start < 0:
        return None

    def unescape(match: re.Match[bytes]) -> bytes:
        code = int(match.group(1) or match.group(2), 16)
        return chr(code).encode("utf-8", "surrogatepass")

    return Region(StepKind.ESCAPES, start, end, _ESCAPE.sub(unescape, data[start:end]))


def _ends_soft(data: bytes, newline: int) -> bool:
    """Whether the physical line that ends at ``newline`` (an LF offset) ends with a soft break.

    Quoted-printable lines are at most 76 characters. Not when the line ends with base64 padding:
    ``==`` is never quoted-printable, and a last word that is valid base64 with its ``=`` is
    taken for base64 unless the line is a full 76 columns.
    """
    end = newline - 1 if newline > 0 and data[newline - 1] == 0x0D else newline
    if end < 1 or data[end - 1] != 0x3D:
        return False
    if end >= 2 and data[end - 2] == 0x3D:
        return False
    line_start = data.rfind(b"\n", 0, end) + 1
    if end - line_start >= QP_LINE:
        return end - line_start == QP_LINE  # encoders fill lines to 76 characters, never more
    tail = _B64_TAIL.search(data, line_start, end - 1)
    last = tail.group() + b"=" if tail is not None else b""
    return not (len(last) >= 8 and len(last) % 4 == 0 and decode_base64(last) is not None)


def _quoted_printable_region(data: bytes, at: int) -> Region | None:
    """The logical line around ``at``: physical lines joined by soft breaks (``=`` at line end)."""
    if data.startswith((b"=\n", b"=\r\n"), at) and not _ends_soft(data, data.find(b"\n", at)):
        return None
    start = data.rfind(b"\n", 0, at) + 1
    while start > 0 and _ends_soft(data, start - 1) and at - start < MAX_RUN:
        start = data.rfind(b"\n", 0, start - 1) + 1
    end = at
    while True:
        newline = data.find(b"\n", end)
        if newline < 0:
            end = len(data)
            break
        if not _ends_soft(data, newline) or newline - start > MAX_RUN:
            end = newline
            break
        end = newline + 1
    encoded = data[start:end]
    decoded = binascii.a2b_qp(encoded)
    if decoded == encoded:
        return None
    return Region(StepKind.QUOTED_PRINTABLE, start, end, decoded)


_REGION_FINDERS: dict[StepKind, Callable[[bytes, int], Region | None]] = {
    StepKind.BASE64: _base64_region,
    StepKind.PERCENT: _percent_region,
    StepKind.QUOTED_PRINTABLE: _quoted_printable_region,
    StepKind.ENTITIES: _entities_region,
    StepKind.ESCAPES: _escapes_region,
}
