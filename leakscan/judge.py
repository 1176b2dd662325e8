"""Offline checks on a candidate secret: checksum where the format has one, else plausibility."""

from __future__ import annotations

import math
import operator
from collections import Counter

from msgspec import Struct
from msgspec.structs import replace

from leakscan.checksums import SCHEMES
from leakscan.models import ChecksumStatus
from leakscan.rules import Checksum, Plausibility, Rule

DENY_TIMEOUT_S = 2.0  # the same bound as a rule's own regex search

# Every ASCII trigram of consecutive code points, ascending (abc) or descending (cba).
_STEP_TRIGRAMS = frozenset(
    (chr(c), chr(c + step), chr(c + 2 * step))
    for c in range(128)
    for step in (1, -1)
    if 0 <= c + 2 * step < 128
)


class Verdict(Struct, frozen=True):
    """Whether a candidate is kept, why not if not, and its checksum status."""

    keep: bool
    reason: str = ""
    checksum: ChecksumStatus = ChecksumStatus.NONE
    error: str = ""  # a deny pattern timed out: the deny list was not applied to this candidate


def shannon_entropy(text: str) -> float:
    """Bits per character of ``text``."""
    if not text:
        return 0.0
    total = len(text)
    return -sum(n / total * math.log2(n / total) for n in Counter(text).values())


def _longest_true_run(flags: bytes) -> int:
    """Length of the longest stretch of 1 bytes in a string of 0/1 bytes."""
    return max(map(len, flags.split(b"\0")))


def longest_run(text: str) -> int:
    """Length of the longest run of one repeated character."""
    if not text:
        return 0
    return _longest_true_run(bytes(map(operator.eq, text, text[1:]))) + 1


def longest_sequence(text: str) -> int:
    """Length of the longest ascending or descending run of consecutive code points, read
    character by character (abc, 321) or every other character (a1b2c3 → 123)."""
    best = 1 if text else 0
    for stride in (1, 2):
        for start in range(stride):
            part = text[start::stride]
            up = down = 1
            for a, b in zip(part, part[1:], strict=False):
                step = ord(b) - ord(a)
                up = up + 1 if step == 1 else 1
                down = down + 1 if step == -1 else 1
                best = max(best, up, down)
    return best


def count_steps(text: str) -> int:
    """How many neighbours differ by one code point (typed sequences such as Abcd1234Efgh)."""
    return sum(abs(ord(b) - ord(a)) == 1 for a, b in zip(text, text[1:], strict=False))


def longest_repeat(text: str, max_period: int = 20) -> int:
    """Longest stretch where the text repeats itself with a short period (abcabcabc → 6)."""
    best = 0
    for period in range(2, max_period + 1):
        best = max(best, _longest_true_run(bytes(map(operator.eq, text, text[period:]))))
    return best


def check_checksum(body: str, checksum: Checksum) -> bool:
    """True when the body carries a correct checksum for the scheme."""
    check = SCHEMES.get(checksum.scheme)
    return check is None or check(body, checksum.random_length, checksum.checksum_length)


def _may_sequence(body: str, trigrams: set[tuple[str, str, str]] | None, limit: int) -> bool:
    """False only when no sequence can be longer than ``limit``: one of 3+ has a step trigram,
    read character by character or every other character."""
    if trigrams is None or limit < 2 or not trigrams.isdisjoint(_STEP_TRIGRAMS):
        return True
    return not _STEP_TRIGRAMS.isdisjoint(zip(body, body[2:], body[4:], strict=False))


def _may_repeat(trigrams: set[tuple[str, str, str]] | None, length: int, limit: int) -> bool:
    """False only when no periodic stretch can exceed ``limit``: one of 3+ repeats a trigram."""
    return trigrams is None or limit < 2 or len(trigrams) < length - 2


def check_plausibility(body: str, settings: Plausibility) -> str:
    """Return why ``body`` is implausible as a random token, or '' if it is plausible.

    The trigram pre-checks only skip work whose answer they already know, so the verdict is the
    same as running every measure in full (random tokens rarely need the full measures).
    """
    lowered = body.lower()
    for word in settings.placeholder_words:
        if word.lower() in lowered:
            return f"placeholder word {word!r}"
    trigrams = set(zip(body, body[1:], body[2:], strict=False)) if body.isascii() else None
    if settings.max_run and longest_run(body) > settings.max_run:
        return "long run of one character"
    if (
        settings.max_sequence
        and _may_sequence(body, trigrams, settings.max_sequence)
        and longest_sequence(body) > settings.max_sequence
    ):
        return "long ascending or descending sequence"
    if (
        settings.max_repeat
        and _may_repeat(trigrams, len(body), settings.max_repeat)
        and longest_repeat(body) > settings.max_repeat
    ):
        return "short pattern repeated"
    if settings.max_steps and count_steps(body) > settings.max_steps:
        return "too many consecutive characters (typed pattern)"
    if settings.min_entropy and shannon_entropy(body) < settings.min_entropy:
        return f"entropy below {settings.min_entropy}"
    return ""


KNOWN_EXAMPLE = "known public example token"


def judge(
    secret: str, sha256: str, rule: Rule, *, timeout: float = DENY_TIMEOUT_S, deny: bool = True
) -> Verdict:
    """Apply a rule's deny list, known examples, checksum and plausibility to one secret.

    Each deny search is bounded by ``timeout``; one that runs out stops the deny list (the
    candidate is judged as if none matched, so a runaway pattern never hides a token) and the
    verdict carries the error. ``deny=False`` skips the deny list.
    """
    if sha256 in rule.known_examples_sha256:
        return Verdict(False, KNOWN_EXAMPLE)
    for pattern in rule.deny if deny else ():
        try:
            if pattern.search(secret, timeout=timeout):
                return Verdict(False, f"matches deny pattern {pattern.pattern!r}")
        except TimeoutError:
            verdict = _judge_body(secret, rule)
            return replace(verdict, error=f"deny pattern {pattern.pattern!r} timed out after {timeout}s")
    return _judge_body(secret, rule)


def _judge_body(secret: str, rule: Rule) -> Verdict:
    body = secret[rule.prefix_length :]
    if rule.checksum.scheme != "none":
        if not check_checksum(body, rule.checksum):
            return Verdict(False, f"{rule.checksum.scheme} checksum mismatch")
        return Verdict(True, checksum=ChecksumStatus.VALID)
    reason = check_plausibility(body, rule.plausibility)
    return Verdict(not reason, reason)
