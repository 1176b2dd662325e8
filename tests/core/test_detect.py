"""The detector: keyword pre-filter, windows, word boundaries, lines and columns, allow comments."""

from __future__ import annotations

import pytest

from leakscan.content import sniff, to_scannable
from leakscan.detect import WINDOW_AFTER, WINDOW_BEFORE, Detector, _merge_windows
from leakscan.models import ChecksumStatus
from leakscan.rules import Rule, load_rules, parse_rules
from leakscan.synthetic import TokenGenerator

SQCO = "sonarqube-cloud-scoped-org-token"
LEGACY = "sonarqube-legacy-token"


@pytest.fixture(scope="module")
def rules() -> dict[str, Rule]:
    return {rule.id: rule for rule in load_rules()}


@pytest.fixture(scope="module")
def detector(rules: dict[str, Rule]) -> Detector:
    return Detector(list(rules.values()))


def make_rule(pattern: str, keywords: list[str], *, rule_id: str = "custom", extra: str = "") -> Rule:
    """A rule from a small rule file (its examples are not run here)."""
    text = f"""
version = 1
[[rules]]
id = "{rule_id}"
name = "Custom"
severity = "low"
message = "m"
remediation = "r"
keywords = {keywords!r}
pattern = '{pattern}'
{extra}
[[rules.examples]]
text = "x"
secret = "x"
[[rules.negative_examples]]
text = "y"
reason = "z"
"""
    [rule] = parse_rules(text, "custom.toml")
    return rule


def found(detector: Detector, data: bytes) -> list[tuple[str, str, int, int, int, int]]:
    """(rule id, secret, line, column, end_column, start offset) of every match."""
    return [
        (m.rule.id, m.secret.value, m.line, m.column, m.end_column, m.start)
        for m in detector.detect(data).matches
    ]


def test_finds_token_with_exact_location(detector: Detector, tokens: TokenGenerator) -> None:
    token = tokens.sqco()
    data = f"a = 1\nsonar.token={token}\nb = 2\n".encode()
    [match] = detector.detect(data).matches
    assert (match.rule.id, match.secret.value, match.line, match.column) == (SQCO, token, 2, 13)
    assert (match.end_line, match.end_column) == (2, 13 + 64)
    assert (match.start, match.end) == (18, 18 + 64)
    assert data[match.start : match.end] == token.encode()
    assert match.checksum is ChecksumStatus.NONE


def test_keyword_prefilter_gates_the_regex() -> None:
    """The regex only runs near a keyword: the same text is found with the keyword, not without."""
    rule = make_rule("(?P<secret>[0-9a-f]{40})", ["zz_key"])
    detector = Detector([rule])
    value = TokenGenerator("prefilter").hex40()
    assert detector.keyword_hits(f"id {value}".encode()) == {}
    assert found(detector, f"id {value}".encode()) == []
    data = f"zz_key {value}".encode()
    assert detector.keyword_hits(data) == {rule: [0]}
    assert found(detector, data) == [("custom", value, 1, 8, 48, 7)]


def test_keyword_hits_cover_every_occurrence(rules: dict[str, Rule]) -> None:
    detector = Detector([rules[SQCO], rules[LEGACY]])
    hits = detector.keyword_hits(b"sqco_ SONAR sqco_ Sonar")
    assert hits == {rules[SQCO]: [0, 12], rules[LEGACY]: [6, 18]}


def test_merge_windows() -> None:
    b, a = WINDOW_BEFORE, WINDOW_AFTER
    assert list(_merge_windows([], 10_000)) == []
    assert list(_merge_windows([(10, 10)], 50)) == [(0, 50)]
    assert list(_merge_windows([(5000, 5000)], 10_000)) == [(5000 - b, 5000 + a)]
    assert list(_merge_windows([(5000, 5000), (5500, 5500)], 10_000)) == [(5000 - b, 5500 + a)]
    assert list(_merge_windows([(5000, 5500)], 10_000)) == [(5000 - b, 5500 + a)]
    far = 5000 + a + b + 1
    assert list(_merge_windows([(5000, 5000), (far, far)], 20_000)) == [
        (5000 - b, 5000 + a),
        (far - b, far + a),
    ]
    touching = 5000 + a + b
    assert list(_merge_windows([(5000, 5000), (touching, touching)], 20_000)) == [(5000 - b, touching + a)]
    assert list(_merge_windows([(5000, 5000)], 20_000, 4096, 8192)) == [(5000 - 4096, 5000 + 8192)]


