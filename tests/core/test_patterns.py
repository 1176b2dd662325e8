"""leakscan.patterns: the static size, nesting and longest-match bounds of a regex's text."""

from __future__ import annotations

import math

import pytest
import regex

from leakscan.patterns import PatternSize, measure


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("abc", PatternSize(3, 0, 3)),
        ("a{100}", PatternSize(100, 0, 100)),
        ("a{1,50}", PatternSize(1, 0, 50)),
        ("a{,5}", PatternSize(1, 0, 5)),
        ("a{3,}", PatternSize(3, 0, math.inf)),
        ("a+?b*c??", PatternSize(3, 0, math.inf)),
        ("a{2}+", PatternSize(2, 0, 2)),
        ("((a{100}){100}){100}", PatternSize(1_000_000, 2, 1_000_000)),
        ("(?:ab|c){3}", PatternSize(9, 1, 6)),
        ("(?P<secret>[a-z]{10,80})", PatternSize(10, 1, 80)),
        ("[]a(]{2}", PatternSize(2, 0, 2)),
        ("[[:alpha:]]x", PatternSize(2, 0, 2)),
        (r"\x41{3}\(", PatternSize(4, 0, 4)),
        (r"\p{L}", PatternSize(1, 0, 4)),
        ("(?<![a-z])abc(?=x)", PatternSize(5, 1, 3)),
        ("(?i)abc(?#a comment (with parens)", PatternSize(3, 0, 3)),
        (r"(a)\1", PatternSize(2, 1, math.inf)),
        ("(?P<n>a)(?P=n)", PatternSize(2, 1, math.inf)),
        ("é{2}", PatternSize(2, 0, 4)),
        ("x{a}", PatternSize(4, 0, 4)),
        ("(" * 60 + "a" + ")" * 60, PatternSize(1, 60, 1)),
        ("(a", PatternSize(1, 1, math.inf)),
    ],
)
def test_measure(pattern: str, expected: PatternSize) -> None:
    assert measure(pattern) == expected


@pytest.mark.parametrize("pattern", ["a{10}b{5,}", "(?:ab|cde){2,4}x", "[a-z]{3}(?:-[0-9]{2}){1,3}"])
def test_longest_is_an_upper_bound_of_real_matches(pattern: str) -> None:
    compiled = regex.compile(pattern)
    for text in ["a" * 10 + "b" * 9, "cdecdecdeabx", "abc-12-34-56"]:
        for found in compiled.finditer(text):
            assert len(found.group()) <= measure(pattern).longest
