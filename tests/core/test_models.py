"""Secret masking: repr and str never reveal the value; redaction keeps prefix + at most 4."""

from __future__ import annotations

import hashlib

import pytest

from leakscan.models import Failed, ScanResult, Secret, Skipped
from leakscan.synthetic import TokenGenerator


def test_repr_and_str_are_masked(tokens: TokenGenerator) -> None:
    token = tokens.sqco()
    secret = Secret(token)
    for shown in (repr(secret), str(secret), f"{secret}", repr([secret]), repr({"s": secret})):
        assert token not in shown
        assert token[9:] not in shown
    assert repr(secret) == f"Secret('{token[:9]}********')"
    assert str(secret) == token[:9] + "********"


@pytest.mark.parametrize(
    ("maker", "prefix"),
    [
        (lambda g: g.sqco(), "sqco_"),
        (lambda g: g.server("u"), "squ_"),
        (lambda g: g.checksummed("ghp_"), "ghp_"),
        (lambda g: g.hex40(), ""),
    ],
    ids=["sqco", "squ", "ghp", "legacy"],
)
def test_redaction_keeps_prefix_and_at_most_four(maker, prefix: str) -> None:
    token = maker(TokenGenerator(prefix))
    redacted = Secret(token).redacted()
    assert redacted == token[: len(prefix) + 4] + "********"


@pytest.mark.parametrize(
    ("value", "redacted"),
    [
        ("", "********"),
        ("abc", "********"),
        ("abcdefgh", "ab********"),
        ("tok_abcdefgh", "tok_ab********"),
    ],
)
def test_short_secrets_keep_a_quarter(value: str, redacted: str) -> None:
    assert Secret(value).redacted() == redacted


def test_sha256_is_of_the_full_value(tokens: TokenGenerator) -> None:
    token = tokens.sqco()
    assert Secret(token).sha256 == hashlib.sha256(token.encode()).hexdigest()


def test_scan_result_complete() -> None:
    result = ScanResult()
    assert result.complete
    result.skipped.append(Skipped("a", "binary"))
    assert result.complete
    result.errors.append(Failed("b", "cannot read"))
    assert not result.complete
    assert not ScanResult(interrupted=True).complete
