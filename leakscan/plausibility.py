"""Offline checks on a candidate secret: checksum where the format has one, else plausibility."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

from leakscan.models import ChecksumStatus
from leakscan.rules import Checksum, Plausibility, Rule
from leakscan.synthetic import base62_crc32


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether a candidate is kept, why not if not, and its checksum status."""

    keep: bool
    reason: str = ""
    checksum: ChecksumStatus = ChecksumStatus.NONE


def shannon_entropy(text: str) -> float:
    """Bits per character of ``text``."""
    if not text:
        return 0.0
    total = len(text)
    return -sum(n / total * math.log2(n / total) for n in Counter(text).values())


def longest_run(text: str) -> int:
    """Length of the longest run of one repeated character."""
    best = run = 0
    previous = ""
    for char in text:
        run = run + 1 if char == previous else 1
        best = max(best, run)
        previous = char
    return best


def longest_sequence(text: str) -> int:
    """Length of the longest ascending or descending run of consecutive code points (abc, 321)."""
    best = 1 if text else 0
    up = down = 1
    for a, b in zip(text, text[1:], strict=False):
        step = ord(b) - ord(a)
        up = up + 1 if step == 1 else 1
        down = down + 1 if step == -1 else 1
        best = max(best, up, down)
    return best


def longest_repeat(text: str, max_period: int = 8) -> int:
    """Longest stretch where the text repeats itself with a short period (abcabcabc → 6)."""
    best = 0
    for period in range(2, max_period + 1):
        run = 0
        for i in range(len(text) - period):
            run = run + 1 if text[i] == text[i + period] else 0
            best = max(best, run)
    return best


def check_checksum(body: str, checksum: Checksum) -> bool:
    """True when the body carries a correct checksum for the scheme."""
    if checksum.scheme == "crc32-base62":
        expected_length = checksum.random_length + checksum.checksum_length
        if len(body) != expected_length:
            return False
        random_part = body[: checksum.random_length]
        return base62_crc32(random_part, checksum.checksum_length) == body[checksum.random_length :]
    return True


def check_plausibility(body: str, settings: Plausibility) -> str:
    """Return why ``body`` is implausible as a random token, or '' if it is plausible."""
    lowered = body.lower()
    for word in settings.placeholder_words:
        if word.lower() in lowered:
            return f"placeholder word {word!r}"
    if settings.max_run and longest_run(body) > settings.max_run:
        return "long run of one character"
    if settings.max_sequence and longest_sequence(body) > settings.max_sequence:
        return "long ascending or descending sequence"
    if settings.max_repeat and longest_repeat(body) > settings.max_repeat:
        return "short pattern repeated"
    if settings.min_entropy and shannon_entropy(body) < settings.min_entropy:
        return f"entropy below {settings.min_entropy}"
    return ""


def judge(secret: str, sha256: str, rule: Rule) -> Verdict:
    """Apply a rule's deny list, known examples, checksum and plausibility to one secret."""
    if sha256 in rule.known_examples_sha256:
        return Verdict(False, "known public example token")
    for pattern in rule.deny:
        if pattern.search(secret):
            return Verdict(False, f"matches deny pattern {pattern.pattern!r}")
    body = secret[rule.prefix_length :]
    if rule.checksum.scheme != "none":
        if not check_checksum(body, rule.checksum):
            return Verdict(False, f"{rule.checksum.scheme} checksum mismatch")
        return Verdict(True, checksum=ChecksumStatus.VALID)
    reason = check_plausibility(body, rule.plausibility)
    return Verdict(not reason, reason)
