"""Hostile inputs for the detector and rule loading (audit 2026-12, D-1 D-2 D-6 D-20 D-22 D-25
D-29 D-30): bounded work per byte, and nothing missed or crashed on the way.

Work is measured by counting the bytes each regex search covers, not by timing (timings belong in
benchmarks/hostile.py)."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec.structs
import pytest
import regex

from leakscan.baseline import parse_baseline
from leakscan.detect import PIECE, Detector, _Lines, _merge_windows, rule_window
from leakscan.errors import BaselineError, RuleFileError
from leakscan.rules import Rule, load_rules, parse_rules
from leakscan.synthetic import TokenGenerator
from tests.conftest import RunCli

SECTION = "sonarqube-legacy-token-in-section"
LEGACY = "sonarqube-legacy-token"


@pytest.fixture(scope="module")
def rules() -> dict[str, Rule]:
    return {rule.id: rule for rule in load_rules()}


class CountingPattern:
    """Wraps a compiled pattern and adds up the bytes every ``finditer`` call may read."""

    def __init__(self, pattern: regex.Pattern[bytes]) -> None:
        self.pattern = pattern
        self.groupindex = pattern.groupindex
        self.searched = 0
        self.calls = 0

    def finditer(self, data: bytes, pos: int, endpos: int, timeout: float) -> Iterator[Any]:
        self.searched += endpos - pos
        self.calls += 1
        return self.pattern.finditer(data, pos=pos, endpos=endpos, timeout=timeout)


def counting(rule: Rule) -> tuple[Rule, CountingPattern]:
    counter = CountingPattern(rule.pattern)
    return msgspec.structs.replace(rule, pattern=counter), counter  # type: ignore[arg-type]


def quadratic_case(size: int) -> bytes:
    """D-1: sonar blocks whose in-section match ends exactly 1,024 bytes after "sonar"."""
    lines = b"".join(b"  k%d: " % i + b"x" * 199 + b"\n" for i in range(4))
    lines += b"  k9: " + b"y" * (968 - len(lines) - 7) + b"\n"
    block = b"sonar:\n" + lines + b"  token: " + b"0" * 40
    unit = block + b"\n" + b"#" * 299 + b"\n"
    return unit * (size // len(unit))


def test_window_end_match_does_not_re_search_to_the_end(rules: dict[str, Rule]) -> None:
    """D-1: each search is bounded, so the bytes searched grow with the file, not its square."""
    searched = {}
    for size in (64 * 1024, 256 * 1024):
        rule, counter = counting(rules[SECTION])
        detection = Detector([rule]).detect(quadratic_case(size))
        assert detection.errors == []
        assert detection.matches == []  # the planted value is all zeros: a placeholder
        assert len(detection.rejected) == size // 1325
        searched[size] = counter.searched
    assert searched[256 * 1024] <= 3 * 256 * 1024
    assert searched[256 * 1024] <= 4.5 * searched[64 * 1024]


def test_match_cut_by_its_window_is_found_whole_within_the_next_window(rules: dict[str, Rule]) -> None:
    """D-1: a match running past its window's end is searched again once, over a bounded range."""
    rule, counter = counting(rules[SECTION])
    data = quadratic_case(1325 * 3)
    assert len(Detector([rule]).detect(data).rejected) == 3
    assert counter.searched < 2 * len(data)


def test_token_far_below_a_section_header(rules: dict[str, Rule], tokens: TokenGenerator) -> None:
    """D-25: five ~190-character lines between `sonar:` and the token (over 1 KiB) still match."""
    token = tokens.hex40()
    body = "".join(f"  key{n}: {'v' * 195}\n" for n in range(5))
    data = f"sonar:\n{body}  token: {token}\n".encode()
    assert data.index(token.encode()) > 1024
    detection = Detector([rules[SECTION]]).detect(data)
    assert [(m.secret.value, m.line, m.column) for m in detection.matches] == [(token, 7, 10)]
    assert rule_window(rules[SECTION]) == (4096, 4096 + 64)


