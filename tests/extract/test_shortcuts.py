"""The extract stage's shortcuts give what the full walk gives: the subtree cache (outcomes below
archive members, streams and decoded archives reused by content), the keyword probe that spares
making strings of binary data, one regex for base64 blocks, literals with NUL bytes."""

from __future__ import annotations

import base64
import gzip
import io
import random
import re
import tarfile
import warnings
import zipfile
from dataclasses import dataclass

import pytest

from leakscan.content import Kind
from leakscan.extract import Limits
from leakscan.extract.decode import StepKind, TriggerIndex, _wrapped_end
from leakscan.extract.strings import KeywordProbe, StringsFinder
from leakscan.layered import Examined, LayeredDetector, SubtreeCache
from leakscan.rules import load_rules
from leakscan.synthetic import TokenGenerator

RULES = load_rules(())
FILLER = b"".join(b"line %d of some ordinary configuration text\n" % n for n in range(40))


def make_zip(members: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        warnings.simplefilter("ignore")  # a name twice is what some tests are about
        for name, data in members:
            archive.writestr(name, data)
    return buffer.getvalue()


def make_tar_gz(members: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@dataclass(frozen=True)
class Outcome:
    """Everything examine() reports, in a comparable form."""

    kind: str
    matches: tuple[tuple[str, str, int, int, int, str], ...] = ()
    errors: tuple[str, ...] = ()
    skips: tuple[tuple[str, str], ...] = ()
    scanned_bytes: int = 0
    suppressed: int = 0
    known_examples: int = 0


def outcome(result: Examined | Kind) -> Outcome:
    if isinstance(result, Kind):
        return Outcome(result.value)
    return Outcome(
        "scanned",
        tuple((m.rule.id, m.secret.value, m.start, m.line, m.column, repr(m.layer)) for m in result.matches),
        tuple(result.errors),
        tuple(result.skips),
        result.scanned_bytes,
        result.suppressed,
        result.known_examples,
    )


def plain(limits: Limits) -> LayeredDetector:
    """The full walk: no cache, strings always made."""
    return LayeredDetector(RULES, limits, cache=SubtreeCache(entries=0), probe=False)


def inputs(tokens: TokenGenerator) -> list[bytes]:
    """Inputs whose layers repeat: the same members in several archives, at several depths, under
    other names, next to the same secret in plain text, with allow markers, in binary members."""
    token, other = tokens.sqco(), tokens.server("u")
    secret = FILLER + f"sonar.token={token}\n".encode()
    allowed = FILLER + f"key={other}  # leakscan:allow\n".encode()
    utf16 = b"\x00\x01BIN\x00" + f"id={other}".encode("utf-16-le") + b"\x00" * 600
    ascii_binary = b"\x7fELF\x00\x00" + FILLER + f"\x00{token}\x00".encode() + b"\x00" * 600
    quiet_binary = b"\x7fELF\x00\x00" + FILLER + b"\x00\x01\x02" * 300
    wheel = make_zip(
        [
            ("pkg/conf.py", secret),
            ("pkg/allowed.cfg", allowed),
            ("pkg/lib.so", utf16),
            ("pkg/x.bin", quiet_binary),
        ]
    )
    renamed = make_zip([("other/name.py", secret), ("pkg/x.bin", quiet_binary), ("bin/tool", ascii_binary)])
    twice = make_zip([("a.txt", secret), ("a.txt", secret), ("b.txt", FILLER)])
    nested = make_zip([("inner/wheel.whl", wheel), ("conf.py", secret)])
    sdist = make_tar_gz([("pkg-1.0/conf.py", secret), ("pkg-1.0/wheel.whl", wheel)])
    embedded = b"ZIPFILE = b'''\n" + base64.encodebytes(wheel) + b"'''\n"
    embedded_again = b"# version 2\n" + embedded + f"plain = {token}\n".encode()
    return [
        wheel,
        wheel + b"",  # the same input again: every subtree from the cache
        renamed,
        twice,
        nested,
        sdist,
        gzip.compress(secret),
        gzip.compress(secret),
        embedded,
        embedded_again,
        make_zip([("deep/nested.zip", nested)]),
        quiet_binary,
        ascii_binary,
        utf16,
        secret,
    ]


@pytest.mark.parametrize(
    "limits",
    [
        Limits(),
        Limits(depth=2),
        Limits(max_bytes=40_000),  # later inputs run out of budget part-way: no replay then
        Limits(max_members=5),
    ],
    ids=["default", "depth-2", "tight-bytes", "few-members"],
)
def test_cache_and_probe_give_the_full_walk(tokens: TokenGenerator, limits: Limits) -> None:
    data = inputs(tokens)
    cache = SubtreeCache()
    shortcut = LayeredDetector(RULES, limits, cache=cache)
    expected = [outcome(plain(limits).examine(item)) for item in data]
    assert [outcome(shortcut.examine(item)) for item in data] == expected
    assert cache.hits > 0
    # The cache filled by one pass serves a second pass over the same inputs the same way.
    assert [outcome(shortcut.examine(item)) for item in data] == expected
    assert any(result.matches for result in expected)


def test_cached_member_found_again_under_another_name(tokens: TokenGenerator) -> None:
    token = tokens.sqco()
    member = FILLER + f"sonar.token={token}\n".encode()
    cache = SubtreeCache()
    detector = LayeredDetector(RULES, Limits(), cache=cache)
    first = detector.examine(make_zip([("a/conf.py", member)]))
    second = detector.examine(make_zip([("b/settings.py", member)]))
    assert cache.hits == 1
    assert isinstance(first, Examined) and isinstance(second, Examined)
    assert [(m.secret.value, m.layer[0].member, m.line) for m in first.matches] == [(token, "a/conf.py", 41)]
    assert [(m.secret.value, m.layer[0].member, m.line) for m in second.matches] == [
        (token, "b/settings.py", 41)
    ]


def test_outcome_not_reused_at_another_depth_or_when_the_budget_is_short(tokens: TokenGenerator) -> None:
    member = FILLER + f"sonar.token={tokens.sqco()}\n".encode()
    archive = make_zip([("conf.py", member)])
    cache = SubtreeCache()
    detector = LayeredDetector(RULES, Limits(depth=1), cache=cache)
    detector.examine(archive)
    deeper = detector.examine(make_zip([("inner.zip", archive)]))  # the same member, one level down
    assert cache.hits == 0
    assert isinstance(deeper, Examined)
    assert deeper.matches == [] and deeper.skips == [("!inner.zip", "archive too deep (max depth 1)")]

    small = SubtreeCache()
    filled = LayeredDetector(RULES, Limits(), cache=small)
    filled.examine(make_zip([("big.zip", make_zip([("conf.py", member * 20)]))]))
    tight = Limits(max_bytes=len(member) * 20 + 100)
    reuse = LayeredDetector(RULES, tight, cache=small)
    found = outcome(reuse.examine(make_zip([("big.zip", make_zip([("conf.py", member * 20)]))])))
    assert found == outcome(
        plain(tight).examine(make_zip([("big.zip", make_zip([("conf.py", member * 20)]))]))
    )
    assert any("decompression limit" in reason for _, reason in found.skips)


def test_outcome_with_a_limit_hit_is_not_kept() -> None:
    """inner.zip first opened with one member left to open, then with all it needs."""
    limits = Limits(max_members=5)
    inner = make_zip([(f"m{n}.txt", FILLER + b"%d" % n) for n in range(4)])
    crowded = make_zip([("a.txt", FILLER), ("b.txt", FILLER), ("c.txt", FILLER), ("inner.zip", inner)])
    alone = make_zip([("inner.zip", inner)])
    detector = LayeredDetector(RULES, limits, cache=SubtreeCache())
    first, second = outcome(detector.examine(crowded)), outcome(detector.examine(alone))
    assert first == outcome(plain(limits).examine(crowded))
    assert second == outcome(plain(limits).examine(alone))
    assert any("member limit" in reason for _, reason in first.skips) and not second.skips


def test_a_reused_outcome_is_charged_to_the_budget(tokens: TokenGenerator) -> None:
    """What the cached subtree took counts against what is left for the members after it."""
    member = FILLER + f"sonar.token={tokens.sqco()}\n".encode()
    noise = random.Random(1).randbytes(1024)  # inner.zip is then large enough to be cached
    inner = make_zip([("conf.py", member), ("noise.bin", noise)])
    after = FILLER * 4
    limits = Limits(max_bytes=len(inner) + len(after) + len(member) // 2)
    detector = LayeredDetector(RULES, limits, cache=(cache := SubtreeCache()))
    detector.examine(make_zip([("inner.zip", inner)]))
    both = make_zip([("inner.zip", inner), ("after.txt", after)])
    found = outcome(detector.examine(both))
    assert cache.hits == 1
    assert found == outcome(plain(limits).examine(both))
    assert [where for where, reason in found.skips if "decompression limit" in reason] == ["!after.txt"]


def test_strings_found_when_there_is_a_layer() -> None:
    finder = StringsFinder(8)
    rng = random.Random(3)
    alphabet = b"abcXYZ019 \t\x00\x01\xff"
    for _ in range(300):
        data = bytes(rng.choice(alphabet) for _ in range(rng.randint(0, 400)))
        data += "printable run".encode("utf-16-le") * rng.randint(0, 2)
        layer = finder.layer(data, ())
        assert finder.found(data) == (layer is not None)


def test_probe_sees_keywords_as_bytes_and_as_utf16() -> None:
    probe = KeywordProbe([b"sqco_", b"npm_"])
    assert probe.found(b"\x00\x01 sqco_ \x00")
    assert probe.found(b"\x00" + "id=npm_".encode("utf-16-le") + b"\x00")
    assert not probe.found(b"\x00 sqco npm \x00" + "sqco".encode("utf-16-le"))
    assert not probe.found(b"s\x00q\x00c\x00o\x00")  # not a prefix of the UTF-16 form either


def test_binary_without_keywords_counts_its_strings_all_the_same() -> None:
    quiet = b"\x7fELF\x00\x00" + FILLER + "wide text here".encode("utf-16-le") + b"\x00" * 64
    probed = LayeredDetector(RULES, Limits()).examine(quiet)
    full = plain(Limits()).examine(quiet)
    assert isinstance(probed, Examined) and isinstance(full, Examined)
    assert probed.scanned_bytes == full.scanned_bytes == len(quiet)  # the bytes its strings come from
    assert LayeredDetector(RULES, Limits()).examine(b"\x00\x01\x02" * 10) is Kind.BINARY


@pytest.mark.parametrize("engine", ["hyperscan", "python"])
def test_trigger_literals_may_hold_nul_bytes(engine: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if engine == "python":
        import leakscan.extract.decode as decode

        monkeypatch.setattr(decode._HyperscanLiterals, "build", classmethod(lambda cls, literals: None))
    else:
        pytest.importorskip("hyperscan")
    index = TriggerIndex({b"a\x00b": StepKind.BASE64, b"c.d": StepKind.PERCENT})
    data = b"a a\x00b cxd c.d a\x00"
    assert index.hits(data) == [(2, StepKind.BASE64), (10, StepKind.PERCENT)]
    assert index.any(data) and not index.any(b"a b cxd a\x00")


_B64_RUN = re.compile(rb"[A-Za-z0-9+/_-]+")


def _wrapped_end_by_lines(data: bytes, start: int, end: int) -> int:
    """The line-by-line definition the one-regex version must agree with."""
    width = end - start
    if width < 60:
        return end
    while True:
        newline = 2 if data.startswith(b"\r\n", end) else 1 if data.startswith(b"\n", end) else 0
        if not newline:
            return end
        indent = end + newline
        while data[indent : indent + 1] in (b" ", b"\t"):
            indent += 1
        match = _B64_RUN.match(data, indent)
        if match is None or match.end() - indent > width:
            return end
        end = match.end()
        if match.end() - indent < width:
            return end


def test_base64_block_end_matches_the_line_by_line_definition() -> None:
    rng = random.Random(5)
    alphabet = b"ABCab09+/_-"
    breaks = [b"\n", b"\r\n", b"\r", b"\n ", b"\n\t\t", b" ", b"\n\n"]
    for _ in range(3000):
        width = rng.choice([59, 60, 64, 76])
        parts = [bytes(rng.choice(alphabet) for _ in range(width))]
        for _ in range(rng.randint(0, 6)):
            parts.append(rng.choice(breaks))
            size = rng.choice([width, width, width, width - 1, width + 1, 1, 0, 30])
            parts.append(bytes(rng.choice(alphabet) for _ in range(size)))
            if rng.random() < 0.1:
                parts.append(rng.choice([b"=", b"==", b"!", b"\x00"]))
        data = b"".join(parts)
        assert _wrapped_end(data, 0, width) == _wrapped_end_by_lines(data, 0, width)
