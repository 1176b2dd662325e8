"""Built-in rules' regexes kept compiled on disk: a pattern built from its stored program finds
exactly what ``regex.compile`` finds; a damaged, foreign or locale-dependent program is compiled
again; a second run needs neither the ``regex`` module's parser nor a parse."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import regex

from leakscan import hscache, regexcache
from leakscan.rules import LazyPattern, load_rules
from leakscan.synthetic import TokenGenerator


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    return tmp_path / "xdg" / "leakscan"


def _patterns() -> list[bytes]:
    patterns = []
    for rule in load_rules():
        assert isinstance(rule.pattern, LazyPattern)
        patterns.append(rule.pattern.pattern)
    return patterns


def _texts(tokens: TokenGenerator) -> list[bytes]:
    texts = [example.text.encode() for rule in load_rules() for example in rule.examples]
    texts += [example.text.encode() for rule in load_rules() for example in rule.negative_examples]
    texts.append(
        (
            f'SONAR_TOKEN="{tokens.sqco()}"\nsonar.login={tokens.hex40()}\n'
            f"curl -u {tokens.server()}: https://sonar.example.com:9000/api\n"
            f"x{tokens.sqco()} %5F{tokens.server()} \\n{tokens.sqco()}\n"
        ).encode()
    )
    return texts


def _found(pattern: regex.Pattern[bytes], texts: list[bytes]) -> list[list[tuple[object, ...]]]:
    return [[(m.span(), m.groupdict(), m.captures()) for m in pattern.finditer(text)] for text in texts]


def test_each_builtin_pattern_from_its_stored_program_finds_what_a_compile_finds(
    cache: Path, tokens: TokenGenerator, monkeypatch: pytest.MonkeyPatch
) -> None:
    texts = _texts(tokens)
    patterns = _patterns()
    first = [regexcache.compile_cached(pattern) for pattern in patterns]
    assert len(list(cache.glob("regex-*.bin"))) == len(set(patterns))

    def no_compile(pattern: bytes) -> None:
        raise AssertionError("compiled instead of loaded")

    monkeypatch.setattr(regexcache, "_compile_recording", no_compile)
    loaded = [regexcache.compile_cached(pattern) for pattern in patterns]
    found_any = 0
    for pattern, compiled, stored in zip(patterns, first, loaded, strict=True):
        expected = regex.compile(pattern)
        assert stored.pattern == pattern and stored.flags == expected.flags
        assert stored.groupindex == expected.groupindex
        assert _found(stored, texts) == _found(compiled, texts) == _found(expected, texts)
        found_any += sum(map(len, _found(stored, texts)))
    assert found_any >= len(patterns)


def _stored(cache: Path, pattern: bytes) -> Path:
    name = regexcache._cache_name(pattern)
    assert name is not None
    return cache / name


@pytest.mark.parametrize(
    "payload",
    [b"not marshal", b"\xe9\x00\x00\x00\x00", b"", None],
    ids=["garbage", "wrong-shape", "empty", "another-pattern"],
)
def test_a_program_that_does_not_build_this_pattern_is_compiled_again(
    cache: Path, payload: bytes | None
) -> None:
    pattern, other = rb"key=(?P<secret>[0-9a-f]{8})", rb"(?P<secret>sq[upa]_[0-9a-f]{40})"
    regexcache.compile_cached(pattern)
    regexcache.compile_cached(other)
    path = _stored(cache, pattern)
    good = path.read_bytes()
    if payload is None:  # a valid program, but of another pattern
        path.write_bytes(_stored(cache, other).read_bytes())
    else:
        path.write_bytes(hscache.MAGIC + hashlib.sha256(payload).digest() + payload)
    compiled = regexcache.compile_cached(pattern)
    assert compiled.pattern == pattern
    assert [m.group("secret") for m in compiled.finditer(b"key=0123abcd key=zz")] == [b"0123abcd"]
    assert path.read_bytes() == good


def test_a_locale_dependent_pattern_is_compiled_every_time(cache: Path) -> None:
    compiled = regexcache.compile_cached(rb"(?L)\w+")
    assert compiled.findall(b"ab cd") == [b"ab", b"cd"]
    assert not list(cache.glob("regex-*.bin"))


def test_an_unwritable_folder_only_costs_a_compile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache folder would go")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    compiled = regexcache.compile_cached(rb"(?P<secret>sqco_[A-Za-z0-9]{59})")
    assert compiled.search(b"x sqco_" + b"a" * 59) is not None
    assert list(tmp_path.iterdir()) == [blocker]


def test_another_regex_installation_gets_its_own_file(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pattern = rb"(?P<secret>sqb_[0-9a-f]{40})"
    here = regexcache._cache_name(pattern)
    installation = regexcache._installation()
    assert installation is not None
    monkeypatch.setattr(regexcache, "_installation", lambda: (installation[0], installation[1] + b"+other"))
    assert regexcache._cache_name(pattern) not in (None, here)


PROBE = """
import json, sys
from leakscan.detect import Detector
from leakscan.rules import load_rules
detection = Detector(load_rules()).detect(sys.argv[1].encode())
print(json.dumps([sorted(m.secret.value for m in detection.matches), "regex._regex_core" in sys.modules]))
"""


def test_a_second_process_builds_its_patterns_without_the_regex_parser(
    tmp_path: Path, tokens: TokenGenerator
) -> None:
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "xdg")}
    token, legacy = tokens.sqco(), tokens.hex40()
    text = f'SONAR_TOKEN="{token}"\nsonar.login={legacy}\n'

    def probe() -> list[object]:
        done = subprocess.run(
            [sys.executable, "-c", PROBE, text], env=env, capture_output=True, text=True, check=True
        )
        result: list[object] = json.loads(done.stdout)
        return result

    first, second = probe(), probe()
    assert first == [sorted([token, legacy]), True]
    assert second == [sorted([token, legacy]), False]


def test_the_cli_reports_the_same_from_stored_programs(tmp_path: Path, tokens: TokenGenerator) -> None:
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "xdg")}
    target = tmp_path / "conf.env"
    target.write_text(f"SONAR_TOKEN={tokens.sqco()}\nsonar.login={tokens.hex40()}\nSONAR_HOST=x\n")

    def scan() -> list[tuple[str, str, int]]:
        done = subprocess.run(
            [sys.executable, "-m", "leakscan", "scan", str(target), "--format", "json"],
            env=env,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 1, done.stderr
        report = json.loads(done.stdout)
        return [(f["rule_id"], f["secret_sha256"], f["line"]) for f in report["findings"]]

    cold = scan()
    assert list((tmp_path / "xdg" / "leakscan").glob("regex-*.bin"))
    assert scan() == cold
    assert len(cold) == 2


def test_a_regex_layout_without_its_engine_hook_is_compiled_and_not_kept(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delattr(regex, "_main")
    monkeypatch.setitem(sys.modules, "regex._main", None)  # `from regex import _main` fails
    compiled = regexcache.compile_cached(rb"(?P<secret>sqp_[0-9a-f]{40})")
    assert compiled.search(b"sqp_" + b"ab" * 20) is not None
    assert not list(cache.glob("regex-*.bin"))
