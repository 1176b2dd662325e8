"""Static measures of a rule regex, read from its text before it is compiled: how large the
compiled program gets, how deep its groups nest, and the longest match it can make.

The ``regex`` module expands a counted repeat ``x{n}`` into ``n`` copies of ``x`` at compile time,
so ``((a{100}){100}){100}`` takes seconds (and more nesting, hours) inside ``regex.compile``, where
Ctrl-C cannot reach it. Measuring the text first lets a rule file with such a pattern be rejected
at once. The measures are upper bounds: the scan is conservative, never exact.
"""

from __future__ import annotations

import math
import re

from msgspec import Struct

_QUANTIFIER = re.compile(r"\{(\d*)(?:(,)(\d*))?\}")
_HEX_ESCAPES = {"x": 2, "u": 4, "U": 8}


class PatternSize(Struct, frozen=True):
    """``size``: atoms after expanding counted repeats by their lower bound; ``depth``: deepest
    group nesting; ``longest``: most bytes one match can span (``math.inf`` if unbounded)."""

    size: int
    depth: int
    longest: float


class _Frame(Struct):
    zero_width: bool = False
    size: int = 0
    width: float = 0.0
    best: float = 0.0
    last: tuple[int, float, float] | None = None  # the last atom's size and width, width before it

    def atom(self, size: int, width: float) -> None:
        self.last = (size, width, self.width)
        self.size += size
        self.width += width


def measure(pattern: str) -> PatternSize:
    """Measure ``pattern`` (regex syntax); unbalanced groups count as unbounded width."""
    stack = [_Frame()]
    depth = i = 0
    n = len(pattern)
    while i < n:
        char = pattern[i]
        top = stack[-1]
        if char == "\\":
            i, width = _escape(pattern, i)
            top.atom(1, width)
            continue
        if char == "[":
            i = _class_end(pattern, i)
            top.atom(1, 1)
            continue
        if char == "(":
            i, frame = _group_start(pattern, i, top)
            if frame is not None:
                stack.append(frame)
                depth = max(depth, len(stack) - 1)
            continue
        if char == ")" and len(stack) > 1:
            done = stack.pop()
            width = 0.0 if done.zero_width else max(done.best, done.width)
            stack[-1].atom(done.size, width)
            i += 1
            continue
        if char == "|":
            top.best, top.width, top.last = max(top.best, top.width), 0.0, None
            i += 1
            continue
        if char in "*+?{":
            bounds = _quantifier(pattern, i)
            if bounds is not None and top.last is not None:
                low, high, i = bounds
                size, width, before = top.last
                top.size += size * (max(low, 1) - 1)
                top.width = before + (width * high if high else 0.0)
                top.last = None
                if i < n and pattern[i] in "?+":  # lazy or possessive
                    i += 1
                continue
        top.atom(1, len(char.encode("utf-8", "surrogatepass")))
        i += 1
    root = stack[0]
    longest = max(root.best, root.width) if len(stack) == 1 else math.inf
    return PatternSize(sum(frame.size for frame in stack), depth, longest)


def _escape(pattern: str, i: int) -> tuple[int, float]:
    """End of the escape at ``i`` and the width of what it matches."""
    follower = pattern[i + 1 : i + 2]
    if follower in ("g", "k") or (follower.isdigit() and follower != "0"):
        end = pattern.find(">", i) + 1 if pattern[i + 2 : i + 3] == "<" else i + 2
        return max(end, i + 2), math.inf  # a backreference: as long as what it refers to
    if follower in "NpPx" and pattern[i + 2 : i + 3] == "{":
        end = pattern.find("}", i)
        return (end + 1 if end > 0 else len(pattern)), 4
    return i + 2 + _HEX_ESCAPES.get(follower, 0), 1


def _class_end(pattern: str, i: int) -> int:
    """Index just past the character class that starts at ``i``."""
    i += 1
    if pattern[i : i + 1] == "^":
        i += 1
    if pattern[i : i + 1] == "]":
        i += 1
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            i += 2
        elif char == "[" and pattern[i + 1 : i + 2] == ":":
            end = pattern.find(":]", i + 2)
            i = end + 2 if end > 0 else i + 1
        elif char == "]":
            return i + 1
        else:
            i += 1
    return i


def _group_start(pattern: str, i: int, parent: _Frame) -> tuple[int, _Frame | None]:
    """Parse a group opening at ``i``: the index after it and the frame to push (``None`` for a
    comment, a flag setting or a named backreference, which open no group)."""
    if pattern[i + 1 : i + 2] != "?":
        return i + 1, _Frame()
    rest = pattern[i + 2 : i + 4]
    if rest[:1] == "#":
        end = pattern.find(")", i)
        return (end + 1 if end > 0 else len(pattern)), None
    if rest[:1] in ("=", "!"):
        return i + 3, _Frame(zero_width=True)
    if rest in ("<=", "<!"):
        return i + 4, _Frame(zero_width=True)
    if rest in ("P=", "P>") or rest[:1] in ("&", "R") or rest[:1].isdigit():
        end = pattern.find(")", i)
        parent.atom(1, math.inf)
        return (end + 1 if end > 0 else len(pattern)), None
    if rest[:1] in ("<", "'") or rest == "P<":
        close = ">" if rest[-1:] == "<" or rest[:1] == "<" else "'"
        end = pattern.find(close, i + 2)
        return (end + 1 if end > 0 else len(pattern)), _Frame()
    j = i + 2
    while j < len(pattern) and (pattern[j].isalpha() or pattern[j] in "-^"):
        j += 1
    if pattern[j : j + 1] == ")":
        return j + 1, None  # (?i) sets flags for the rest of the pattern
    return j + (pattern[j : j + 1] in (":", ">")), _Frame()


def _quantifier(pattern: str, i: int) -> tuple[int, float, int] | None:
    """(lower bound, upper bound, index after) of a quantifier at ``i``, or ``None`` if the
    character there is a literal (``{`` not followed by a count)."""
    char = pattern[i]
    if char == "*":
        return 0, math.inf, i + 1
    if char == "+":
        return 1, math.inf, i + 1
    if char == "?":
        return 0, 1, i + 1
    found = _QUANTIFIER.match(pattern, i)
    if found is None or not (found.group(1) or found.group(3)):
        return None
    low = int(found.group(1) or 0)
    if found.group(2) is None:
        return low, low, found.end()
    return low, (int(found.group(3)) if found.group(3) else math.inf), found.end()
