"""Offline checks: each measure on exact inputs, checksums, and the full verdict of judge()."""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from math import log2

import pytest

from leakscan.judge import (
    check_checksum,
    check_plausibility,
    judge,
    longest_repeat,
    longest_run,
    longest_sequence,
    shannon_entropy,
)
from leakscan.models import ChecksumStatus
from leakscan.rules import Checksum, Plausibility, Rule, load_rules
from leakscan.synthetic import BASE62, HEX, TokenGenerator


@pytest.fixture(scope="module")
def rules() -> dict[str, Rule]:
    return {rule.id: rule for rule in load_rules()}


@pytest.mark.parametrize(
    ("text", "expected"),
    [("", 0.0), ("aaaa", 0.0), ("ab", 1.0), ("abcd", 2.0), ("aabb", 1.0), (BASE62, log2(62))],
)
def test_shannon_entropy(text: str, expected: float) -> None:
    assert shannon_entropy(text) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("", 0), ("a", 1), ("ab", 1), ("aab", 2), ("xaaaay", 4), ("abbbcccc", 4), ("ZZZZZZZ", 7)],
)
def test_longest_run(text: str, expected: int) -> None:
    assert longest_run(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", 0),
        ("a", 1),
        ("ac", 1),
        ("abc", 3),
        ("cba", 3),
        ("x0123y", 4),
        ("98765a", 5),
        ("abcba", 3),
        ("abcdefgh", 8),
        ("a1b2c3d4", 4),
        ("9z8y7x6w5", 5),
    ],
)
def test_longest_sequence(text: str, expected: int) -> None:
    assert longest_sequence(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", 0),
        ("ab", 0),
        ("abab", 2),
        ("abcabcabc", 6),
        ("xAb1Ab1Ab1y", 6),
        ("a1b2c3", 0),
        ("abcdefghabcdefgh", 8),
        ("abcdefghiabcdefghi", 9),
        ("0123456789abcdef0123456789abcdef0123", 20),
        ("abcdefghijklmnopqrstuabcdefghijklmnopqrstu", 0),
    ],
)
def test_longest_repeat(text: str, expected: int) -> None:
    assert longest_repeat(text) == expected


# Straightforward reference versions of the measures: check_plausibility skips work with trigram
# pre-checks and vectorised loops; its verdict must equal running these in full.
def _ref_run(text: str) -> int:
    best = run = 0
    previous = ""
    for char in text:
        run = run + 1 if char == previous else 1
        best = max(best, run)
        previous = char
    return best


