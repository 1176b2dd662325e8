"""Hyperscan databases cached on disk: reused when intact, ignored and rewritten when not, and a
cache folder that cannot be written never fails detection."""

from __future__ import annotations

import hashlib
import marshal
import threading
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest

from leakscan import hscache
from leakscan import rules as rulefiles
from leakscan.detect import Detector, KeywordIndex
from leakscan.extract import decode
from leakscan.extract.layer import StepKind
from leakscan.rules import load_rules

hyperscan = pytest.importorskip("hyperscan")

LITERALS = [(b"sqco_", False), (b"sonar", True), (b"PK\x03\x04", False)]
DATA = b"x sqco_1 SONAR PK\x03\x04 sonar sqco_"


def _hits(db: object) -> list[tuple[int, int]]:
    found: list[tuple[int, int]] = []
    scratch = hyperscan.Scratch(db)
    db.scan(DATA, match_event_handler=lambda i, s, e, f, c: found.append((i, e)), scratch=scratch)  # type: ignore[attr-defined]
    return sorted(found)


def _expected() -> list[tuple[int, int]]:
    """(literal index, end offset) of every occurrence, found with bytes.find."""
    found = []
    for index, (literal, caseless) in enumerate(LITERALS):
        data = DATA.lower() if caseless else DATA
        at = data.find(literal)
        while at >= 0:
            found.append((index, at + len(literal)))
            at = data.find(literal, at + 1)
    return sorted(found)


EXPECTED = _expected()


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    return tmp_path / "xdg" / "leakscan"


def test_first_use_compiles_and_stores_then_loads(cache: Path) -> None:
    assert _hits(hscache.database(hyperscan, LITERALS)) == EXPECTED
    files = list(cache.glob("hyperscan-*.db"))
    assert len(files) == 1 and files[0].read_bytes().startswith(hscache.MAGIC)
    stored = files[0].stat().st_mtime_ns

    class NoCompile:
        """The hyperscan module, except that compiling a database fails the test."""

        def __getattr__(self, name: str) -> object:
            return getattr(hyperscan, name)

        def Database(self, **kwargs: object) -> None:  # noqa: N802
            raise AssertionError("compiled although the cache holds the database")

    assert _hits(hscache.database(NoCompile(), LITERALS)) == EXPECTED
    assert files[0].stat().st_mtime_ns == stored


def test_other_literals_or_flags_get_their_own_file(cache: Path) -> None:
    hscache.database(hyperscan, LITERALS)
    hscache.database(hyperscan, [(b"sqco_", False), (b"sonar", False), (b"PK\x03\x04", False)])
    hscache.database(hyperscan, LITERALS[:2])
    assert len(list(cache.glob("hyperscan-*.db"))) == 3


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[: len(data) // 2],  # truncated
        lambda data: data[:-1] + bytes([data[-1] ^ 1]),  # a flipped bit
        lambda data: b"not a database",
        lambda data: b"",
    ],
    ids=["truncated", "bit-flip", "garbage", "empty"],
)
def test_a_damaged_file_is_ignored_and_rewritten(cache: Path, damage: object) -> None:
    hscache.database(hyperscan, LITERALS)
    (path,) = cache.glob("hyperscan-*.db")
    good = path.read_bytes()
    path.write_bytes(damage(good))  # type: ignore[operator]
    assert _hits(hscache.database(hyperscan, LITERALS)) == EXPECTED
    assert path.read_bytes() == good


def test_a_file_hyperscan_rejects_is_compiled_again(cache: Path) -> None:
    """Right checksum, but not a database this Hyperscan accepts (another version or CPU)."""
    hscache.database(hyperscan, LITERALS)
    (path,) = cache.glob("hyperscan-*.db")
    payload = b"\0" * 64
    path.write_bytes(hscache.MAGIC + hashlib.sha256(payload).digest() + payload)
    assert _hits(hscache.database(hyperscan, LITERALS)) == EXPECTED
    assert path.read_bytes().startswith(hscache.MAGIC) and len(path.read_bytes()) > 200