def test_keyword_dense_file_is_searched_in_bounded_pieces(
    rules: dict[str, Rule], tokens: TokenGenerator
) -> None:
    """D-20: a file that is mostly the keyword is one run of hits (not one entry per hit) and is
    searched in pieces, so a legacy token in the middle and at the end is found."""
    first, last = tokens.hex40(), tokens.hex40()
    dense = b"sonar\n" * 200_000
    data = dense + f"sonar.login={first}\n".encode() + dense + f"sonar.token={last}\n".encode()
    rule, counter = counting(rules[LEGACY])
    detector = Detector([rule])
    runs = detector.keywords.runs(data)
    assert len(runs[rule]) == 1
    detection = detector.detect(data)
    assert detection.errors == []
    lines = 200_001
    assert [(m.secret.value, m.line, m.column) for m in detection.matches] == [
        (first, lines, 13),
        (last, 2 * lines, 13),
    ]
    assert counter.searched <= 1.2 * len(data)
    assert counter.searched / counter.calls <= PIECE * 2


@pytest.mark.parametrize("engine", ["python", "hyperscan"])
def test_runs_of_hits_give_the_same_windows_as_every_hit(rules: dict[str, Rule], engine: str) -> None:
    """Runs are a compression of the hit list: same matches, either keyword engine."""
    if engine == "hyperscan":
        pytest.importorskip("hyperscan")
    rng = random.Random(7)
    generator = TokenGenerator("runs")
    parts = []
    for _ in range(3000):
        parts.append(rng.choice(["sonar", "SONAR ", "x" * rng.randrange(1, 3000), "sqco_", "\n"]))
        if rng.random() < 0.02:
            parts.append(f" sonar.token={generator.hex40()} ")
    data = "".join(parts).encode()
    detector = Detector(list(rules.values()), engine=engine)
    hits = detector.keyword_hits(data)
    runs = detector.keywords.runs(data)
    assert runs.keys() == hits.keys()
    for rule, offsets in hits.items():
        before, after = rule_window(rule)
        by_hit = _merge_windows([(at, at) for at in offsets], len(data), before, after)
        assert list(_merge_windows(runs[rule], len(data), before, after)) == list(by_hit)
        assert len(runs[rule]) < len(offsets)
    planted = [m.secret.value for m in detector.detect(data).matches]
    assert len(planted) == data.count(b" sonar.token=")


def test_many_tokens_on_mixed_line_endings_have_exact_positions(tokens: TokenGenerator) -> None:
    """D-2: lines and columns come from a running count; they equal a count from the start."""
    rng = random.Random(11)
    detector = Detector(load_rules())
    parts, expected = [], []
    size = 0
    for n in range(400):
        filler = rng.choice(["a\n", "b\r\n", "c\r", "é€", "", "\r\n\n", "x" * rng.randrange(200)])
        token = tokens.sqco() if n % 2 else tokens.server("u")
        piece = f"{filler} {token} ".encode()
        expected.append((token, size + len(piece) - len(token) - 1))
        parts.append(piece)
        size += len(piece)
    data = b"".join(parts)
    matches = detector.detect(data).matches
    assert [(m.secret.value, m.start) for m in matches] == expected
    for m in matches:
        head = data[: m.start]
        line_start = max(head.rfind(b"\n"), head.rfind(b"\r")) + 1
        line = head.count(b"\n") + head.count(b"\r") - head.count(b"\r\n") + 1
        prefix = data[line_start : m.start].decode("utf-8", "replace")
        assert (m.line, m.column) == (line, len(prefix) + 1)
        assert m.utf16_column == len(prefix.encode("utf-16-le")) // 2 + 1