def test_match_at_buffer_start_and_end(detector: Detector, tokens: TokenGenerator) -> None:
    token = tokens.sqco()
    assert found(detector, token.encode()) == [(SQCO, token, 1, 1, 65, 0)]
    data = ("x" * 3000 + " " + token).encode()
    assert found(detector, data) == [(SQCO, token, 1, 3002, 3066, 3001)]


def test_tokens_in_separate_windows_far_apart(detector: Detector, tokens: TokenGenerator) -> None:
    first, second = tokens.sqco(), tokens.sqco()
    filler = "filler line\n" * 2000
    data = f"{first}\n{filler}{second}\n".encode()
    assert found(detector, data) == [
        (SQCO, first, 1, 1, 65, 0),
        (SQCO, second, 2002, 1, 65, 65 + 12 * 2000),
    ]


def test_token_after_a_long_run_of_keywords(detector: Detector, tokens: TokenGenerator) -> None:
    """Thousands of keyword hits merge into one window; the token at its far end is still found."""
    token = tokens.sqco()
    noise = "sqco_ sonar " * 3000
    data = f"{noise}{token}".encode()
    assert found(detector, data) == [(SQCO, token, 1, len(noise) + 1, len(noise) + 65, len(noise))]


def test_match_longer_than_its_window_is_not_cut() -> None:
    rule = make_rule("key=(?P<secret>[a-z]+)", ["key="])
    value = "q" * (WINDOW_AFTER * 3)
    data = f"key={value}!".encode()
    [match] = Detector([rule]).detect(data).matches
    assert (match.secret.value, match.start, match.end) == (value, 4, 4 + len(value))


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        ("", "", True),
        (" ", " ", True),
        ("(", ")", True),
        ('"', '"', True),
        ("=", "\n", True),
        ("-", ".", True),
        ("é", "é", True),
        ("X", "", False),
        ("_", "", False),
        ("9", "", False),
        ("", "X", False),
        ("", "_", False),
        ("", "0", False),
    ],
)
def test_word_boundaries(
    detector: Detector, tokens: TokenGenerator, before: str, after: str, expected: bool
) -> None:
    token = tokens.sqco()
    data = f"{before}{token}{after}".encode()
    at = len(before.encode())
    location = (SQCO, token, 1, len(before) + 1, len(before) + 65, at)
    assert found(detector, data) == ([location] if expected else [])


@pytest.mark.parametrize(
    "key", ["sonar.login", "SONAR_TOKEN", "Sonar.Login", "SONARQUBE_TOKEN", "sonar.token"]
)
def test_legacy_keyword_is_case_insensitive(detector: Detector, tokens: TokenGenerator, key: str) -> None:
    value = tokens.hex40()
    data = f"{key}={value}\n".encode()
    assert found(detector, data) == [(LEGACY, value, 1, len(key) + 2, len(key) + 42, len(key) + 1)]


def test_legacy_rule_ignores_prefixed_server_token(detector: Detector, tokens: TokenGenerator) -> None:
    token = tokens.server("p")
    assert found(detector, f"sonar.login={token}".encode()) == [
        ("sonarqube-server-token", token, 1, 13, 57, 12)
    ]


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"], ids=["LF", "CRLF", "CR"])
def test_line_and_column_for_every_newline_style(
    detector: Detector, tokens: TokenGenerator, newline: str
) -> None:
    token = tokens.sqco()
    lines = ["first", "", "  key: " + token, "last"]
    data = newline.join(lines).encode()
    [match] = detector.detect(data).matches
    assert (match.line, match.column, match.end_line, match.end_column) == (3, 8, 3, 72)


def test_mixed_newlines(detector: Detector, tokens: TokenGenerator) -> None:
    token = tokens.sqco()
    data = f"a\r\nb\rc\n\r\nd\r\r{token}".encode()
    assert [(m.line, m.column) for m in detector.detect(data).matches] == [(7, 1)]