def _ref_sequence(text: str) -> int:
    best = 0
    for stride in (1, 2):
        for i in range(len(text)):
            for step in (1, -1):
                j = i + stride
                while j < len(text) and ord(text[j]) - ord(text[j - stride]) == step:
                    j += stride
                best = max(best, (j - i) // stride)
    return best


def _ref_steps(text: str) -> int:
    return sum(1 for i in range(1, len(text)) if abs(ord(text[i]) - ord(text[i - 1])) == 1)


def _ref_repeat(text: str) -> int:
    best = 0
    for period in range(2, 21):
        run = 0
        for i in range(len(text) - period):
            run = run + 1 if text[i] == text[i + period] else 0
            best = max(best, run)
    return best


def _ref_entropy(text: str) -> float:
    counts = Counter(text)
    return -sum(n / len(text) * log2(n / len(text)) for n in counts.values()) if text else 0.0


def _ref_verdict(body: str, settings: Plausibility) -> str:
    for word in settings.placeholder_words:
        if word.lower() in body.lower():
            return f"placeholder word {word!r}"
    if settings.max_run and _ref_run(body) > settings.max_run:
        return "long run of one character"
    if settings.max_sequence and _ref_sequence(body) > settings.max_sequence:
        return "long ascending or descending sequence"
    if settings.max_repeat and _ref_repeat(body) > settings.max_repeat:
        return "short pattern repeated"
    if settings.max_steps and _ref_steps(body) > settings.max_steps:
        return "too many consecutive characters (typed pattern)"
    if settings.min_entropy and _ref_entropy(body) < settings.min_entropy:
        return f"entropy below {settings.min_entropy}"
    return ""


def _tricky_bodies(rng: random.Random, alphabet: str, length: int) -> list[str]:
    """Random bodies with a planted run, sequence or periodic stretch of every size up to 12."""
    bodies = []
    for size in range(1, min(13, length - 8)):
        for _ in range(20):
            body = list(rng.choices(alphabet, k=length))
            at = rng.randrange(0, length - size)
            kind = rng.randrange(3)
            if kind == 0:
                body[at : at + size] = [body[at]] * size
            elif kind == 1:
                start = rng.randrange(0, 40)
                step = rng.choice((1, -1))
                codes = [ord("0") + 40 + (start + step * k) % 40 for k in range(size)]
                body[at : at + size] = map(chr, codes)
            else:
                period = rng.randrange(2, 9)
                unit = rng.choices(alphabet, k=period)
                body[at : at + size + period] = (unit * 8)[: size + period]
            bodies.append("".join(body)[:length])
    return bodies


@pytest.mark.parametrize(
    ("settings", "alphabet", "length"),
    [
        (Plausibility(4.2, 5, 6, 8, ("example",)), BASE62, 59),
        (Plausibility(2.8, 8, 9, 10, ("deadbeef",)), HEX, 40),
        (Plausibility(1.0, 2, 2, 2), BASE62, 59),
        (Plausibility(1.0, 1, 1, 1), HEX, 40),
        (Plausibility(0, 3, 0, 0), "ab", 16),
        (Plausibility(0, 0, 3, 3), "abcdé€", 30),
    ],
    ids=["sqco", "hex", "limits-2", "limits-1", "tiny-alphabet", "non-ascii"],
)
def test_check_plausibility_equals_reference(settings: Plausibility, alphabet: str, length: int) -> None:
    rng = random.Random(f"{settings}{alphabet}")
    bodies = (
        ["".join(rng.choices(alphabet, k=length)) for _ in range(2000)]
        + _tricky_bodies(rng, alphabet, length)
        + ["", "a", "ab", "abc", "aaa", "abab"]
    )
    verdicts = Counter()
    for body in bodies:
        expected = _ref_verdict(body, settings)
        assert check_plausibility(body, settings) == expected, body
        verdicts[expected.split(" ")[0]] += 1
    assert len(verdicts) >= 2, verdicts


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("ab" * 10, "placeholder word 'abababab'"),
        ("q" * 6 + "Zx8Kp2Lm", "long run of one character"),
        ("Zx8" + "abcdefg" + "Kp2Lm", "long ascending or descending sequence"),
        ("Zx8" + "9876543" + "Kp2Lm", "long ascending or descending sequence"),
        ("Q" + "k3J" * 4 + "x", "short pattern repeated"),
        ("aAbBaAbBcCzZ" + "k3", "entropy below 3.5"),
        ("Zx8Kp2LmQ7vN", ""),
    ],
)
def test_check_plausibility_reasons(body: str, reason: str) -> None:
    settings = Plausibility(3.5, 5, 6, 8, ("abababab",))
    assert check_plausibility(body, settings) == reason


def test_placeholder_words_are_case_insensitive() -> None:
    settings = Plausibility(placeholder_words=("ChangeMe",))
    assert check_plausibility("xxCHANGEMEyy", settings) == "placeholder word 'ChangeMe'"


def test_crc32_base62_checksum(tokens: TokenGenerator) -> None:
    scheme = Checksum("crc32-base62", 30, 6)
    good = tokens.checksummed("ghp_")[4:]
    bad = tokens.checksummed("ghp_", valid=False)[4:]
    assert check_checksum(good, scheme)
    assert not check_checksum(bad, scheme)
    assert not check_checksum(good[:-1], scheme)
    assert not check_checksum(good + "0", scheme)
    assert check_checksum("anything", Checksum())


def test_judge_checksummed_rule(rules: dict[str, Rule], tokens: TokenGenerator) -> None:
    rule = rules["github-token"]
    token = tokens.checksummed("ghp_")
    assert judge(token, "", rule) == judge(token, "", rule)
    verdict = judge(token, hashlib.sha256(token.encode()).hexdigest(), rule)
    assert (verdict.keep, verdict.checksum) == (True, ChecksumStatus.VALID)
    bad = judge(tokens.checksummed("ghp_", valid=False), "", rule)
    assert (bad.keep, bad.reason) == (False, "crc32-base62 checksum mismatch")


def test_judge_known_example_and_deny(rules: dict[str, Rule], tokens: TokenGenerator) -> None:
    rule = rules["sonarqube-cloud-scoped-org-token"]
    token = tokens.sqco()
    [known] = rule.known_examples_sha256
    assert judge(token, known, rule) == judge(token, known, rule)
    assert judge(token, known, rule).reason == "known public example token"
    kept = judge(token, hashlib.sha256(token.encode()).hexdigest(), rule)
    assert (kept.keep, kept.reason, kept.checksum) == (True, "", ChecksumStatus.NONE)