def test_line_index_answers_in_any_order() -> None:
    rng = random.Random(3)
    data = bytes(rng.choice(b"ab\r\n\xc3\xa9") for _ in range(5000))
    lines = _Lines(data)
    for at in [rng.randrange(len(data)) for _ in range(300)] + list(range(0, len(data), 7)):
        head = data[:at]
        assert lines.number(at) == head.count(b"\n") + head.count(b"\r") - head.count(b"\r\n") + 1
        start = max(head.rfind(b"\n"), head.rfind(b"\r")) + 1
        ends = [i for i in (data.find(b"\n", at), data.find(b"\r", at)) if i >= 0]
        assert lines.bounds(at) == (start, min(ends) if ends else len(data))
        text = data[start:at].decode("utf-8", "replace")
        assert lines.widths(start, at) == (len(text), len(text.encode("utf-16-le")) // 2)


DENY_RULE = """
version = 1
[[rules]]
id = "custom-key"
name = "Custom"
severity = "low"
message = "m"
remediation = "r"
keywords = ["key="]
pattern = 'key=(?P<secret>[a-z]{10,80})'
deny = ['^(a|aa)+$']
[[rules.examples]]
text = "key=qwertyuiopasdf"
secret = "qwertyuiopasdf"
[[rules.negative_examples]]
text = "key=aaaaaaaaaaaa"
reason = "denied"
"""


def test_deny_pattern_has_the_regex_timeout() -> None:
    """D-6: a catastrophic deny regex is cut off: the candidate is kept, the error reported once,
    and the deny list is not run again on that input."""
    [rule] = parse_rules(DENY_RULE, "deny.toml")
    secret = "a" * 42 + "b"
    data = f"key={secret}\nkey={secret.replace('b', 'c')}\nkey=aaaaaaaaaaaa\n".encode()
    detection = Detector([rule], regex_timeout=0.2).detect(data)
    assert [m.secret.value for m in detection.matches] == [secret, "a" * 42 + "c", "a" * 12]
    assert detection.errors == [
        "rule 'custom-key': deny pattern '^(a|aa)+$' timed out after 0.2s; "
        "deny patterns skipped for the rest of this input"
    ]
    assert Detector([rule], regex_timeout=0.2).detect(b"key=aaaaaaaaaaaa\n").matches == []


def test_deep_toml_rule_file_is_one_line_error(tmp_path: Path, run_cli: RunCli) -> None:
    """D-29: 5,000 nested arrays: 'invalid TOML', not RecursionError."""
    path = tmp_path / "deep.toml"
    path.write_text("version = 1\nx = " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(RuleFileError) as caught:
        load_rules([path], builtin=False)
    assert caught.value.problems == [f"{path}: invalid TOML: arrays or tables nested too deeply"]
    (tmp_path / "a.txt").write_text("nothing\n")
    proc = run_cli("scan", "--rules", str(path), str(tmp_path / "a.txt"))
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr == f"Error: {path}: invalid TOML: arrays or tables nested too deeply\n"


def test_deep_json_baseline_is_one_line_error(tmp_path: Path, run_cli: RunCli) -> None:
    """D-29: a 100k-deep JSON baseline: 'not valid JSON', not RecursionError."""
    text = "[" * 100_000 + "]" * 100_000
    with pytest.raises(BaselineError, match="^b.json: not valid JSON: nested too deeply$"):
        parse_baseline(text, "b.json")
    path = tmp_path / "b.json"
    path.write_text(text)
    (tmp_path / "a.txt").write_text("nothing\n")
    proc = run_cli("scan", "--baseline", str(path), str(tmp_path / "a.txt"))
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr == f"Error: {path}: not valid JSON: nested too deeply\n"
    assert json.loads("[" * 100 + "]" * 100)  # an ordinary depth is fine


def test_compile_bomb_is_rejected_before_compiling(tmp_path: Path, run_cli: RunCli) -> None:
    """D-22: a pattern that would take hours in regex.compile is rejected at once, with exit 2."""
    rule = DENY_RULE.replace("deny = ['^(a|aa)+$']\n", "").replace(
        "(?P<secret>[a-z]{10,80})", "(?P<secret>(?:(?:(?:[a-z]{1000}){1000}){1000}){1000})"
    )
    path = tmp_path / "bomb.toml"
    path.write_text(rule)
    proc = run_cli("rules", "check", str(path), timeout=30)
    assert proc.returncode == 2
    assert "field 'pattern': expands to 1000000000004 elements (at most 100000" in proc.stderr


def test_window_field_sets_the_rule_window(tmp_path: Path) -> None:
    text = DENY_RULE.replace("deny = ['^(a|aa)+$']", "window = 5000")
    [rule] = parse_rules(text, "w.toml")
    assert (rule.window, rule_window(rule)) == (5000, (5000, 5064))
    [bounded] = parse_rules(DENY_RULE, "d.toml")
    assert (bounded.window, rule_window(bounded)) == (84, (256, 1024))
    unbounded = parse_rules(DENY_RULE.replace("{10,80}", "+"), "u.toml")[0]
    assert unbounded.window == 0