def test_an_unwritable_folder_only_costs_a_compile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache folder would go")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    assert _hits(hscache.database(hyperscan, LITERALS)) == EXPECTED
    assert blocker.read_text().startswith("a file")
    assert list(tmp_path.iterdir()) == [blocker]


def test_folder_follows_xdg_not_a_relative_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert hscache.cache_folder() == str(tmp_path / "leakscan")
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert hscache.cache_folder() == str(tmp_path / "home" / ".cache" / "leakscan")
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert hscache.cache_folder() == str(tmp_path / "home" / ".cache" / "leakscan")


def test_detector_from_cache_finds_what_a_fresh_compile_finds(cache: Path, tokens: object) -> None:
    rules = load_rules()
    token = tokens.sqco()  # type: ignore[attr-defined]
    data = f'SONAR_TOKEN="{token}"\n'.encode()
    first = Detector(rules).detect(data)
    assert list(cache.glob("hyperscan-*.db"))
    second = Detector(rules).detect(data)
    assert [m.secret.value for m in first.matches] == [m.secret.value for m in second.matches] == [token]


KEYWORDS = [(b"sqco_", False), (b"squ_", False), (b"sonar", True)]


def test_triggers_are_derived_once_then_loaded(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fresh = decode.derive_triggers(KEYWORDS, 3)
    first = decode.compile_triggers(KEYWORDS, 3)
    assert list(first.items()) == list(fresh.items()) and len(fresh) > 500
    (path,) = cache.glob("triggers-*.bin")

    def fail(keywords: object, depth: int) -> dict[bytes, StepKind]:
        raise AssertionError("derived although the cache holds the triggers")

    monkeypatch.setattr(decode, "derive_triggers", fail)
    again = decode.compile_triggers(KEYWORDS, 3)
    assert list(again.items()) == list(fresh.items())
    assert all(type(kind) is StepKind for kind in again.values())


def test_other_keywords_or_depth_get_their_own_triggers(cache: Path) -> None:
    decode.compile_triggers(KEYWORDS, 3)
    assert list(decode.compile_triggers(KEYWORDS, 2).items()) == list(
        decode.derive_triggers(KEYWORDS, 2).items()
    )
    other = [(b"sqco_", False), (b"sonar", False)]
    assert list(decode.compile_triggers(other, 3).items()) == list(decode.derive_triggers(other, 3).items())
    assert len(list(cache.glob("triggers-*.bin"))) == 3
    assert decode.compile_triggers(KEYWORDS, 0) == {}


@pytest.mark.parametrize(
    "payload",
    [
        marshal.dumps(((b"abcd",), b"\x05", ("base64",))),  # a kind index out of range
        marshal.dumps(((b"abcd",), b"\x00", ("no-such-kind",))),
        marshal.dumps(((b"abcd", b"efgh"), b"\x00", ("base64",))),  # lengths differ
        marshal.dumps(("abcd", b"\x00", ("base64",))),  # not bytes
        b"\x00not marshal",
        marshal.dumps(42),
    ],
)
def test_a_trigger_file_of_another_shape_is_derived_again(cache: Path, payload: bytes) -> None:
    decode.compile_triggers(KEYWORDS, 3)
    (path,) = cache.glob("triggers-*.bin")
    good = path.read_bytes()
    path.write_bytes(hscache.MAGIC + hashlib.sha256(payload).digest() + payload)
    assert list(decode.compile_triggers(KEYWORDS, 3).items()) == list(
        decode.derive_triggers(KEYWORDS, 3).items()
    )
    assert path.read_bytes() == good


def test_a_damaged_trigger_file_is_rewritten(cache: Path) -> None:
    decode.compile_triggers(KEYWORDS, 3)
    (path,) = cache.glob("triggers-*.bin")
    good = path.read_bytes()
    path.write_bytes(good[:-1] + bytes([good[-1] ^ 1]))
    assert list(decode.compile_triggers(KEYWORDS, 3).items()) == list(
        decode.derive_triggers(KEYWORDS, 3).items()
    )
    assert path.read_bytes() == good


def test_builtin_rule_files_parsed_once_then_loaded(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = list(rulefiles.iter_builtin_rule_files())
    parsed = [tomllib.loads(text) for _, text in files]
    assert [rulefiles._toml_cached(text) for _, text in files] == parsed
    assert len(list(cache.glob("rules-*.bin"))) == len(files)

    def fail(text: str) -> dict[str, object]:
        raise AssertionError("parsed although the cache holds the file")

    monkeypatch.setattr(rulefiles, "_toml", fail)
    assert [rulefiles._toml_cached(text) for _, text in files] == parsed
    name, text = files[0]
    assert rulefiles.parse_rules(text, name, lazy=True) == rulefiles.parse_rules(text, name, lazy=True)


def test_a_damaged_rule_cache_file_is_parsed_again(cache: Path) -> None:
    text = '# a rule file\nversion = 1\n[[rules]]\nid = "x"\n'
    rulefiles._toml_cached(text)
    (path,) = cache.glob("rules-*.bin")
    good = path.read_bytes()
    payload = marshal.dumps(["not", "a", "table"])
    path.write_bytes(hscache.MAGIC + hashlib.sha256(payload).digest() + payload)
    assert rulefiles._toml_cached(text) == tomllib.loads(text)
    assert path.read_bytes() == good


def test_a_rule_file_marshal_cannot_hold_is_parsed_every_time(cache: Path) -> None:
    text = "version = 1\nwhen = 2024-01-01\n"
    assert rulefiles._toml_cached(text) == tomllib.loads(text)
    assert not list(cache.glob("rules-*.bin"))


class _ScanElsewhereOnFirstHit(list[tuple[int, int]]):
    """A hit list whose first append runs ``scan`` in another thread and waits for it: a second
    scan while the first is still inside Hyperscan, as a walk thread and the blob scan do."""

    def __init__(self, scan: Callable[[], object]) -> None:
        super().__init__()
        self._scan = scan
        self.other: list[object] = []

    def append(self, item: tuple[int, int]) -> None:
        if not self.other:
            self.other.append(None)
            thread = threading.Thread(target=lambda: self.other.append(self._scan()))
            thread.start()
            thread.join()
        super().append(item)


def test_scratch_space_is_one_per_thread() -> None:
    scratch = hscache.Scratch(hyperscan, hscache.database(hyperscan, LITERALS))
    mine = scratch.get()
    theirs: list[object] = []
    thread = threading.Thread(target=lambda: theirs.append(scratch.get()))
    thread.start()
    thread.join()
    assert scratch.get() is mine and theirs[0] is not mine


@pytest.mark.usefixtures("cache")
def test_two_threads_scan_with_one_keyword_index_at_the_same_time() -> None:
    index = KeywordIndex(load_rules(), literals=[b"PK\x03\x04"])
    keywords = index._hyperscan  # the Hyperscan pass itself: a hit list can reach inside it
    assert keywords is not None
    hits = _ScanElsewhereOnFirstHit(lambda: index.offsets(DATA))
    keywords.scan(DATA, hits)
    assert sorted(hits.other[1]) == sorted(at for _, at in hits)  # type: ignore[arg-type]


def test_two_threads_scan_with_one_trigger_index_at_the_same_time() -> None:
    literals = decode._HyperscanLiterals.build([b"sqco_", b"PK\x03\x04"])
    assert literals is not None
    hits = _ScanElsewhereOnFirstHit(lambda: literals.any(DATA))
    literals.scan(DATA, hits)
    assert hits.other[1] is True and len(hits) == 3