def test_multibyte_characters_count_as_one_column(detector: Detector, tokens: TokenGenerator) -> None:
    token = tokens.sqco()
    prefix = "clé = «€𝄞» "
    data = f"ligne\n{prefix}{token}".encode()
    assert len(prefix.encode()) > len(prefix)
    [match] = detector.detect(data).matches
    assert (match.line, match.column, match.end_column) == (2, len(prefix) + 1, len(prefix) + 65)
    assert match.start == 6 + len(prefix.encode())


def test_invalid_utf8_does_not_stop_detection(detector: Detector, tokens: TokenGenerator) -> None:
    token = tokens.sqco()
    data = b"\xff\xfe\x80garbage\x00\xc3 " + token.encode() + b"\n\xff"
    assert [(m.secret.value, m.line) for m in detector.detect(data).matches] == [(token, 1)]


def test_allow_comment_suppresses_only_its_line(detector: Detector, tokens: TokenGenerator) -> None:
    allowed, kept, also_allowed = tokens.sqco(), tokens.sqco(), tokens.sqco()
    data = (
        f"a = '{allowed}'  # leakscan:allow\r\nb = '{kept}'\r\n/* leakscan:allow */ c = '{also_allowed}'\r\n"
    ).encode()
    detection = detector.detect(data)
    assert [(m.secret.value, m.line) for m in detection.matches] == [(kept, 2)]
    assert [reason for _, reason in detection.rejected] == ["leakscan:allow comment"] * 2


def test_allow_comment_on_previous_line_does_not_apply(detector: Detector, tokens: TokenGenerator) -> None:
    token = tokens.sqco()
    data = f"# leakscan:allow\n{token}\n".encode()
    assert [(m.secret.value, m.line) for m in detector.detect(data).matches] == [(token, 2)]


def test_rejected_candidates_carry_the_reason(detector: Detector, tokens: TokenGenerator) -> None:
    data = f"a={tokens.checksummed('ghp_', valid=False)}\nb=sqco_{'x' * 59}\n".encode()
    detection = detector.detect(data)
    assert detection.matches == []
    assert sorted((rule.id, reason) for rule, reason in detection.rejected) == [
        ("github-token", "crc32-base62 checksum mismatch"),
        (SQCO, "long run of one character"),
    ]


def test_several_rules_sorted_by_offset(detector: Detector, tokens: TokenGenerator) -> None:
    npm, squ, ghp = tokens.checksummed("npm_"), tokens.server("u"), tokens.checksummed("ghp_")
    data = f"{ghp} {squ}\n{npm}".encode()
    matches = detector.detect(data).matches
    assert [(m.rule.id, m.line, m.column, m.checksum.value) for m in matches] == [
        ("github-token", 1, 1, "valid"),
        ("sonarqube-server-token", 1, 42, "none"),
        ("npm-access-token", 2, 1, "valid"),
    ]


def test_same_token_twice_is_two_matches(detector: Detector, tokens: TokenGenerator) -> None:
    token = tokens.sqco()
    data = f"{token}\n{token}\n".encode()
    assert [(m.line, m.column) for m in detector.detect(data).matches] == [(1, 1), (2, 1)]


def test_catastrophic_regex_times_out_with_an_error() -> None:
    rule = make_rule("(?P<secret>boom_(?:a|aa)+b)", ["boom_"], rule_id="boom")
    detector = Detector([rule], regex_timeout=0.05)
    data = b"x\nboom_" + b"a" * 60 + b"c\n"
    detection = detector.detect(data)
    assert detection.matches == []
    assert detection.errors == [
        "rule 'boom': regex search timed out after 0.05s at bytes 0-69; "
        "rule skipped for the rest of this input"
    ]


def test_secret_spanning_lines_has_its_own_end() -> None:
    rule = make_rule("BEGIN (?P<secret>key[^!]*)!", ["BEGIN "])
    data = "x\nBEGIN key one\r\n  two\n  é3!\n".encode()
    [match] = Detector([rule]).detect(data).matches
    assert match.secret.value == "key one\r\n  two\n  é3"
    assert (match.line, match.column, match.end_line, match.end_column) == (2, 7, 4, 5)


def test_columns_do_not_count_a_utf8_bom(detector: Detector, tokens: TokenGenerator) -> None:
    token = tokens.sqco()
    raw = b"\xef\xbb\xbfsonar.token=" + token.encode()
    data = to_scannable(raw, sniff(raw))
    assert [(m.line, m.column) for m in detector.detect(data).matches] == [(1, 13)]
